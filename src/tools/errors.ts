/** Turns any error a tool handler throws into the text of an `isError` result. */
import { ConfigurationError, UserInputError } from '../errors.js';
import { KognicApiError, KognicAuthError, KognicNetworkError } from '../kognic/errors.js';
import { secrets } from '../log.js';

function hintForStatus(status: number): string {
  if (status === 401 || status === 403) {
    return 'Check that the API credentials belong to an account with access to this dataset and API permission.';
  }
  if (status === 404) {
    return 'Check the UUID: list_datasets and list_prediction_groups return the valid ones.';
  }
  if (status === 429) {
    return 'The API is rate limiting this client; wait a minute and try again.';
  }
  if (status >= 500) {
    return 'The Kognic API failed; try again later.';
  }
  return 'Fix the request as the message says and try again.';
}

export function formatToolError(error: unknown): string {
  let text: string;

  if (error instanceof UserInputError || error instanceof ConfigurationError || error instanceof KognicAuthError) {
    text = error.message;
  } else if (error instanceof KognicApiError) {
    text = `${error.message.replace(/[.\s]+$/, '')}. ${hintForStatus(error.status)}`;
  } else if (error instanceof KognicNetworkError) {
    text = `${error.message}. Check the network connection and the dataset API URL, then try again.`;
  } else if (error instanceof Error && error.name === 'AbortError') {
    text = 'The request was cancelled.';
  } else if (error instanceof Error) {
    text = `Unexpected error: ${error.message}`;
  } else {
    text = `Unexpected error: ${String(error)}`;
  }

  return secrets.redact(text);
}
