/**
 * The uploader's decision after a prediction request fails: retry it, record a final outcome, or
 * stop the whole upload. A POST that may have reached the API is never retried, because every
 * POST creates a new prediction.
 */
import { KognicApiError, KognicAuthError, KognicNetworkError, KognicResponseError } from '../kognic/errors.js';
import { backoffDelayMs } from '../kognic/retry.js';

export interface RetryLimits {
  /** 429 responses accepted for one item before it fails with `rate_limited`. */
  maxRateLimitedAttempts: number;
  /** 502, 503 and 504 responses accepted for one item before it fails with `server_error`. */
  maxServerErrorAttempts: number;
  /** Requests that never reached the API accepted for one item before it fails with `network_error`. */
  maxNetworkAttempts: number;
  /** First backoff delay, in ms; each retry doubles it, with full jitter. */
  backoffBaseMs: number;
  /** Maximum backoff delay, in ms. */
  backoffMaxMs: number;
}

/**
 * - 8 rate-limited attempts: a 429 means the API did nothing and requests a pause, so waiting is
 *   safe. Without `Retry-After`, the 7 backoffs between 8 attempts add up to at most 45.5 s.
 * - 4 server-error and 4 network attempts (3 retries): the count kognic-auth 4.x's API clients
 *   use for 502, 503 and 504, meant to ride out a brief outage or a dropped connection.
 * - 500 ms to 15 s backoff: the defaults of `backoffDelayMs`, short for one flaky response and
 *   long enough to relieve an overloaded API.
 */
export const DEFAULT_RETRY_LIMITS: RetryLimits = {
  maxRateLimitedAttempts: 8,
  maxServerErrorAttempts: 4,
  maxNetworkAttempts: 4,
  backoffBaseMs: 500,
  backoffMaxMs: 15_000,
};

/** Statuses retried as `server_error`. */
const RETRYABLE_SERVER_STATUSES: ReadonlySet<number> = new Set([502, 503, 504]);

/** Retries of one item so far, by cause. */
export interface RetryCounters {
  rateLimited: number;
  serverError: number;
  network: number;
}

export type RetryCause = 'rate_limited' | 'server_error' | 'network_error';

export type FailureDecision =
  /** Send the item again after `delayMs`; for `rate_limited` every worker pauses that long. */
  | { action: 'retry'; cause: RetryCause; delayMs: number; httpStatus?: number; error: string }
  /** The prediction was certainly not created. */
  | { action: 'failed'; reason: string; httpStatus?: number; error: string }
  /** The request may have created the prediction; it must not be resent. */
  | { action: 'unknown'; reason: string; error: string }
  /**
   * Nothing more can be sent. With `httpStatus`, the API rejected this request (a 404 for a
   * missing group, say), so the item failed. Without it, the item was not sent, as after
   * rejected credentials.
   */
  | { action: 'stop'; error: string; reason?: string; httpStatus?: number };

/**
 * Decides what follows a failed request for one item, and counts the failure in `counters`.
 * `random` feeds the backoff jitter, for tests.
 */
export function decideAfterFailure(
  error: unknown,
  counters: RetryCounters,
  limits: RetryLimits,
  random?: () => number,
): FailureDecision {
  const backoff = (attempt: number) =>
    backoffDelayMs(attempt, { baseMs: limits.backoffBaseMs, maxMs: limits.backoffMaxMs, ...(random ? { random } : {}) });

  if (error instanceof KognicApiError) {
    return decideAfterApiError(error, counters, limits, backoff);
  }

  if (error instanceof KognicAuthError) {
    if (error.fatal) {
      return { action: 'stop', error: error.message };
    }

    // The token request failed (429, 5xx or a network error), so the prediction request was never sent.
    counters.network += 1;
    if (counters.network >= limits.maxNetworkAttempts) {
      return { action: 'failed', reason: 'auth_unavailable', error: `${error.message}; gave up after ${counters.network} attempts, and the prediction was not sent` };
    }
    return { action: 'retry', cause: 'network_error', delayMs: backoff(counters.network), error: error.message };
  }

  if (error instanceof KognicNetworkError) {
    if (error.requestSent) {
      return {
        action: 'unknown',
        reason: 'no_response',
        error: `${error.message}; the request was sent, so the prediction may or may not exist, and it was not resent to avoid a duplicate`,
      };
    }

    counters.network += 1;
    if (counters.network >= limits.maxNetworkAttempts) {
      return { action: 'failed', reason: 'network_error', error: `${error.message}; gave up after ${counters.network} attempts that never reached the API` };
    }
    return { action: 'retry', cause: 'network_error', delayMs: backoff(counters.network), error: error.message };
  }

  if (error instanceof KognicResponseError) {
    return {
      action: 'unknown',
      reason: 'unreadable_response',
      error: `${error.message}; the API responded with HTTP ${error.status}, so the prediction was probably created, but its UUID is unknown. It was not resent`,
    };
  }

  // Anything else may come after the API acted on the request.
  const message = error instanceof Error ? error.message : String(error);
  return {
    action: 'unknown',
    reason: 'unexpected_error',
    error: `${message}; the prediction may or may not exist, so it was not resent`,
  };
}

function decideAfterApiError(
  error: KognicApiError,
  counters: RetryCounters,
  limits: RetryLimits,
  backoff: (attempt: number) => number,
): FailureDecision {
  const status = error.status;
  const trimmedMessage = error.apiMessage?.replace(/[.\s]+$/, '') ?? '';
  const apiMessage = trimmedMessage !== '' ? `: ${trimmedMessage}` : '';

  if (status === 429) {
    counters.rateLimited += 1;
    if (counters.rateLimited >= limits.maxRateLimitedAttempts) {
      return {
        action: 'failed',
        reason: 'rate_limited',
        httpStatus: status,
        error: `The Kognic API responded with HTTP 429 (rate limited) ${counters.rateLimited} times${apiMessage}; the prediction was not created. Upload again later or with fewer connections.`,
      };
    }
    return { action: 'retry', cause: 'rate_limited', delayMs: error.retryAfterMs ?? backoff(counters.rateLimited), httpStatus: status, error: error.message };
  }

  // NOTE: a 502 or 504 from a gateway could in theory follow a POST that reached the API and
  // created the prediction, and then the retry creates a duplicate. kognic-auth 4.x's async API
  // client retries these statuses for POST as well.
  if (RETRYABLE_SERVER_STATUSES.has(status)) {
    counters.serverError += 1;
    if (counters.serverError >= limits.maxServerErrorAttempts) {
      return {
        action: 'failed',
        reason: 'server_error',
        httpStatus: status,
        error: `The Kognic API responded with HTTP ${status} ${counters.serverError} times${apiMessage}; the prediction was not created, so a rerun uploads it again.`,
      };
    }
    return { action: 'retry', cause: 'server_error', delayMs: error.retryAfterMs ?? backoff(counters.serverError), httpStatus: status, error: error.message };
  }

  // NOTE: the API does not document its 404s. On this route a 404 is taken to mean that the
  // prediction group does not exist, which no other item can fix, so the upload stops instead
  // of sending every item to the same error. A scene outside the group's dataset gets 400 in
  // the sandbox; if the real API returned 404 for it, this would stop a good upload.
  if (status === 404) {
    return {
      action: 'stop',
      reason: 'group_not_found',
      httpStatus: status,
      error:
        `The Kognic API returned HTTP 404 for the prediction group${apiMessage}. ` +
        'Check predictionGroupUuid: list_prediction_groups returns the groups of a dataset, and create_prediction_group makes one.',
    };
  }

  // NOTE: other 5xx statuses are treated as "not created" and not retried; the API does not
  // document whether a 500 can follow a partly done request.
  const hint = status === 401 || status === 403 ? ' Check that the API credentials may upload to this prediction group.' : '';
  return {
    action: 'failed',
    reason: `http_${status}`,
    httpStatus: status,
    error: `The Kognic API rejected the prediction with HTTP ${status}${apiMessage}.${hint}`,
  };
}
