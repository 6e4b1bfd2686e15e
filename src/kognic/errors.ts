/** A non-2xx answer from the Kognic API. `apiMessage` is the `message` field of the body, cut short. */
export class KognicApiError extends Error {
  override readonly name = 'KognicApiError';

  constructor(
    readonly status: number,
    readonly method: string,
    readonly path: string,
    readonly apiMessage: string | undefined,
    /** Delay the server asked for with `Retry-After`, when it sent a valid one. */
    readonly retryAfterMs?: number,
  ) {
    super(
      `Kognic API returned HTTP ${status} for ${method} ${path}` +
        (apiMessage ? `: ${apiMessage}` : ''),
    );
  }
}

/**
 * The auth server rejected the credentials or could not issue a token. Retrying does not help
 * when `fatal` is true (for example `invalid_client`).
 */
export class KognicAuthError extends Error {
  override readonly name = 'KognicAuthError';

  constructor(
    message: string,
    readonly status: number | undefined,
    readonly oauthError: string | undefined,
    readonly fatal: boolean,
  ) {
    super(message);
  }
}

/**
 * The request failed below HTTP: no connection, a reset, a timeout. `requestSent` is false only
 * when the request certainly never reached the server (for example the connection was refused),
 * so a caller may resend a POST only then.
 */
export class KognicNetworkError extends Error {
  override readonly name = 'KognicNetworkError';

  constructor(
    message: string,
    readonly requestSent: boolean,
    /** The undici or system error code, such as `ECONNREFUSED` or `UND_ERR_SOCKET`. */
    readonly code: string | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
