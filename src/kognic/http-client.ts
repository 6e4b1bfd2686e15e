/**
 * The HTTP layer of the Kognic dataset API. One undici Pool keeps the connections to the API
 * origin alive, and every request carries a bearer token, renewed once on 401. Bodies are JSON,
 * and the `{"data": ...}` envelope is removed. Requests that are safe to repeat are retried, and
 * errors name the endpoint, the status and the API's message.
 */
import type { IncomingHttpHeaders } from 'node:http';

import type { Dispatcher, Pool } from 'undici';


import { ConfigurationError } from '../errors.js';
import type { Logger } from '../log.js';
import { secrets } from '../log.js';
import { USER_AGENT } from '../version.js';
import {
  abortErrorFrom,
  errorCode,
  isAbortError,
  KognicApiError,
  KognicAuthError,
  KognicNetworkError,
  KognicResponseError,
  toNetworkError,
} from './errors.js';
import { backoffDelayMs, parseRetryAfter, RETRYABLE_STATUSES, waitMs } from './retry.js';
import type { TokenProvider } from './token-provider.js';
import { loadUndici } from './undici.js';

/** The dataset API's documented concurrency limit: Kognic advises against more than 10 connections. */
export const MAX_CONNECTIONS = 10;

/** Default headers and body timeout of one request, in milliseconds. */
export const REQUEST_TIMEOUT_MS = 60_000;

/** Default number of attempts for a request with `retry: 'safe'`, the first one included. */
export const DEFAULT_MAX_ATTEMPTS = 4;

/**
 * How long requests carry `Connection: close` after the server closed a connection without
 * announcing it, in milliseconds. See `noteDisconnect`. Five minutes keeps a server that closes
 * after every response from racing each minute, and costs a healthy server that dropped one
 * connection only five minutes without keep-alive.
 */
export const NO_REUSE_AFTER_PEER_CLOSE_MS = 5 * 60_000;

/** Max size of a success body read into memory, in bytes; a larger one fails the request. */
export const MAX_RESPONSE_BYTES = 64 * 1024 * 1024;

/** Bytes of an error body kept for its message; the rest is read and discarded. */
const MAX_ERROR_BODY_BYTES = 64 * 1024;

/** Max length of the API error message put into a KognicApiError, in characters. */
const MAX_API_MESSAGE_CHARS = 300;

/** Error codes with which undici reports a connection that the server closed or reset. */
const PEER_CLOSE_CODES: ReadonlySet<string> = new Set(['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE']);

export interface KognicHttpClientOptions {
  /** Dataset API URL, for example `https://dataset.app.kognic.com`; a path prefix is kept. */
  baseUrl: string;
  tokenProvider: TokenProvider;
  logger: Logger;
  /** 1..MAX_CONNECTIONS, default MAX_CONNECTIONS. */
  maxConnections?: number;
  /** Headers and body timeout, in milliseconds; default REQUEST_TIMEOUT_MS. */
  requestTimeoutMs?: number;
  /** Attempts for `retry: 'safe'`, the first one included; default DEFAULT_MAX_ATTEMPTS. */
  maxAttempts?: number;
}

export interface RequestOptions {
  method: 'GET' | 'POST';
  /** Path below the base URL, such as `/v2/datasets`; used as is in errors and logs. */
  path: string;
  /** Serialised as JSON. */
  body?: unknown;
  /** Already-serialised JSON, sent as is; wins over `body`. */
  rawBody?: string;
  signal?: AbortSignal;
  /**
   * `'safe'` retries 429 (after `Retry-After`), 502, 503, 504, network errors and failed token
   * requests; `'none'` throws at once. Default `'safe'` for GET and `'none'` for POST, because a
   * repeated POST creates a second resource.
   */
  retry?: 'safe' | 'none';
  /** Called each time undici starts to write this request to a connection, so once per attempt sent. */
  onWrite?: () => void;
}

export interface ApiResponse<T> {
  data: T;
  status: number;
  /** HTTP requests started for this call: retries and the resend after a 401 included. */
  attempts: number;
}

/** One request and its response as undici delivered them. */
interface Exchange {
  status: number;
  headers: IncomingHttpHeaders;
  /** The body, or its first MAX_ERROR_BODY_BYTES for an error status. */
  body: Buffer;
  /** Size of the whole body, in bytes. */
  bodyBytes: number;
}

function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function cut(text: string, maxChars: number): string {
  return text.length <= maxChars ? text : `${text.slice(0, maxChars)}…`;
}

/**
 * Returns the message of an error body: the JSON `message` (or `error_description`, `error`),
 * else the text unless it is HTML, cut to MAX_API_MESSAGE_CHARS. Secrets are redacted.
 */
export function extractApiMessage(body: Buffer, bodyBytes: number, contentType: string | undefined): string | undefined {
  const text = body.toString('utf8').trim();
  if (text === '') {
    return undefined;
  }

  try {
    const parsed = JSON.parse(text) as unknown;
    if (typeof parsed === 'object' && parsed !== null) {
      const fields = parsed as Record<string, unknown>;
      const message = [fields.message, fields.error_description, fields.error].find(
        (value): value is string => typeof value === 'string' && value !== '',
      );
      if (message !== undefined) {
        return secrets.redact(cut(message, MAX_API_MESSAGE_CHARS));
      }
    }
  } catch {
    // Not JSON: the text itself is the message, unless it is an HTML page.
  }

  if (contentType?.toLowerCase().includes('text/html') || text.startsWith('<')) {
    return `HTML error page (${bodyBytes} bytes)`;
  }
  return secrets.redact(cut(text.replace(/\s+/g, ' '), MAX_API_MESSAGE_CHARS));
}

/** Removes the `{"data": ...}` envelope of a 2xx body; an empty body gives undefined. */
function unwrapData(exchange: Exchange, method: string, path: string): unknown {
  const text = exchange.body.toString('utf8');
  if (text.trim() === '') {
    return undefined;
  }

  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new KognicResponseError(
      `Kognic API returned HTTP ${exchange.status} for ${method} ${path} with a body that is not JSON (${exchange.bodyBytes} bytes); check the API URL.`,
      exchange.status,
      method,
      path,
    );
  }

  // NOTE: the envelope is inferred from Kognic's docs and kognic-auth, which unwrap `data`; the
  // API's schemas are not published.
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed) || !('data' in parsed)) {
    throw new KognicResponseError(
      `Kognic API returned HTTP ${exchange.status} for ${method} ${path} without the expected {"data": ...} envelope; check the API URL.`,
      exchange.status,
      method,
      path,
    );
  }
  return (parsed as { data: unknown }).data;
}

/** Talks to the Kognic dataset API; see the module comment. */
export class KognicHttpClient {
  /** Created on first use, because undici is loaded on first use. */
  private readonly pool: Promise<Pool>;
  private readonly origin: string;
  private readonly host: string;
  private readonly basePath: string;
  private readonly tokenProvider: TokenProvider;
  private readonly logger: Logger;
  private readonly maxAttempts: number;

  private sunsetWarned = false;
  private noReuseUntilMs = 0;
  private shuttingDown = false;

  constructor(options: KognicHttpClientOptions) {
    const maxConnections = options.maxConnections ?? MAX_CONNECTIONS;
    if (!Number.isInteger(maxConnections) || maxConnections < 1 || maxConnections > MAX_CONNECTIONS) {
      throw new ConfigurationError(
        `maxConnections must be an integer from 1 to ${MAX_CONNECTIONS} (the dataset API's limit); got ${maxConnections}.`,
      );
    }

    const maxAttempts = options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
    if (!Number.isInteger(maxAttempts) || maxAttempts < 1) {
      throw new ConfigurationError(`maxAttempts must be an integer of at least 1; got ${maxAttempts}.`);
    }

    const url = new URL(options.baseUrl);
    const timeoutMs = options.requestTimeoutMs ?? REQUEST_TIMEOUT_MS;

    this.origin = url.origin;
    this.host = url.host;
    this.basePath = url.pathname.replace(/\/+$/, '');
    this.tokenProvider = options.tokenProvider;
    this.logger = options.logger;
    this.maxAttempts = maxAttempts;

    this.pool = loadUndici().then(({ Pool }) => {
      const pool = new Pool(this.origin, {
        connections: maxConnections,
        pipelining: 1,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
      pool.on('disconnect', (_origin, _targets, error) => this.noteDisconnect(error));
      return pool;
    });
  }

  /**
   * Sends one API request and returns the unwrapped `data`. Throws KognicApiError for a non-2xx
   * response, KognicNetworkError below HTTP, KognicAuthError when no token can be had,
   * KognicResponseError for a 2xx body without the envelope, and an AbortError when `signal` aborts.
   */
  async request<T = unknown>(options: RequestOptions): Promise<ApiResponse<T>> {
    const { method, path, signal } = options;
    const retry = options.retry ?? (method === 'GET' ? 'safe' : 'none');
    const maxAttempts = retry === 'safe' ? this.maxAttempts : 1;
    const body = options.rawBody ?? (options.body === undefined ? undefined : JSON.stringify(options.body));

    let attempt = 1;
    let sent = 0;
    let tokenRenewed = false;

    for (;;) {
      if (signal?.aborted) {
        throw abortErrorFrom(signal);
      }

      let token: string;
      let exchange: Exchange;
      try {
        token = await this.tokenProvider.getToken(signal);
        sent += 1;
        exchange = await this.send(method, path, body, token, signal, options.onWrite);
      } catch (error) {
        const retryable =
          (error instanceof KognicNetworkError || (error instanceof KognicAuthError && !error.fatal)) &&
          !this.shuttingDown;
        if (retryable && attempt < maxAttempts) {
          await this.pauseBeforeRetry(options, attempt, backoffDelayMs(attempt), errorCode(error) ?? (error as Error).name);
          attempt += 1;
          continue;
        }
        throw error;
      }

      const { status } = exchange;
      if (status >= 200 && status < 300) {
        return { data: unwrapData(exchange, method, path) as T, status, attempts: sent };
      }

      if (status === 401 && !tokenRenewed) {
        // A 401 means the request was not carried out, so it is resent once whatever the method.
        tokenRenewed = true;
        this.tokenProvider.invalidate(token);
        this.logger.info('Kognic API rejected the access token; renewing it and resending once', { method, path });
        continue;
      }

      const apiMessage = extractApiMessage(exchange.body, exchange.bodyBytes, headerValue(exchange.headers, 'content-type'));
      const retryAfterMs = parseRetryAfter(exchange.headers['retry-after'], Date.now());
      const error = new KognicApiError(status, method, path, apiMessage, retryAfterMs);

      const retryableStatus = status === 429 || RETRYABLE_STATUSES.has(status);
      if (retry === 'safe' && retryableStatus && attempt < maxAttempts) {
        await this.pauseBeforeRetry(options, attempt, retryAfterMs ?? backoffDelayMs(attempt), status);
        attempt += 1;
        continue;
      }
      throw error;
    }
  }

  /** Closes the connections after the requests in flight have finished. */
  async close(): Promise<void> {
    this.shuttingDown = true;
    await (await this.pool).close();
  }

  /** Closes every connection now; requests in flight fail with KognicNetworkError. */
  async destroy(): Promise<void> {
    this.shuttingDown = true;
    await (await this.pool).destroy();
  }

  private async pauseBeforeRetry(
    options: RequestOptions,
    attempt: number,
    delayMs: number,
    reason: number | string,
  ): Promise<void> {
    this.logger.info('Retrying Kognic API request', {
      method: options.method,
      path: options.path,
      status: typeof reason === 'number' ? reason : undefined,
      error: typeof reason === 'string' ? reason : undefined,
      attempt,
      delayMs,
    });
    await waitMs(delayMs, options.signal);
  }

  /** Sends one request and collects its response; throws KognicNetworkError or an AbortError. */
  private async send(
    method: string,
    path: string,
    body: string | undefined,
    token: string,
    signal: AbortSignal | undefined,
    onWrite: (() => void) | undefined,
  ): Promise<Exchange> {
    const headers: Record<string, string> = {
      authorization: `Bearer ${token}`,
      accept: 'application/json',
      'user-agent': USER_AGENT,
    };
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
    }

    const startedAt = Date.now();
    const dispatchOptions: Dispatcher.DispatchOptions = {
      method,
      path: `${this.basePath}/${path.replace(/^\/+/, '')}`,
      headers,
      body: body ?? null,
    };
    if (Date.now() < this.noReuseUntilMs) {
      dispatchOptions.reset = true;
    }

    try {
      const exchange = await this.dispatch(dispatchOptions, signal, method, path, onWrite);
      this.logger.debug('Kognic API request', { method, path, status: exchange.status, ms: Date.now() - startedAt });
      this.warnIfSunset(path, exchange.headers);
      return exchange;
    } catch (error) {
      if (!isAbortError(error)) {
        this.logger.debug('Kognic API request failed', { method, path, error: errorCode(error), ms: Date.now() - startedAt });
      }
      throw error;
    }
  }

  /**
   * Runs one request through the pool with a dispatch handler, which records whether the
   * request was written. undici 7 calls `onRequestStart` on a connected socket right before it writes
   * the request (it replaced `onConnect`; the `onRequestSent` hook is not offered to handlers
   * of this API in version 7). An error before that call means no byte reached the server, for
   * example a refused or timed-out connect, and `requestSent` is false.
   */
  private async dispatch(
    options: Dispatcher.DispatchOptions,
    signal: AbortSignal | undefined,
    method: string,
    path: string,
    onWrite: (() => void) | undefined,
  ): Promise<Exchange> {
    const pool = await this.pool;
    return new Promise<Exchange>((resolve, reject) => {
      // Created only when needed, because an Error captures a stack trace.
      let tooLarge: Error | undefined;
      let settled = false;
      let requestWritten = false;
      let controller: Dispatcher.DispatchController | undefined;
      let status = 0;
      let headers: IncomingHttpHeaders = {};
      const chunks: Buffer[] = [];
      let keptBytes = 0;
      let bodyBytes = 0;

      const settle = (): boolean => {
        if (settled) {
          return false;
        }
        settled = true;
        signal?.removeEventListener('abort', onAbort);
        return true;
      };

      const onAbort = (): void => {
        if (settle()) {
          const error = abortErrorFrom(signal!);
          controller?.abort(error);
          reject(error);
        }
      };

      const handler: Dispatcher.DispatchHandler = {
        onRequestStart: (requestController) => {
          controller = requestController;
          if (settled) {
            // Aborted while queued: stop it before any byte is written.
            requestController.abort(abortErrorFrom(signal!));
            return;
          }
          requestWritten = true;
          onWrite?.();
        },
        onResponseStart: (_controller, statusCode, responseHeaders) => {
          status = statusCode;
          headers = responseHeaders;
        },
        onResponseData: (responseController, chunk) => {
          bodyBytes += chunk.length;
          const isError = status < 200 || status >= 300;
          const limit = isError ? MAX_ERROR_BODY_BYTES : MAX_RESPONSE_BYTES;
          if (!isError && bodyBytes > limit) {
            tooLarge = new Error(`response body exceeds ${MAX_RESPONSE_BYTES} bytes`);
            responseController.abort(tooLarge);
            return;
          }
          if (keptBytes < limit) {
            const head = chunk.subarray(0, limit - keptBytes);
            chunks.push(head);
            keptBytes += head.length;
          }
        },
        onResponseEnd: () => {
          if (settle()) {
            resolve({ status, headers, body: Buffer.concat(chunks), bodyBytes });
          }
        },
        onResponseError: (_controller, error) => {
          if (!settle()) {
            return;
          }
          if (tooLarge !== undefined && error === tooLarge) {
            reject(
              new KognicResponseError(
                `Kognic API response to ${method} ${path} is larger than ${MAX_RESPONSE_BYTES} bytes; it was not read.`,
                status,
                method,
                path,
              ),
            );
            return;
          }
          reject(toNetworkError(error, this.host, requestWritten, `${method} ${path}`));
        },
      };

      if (signal?.aborted) {
        settled = true;
        reject(abortErrorFrom(signal));
        return;
      }
      signal?.addEventListener('abort', onAbort, { once: true });
      pool.dispatch(options, handler);
    });
  }

  /**
   * Reacts to a connection that the server closed without a `Connection: close` header. Before
   * undici (7.30) reuses an idle keep-alive connection it yields once to the event loop, so a close
   * that has already arrived is seen and the request goes to a new connection. A close that
   * arrives after that check meets a request already written, which fails with UND_ERR_SOCKET
   * ("other side closed"). The server may still have read it, because a Node.js server that
   * called `socket.end()` handles a request that arrives afterwards, so a resent POST could
   * create a duplicate. So once the server closes a connection on its own, every request
   * carries `Connection: close` (undici's `reset`) for NO_REUSE_AFTER_PEER_CLOSE_MS. Keep-alive
   * stays on for servers that never do this.
   *
   * NOTE: the first reuse of each connection, before any close was seen, can still lose that
   * race. Measured on 2 cores with 10 callers sending 30 POSTs through a new client: with the
   * sandbox in the same process no POST of 6,000 failed, with it in another process 1 to 6 % did.
   */
  private noteDisconnect(error: Error): void {
    const code = errorCode(error);
    if (this.shuttingDown || code === undefined || !PEER_CLOSE_CODES.has(code)) {
      return;
    }

    const now = Date.now();
    if (now >= this.noReuseUntilMs) {
      this.logger.warn('Kognic API server closed a connection without announcing it; not reusing connections for a while', {
        host: this.host,
        error: `${code}: ${error.message}`,
        noReuseMs: NO_REUSE_AFTER_PEER_CLOSE_MS,
      });
    }
    this.noReuseUntilMs = now + NO_REUSE_AFTER_PEER_CLOSE_MS;
  }

  private warnIfSunset(path: string, headers: IncomingHttpHeaders): void {
    const sunsetDate = headerValue(headers, 'sunset-date');
    if (sunsetDate === undefined || this.sunsetWarned) {
      return;
    }

    this.sunsetWarned = true;
    this.logger.warn(`Kognic API ${path} is deprecated and will be removed on ${sunsetDate}`, { path, sunsetDate });
  }
}
