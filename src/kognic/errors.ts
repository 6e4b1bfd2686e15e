/** A non-2xx response from the Kognic API. `apiMessage` is the `message` field of the body, cut short. */
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
    options?: { cause?: unknown },
  ) {
    super(message, options);
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

/**
 * A 2xx response from the Kognic API whose body is not what the endpoint returns: not JSON, or
 * without the `{"data": ...}` envelope, or with `data` of the wrong type.
 */
export class KognicResponseError extends Error {
  override readonly name = 'KognicResponseError';

  constructor(
    message: string,
    readonly status: number,
    readonly method: string,
    readonly path: string,
  ) {
    super(message);
  }
}

/** Codes of failures that happen before a connection exists, so no request byte was written. */
const CONNECT_ERROR_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** Returns the `code` of an undici or system error, looking inside an AggregateError (happy eyeballs). */
export function errorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) {
    return undefined;
  }

  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') {
    return code;
  }

  if (error instanceof AggregateError) {
    return errorCode(error.errors[0]);
  }
  return undefined;
}

function describeFailure(code: string | undefined, target: string, requestSent: boolean): string {
  switch (code) {
    case 'ECONNREFUSED':
      return `Connection to ${target} was refused; check the URL and that the server is running`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `Could not resolve the host name of ${target}; check the URL and the network`;
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `${target} is unreachable from this machine; check the network`;
    case 'UND_ERR_CONNECT_TIMEOUT':
      return `Connecting to ${target} timed out`;
    case 'UND_ERR_HEADERS_TIMEOUT':
      return `${target} sent no response headers within the request timeout`;
    case 'UND_ERR_BODY_TIMEOUT':
      return `${target} stopped sending the response body for longer than the request timeout`;
    case 'UND_ERR_SOCKET':
      return requestSent
        ? `Connection to ${target} was closed by the server before a response arrived`
        : `Connection to ${target} was closed before the request was sent`;
    case 'ECONNRESET':
    case 'EPIPE':
      return requestSent
        ? `Connection to ${target} was reset before a response arrived`
        : `Connection to ${target} was reset while connecting`;
    case 'UND_ERR_DESTROYED':
    case 'UND_ERR_CLOSED':
      return `The HTTP client for ${target} was closed before the request finished`;
    default:
      return `Request to ${target} failed`;
  }
}

/**
 * Wraps an undici or system error in a KognicNetworkError whose message names the cause, for
 * example "GET /v2/datasets failed: Connection to 127.0.0.1:4455 was refused; ... (ECONNREFUSED: ...)".
 * `target` is the host and port; `requestSent` is the caller's knowledge, and a connect failure
 * always counts as not sent. `operation`, when given, starts the message.
 */
export function toNetworkError(
  error: unknown,
  target: string,
  requestSent: boolean,
  operation?: string,
): KognicNetworkError {
  const code = errorCode(error);
  const sent = requestSent && (code === undefined || !CONNECT_ERROR_CODES.has(code));

  let detail = error instanceof Error ? error.message : String(error);
  if (detail === '' && error instanceof AggregateError) {
    detail = error.errors.map((inner: unknown) => (inner instanceof Error ? inner.message : String(inner))).join('; ');
  }

  const cause = code === undefined ? detail : `${code}: ${detail}`;
  const prefix = operation === undefined ? '' : `${operation} failed: `;
  return new KognicNetworkError(`${prefix}${describeFailure(code, target, sent)} (${cause})`, sent, code, {
    cause: error,
  });
}

/** Returns the error to throw when `signal` aborted an operation: its reason when that is an AbortError. */
export function abortErrorFrom(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof Error && reason.name === 'AbortError') {
    return reason;
  }

  const error = new Error('The operation was aborted', { cause: reason });
  error.name = 'AbortError';
  return error;
}

export function isAbortError(error: unknown): boolean {
  return error instanceof Error && error.name === 'AbortError';
}
