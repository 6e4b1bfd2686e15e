/**
 * Errors that the tool layer turns into an `isError` result for the model. Each message names
 * what failed, on which value, and what to do next.
 */

/** An argument of a tool call is invalid; the message names the field and the fix. */
export class UserInputError extends Error {
  override readonly name = 'UserInputError';
}

/** The server is not set up to do what was requested, for example no credentials are configured. */
export class ConfigurationError extends Error {
  override readonly name = 'ConfigurationError';
}
