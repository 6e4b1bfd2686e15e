/**
 * OAuth2 access tokens for the Kognic API, fetched the way kognic-auth fetches them: the
 * client credentials grant, form-encoded with the client id and secret in the body, renewed
 * with the refresh token grant shortly before expiry. One token request at a time serves every
 * caller, and a rejection of the client credentials is remembered so that it costs one request.
 */
import type { Pool } from 'undici';

import type { Logger } from '../log.js';
import { secrets } from '../log.js';
import { USER_AGENT } from '../version.js';
import type { KognicCredentials } from './credentials.js';
import { abortErrorFrom, KognicAuthError, toNetworkError } from './errors.js';
import { loadUndici } from './undici.js';

/** A token is renewed this long before it expires, in milliseconds (kognic-auth uses 60 s too). */
export const TOKEN_RENEWAL_MARGIN_MS = 60_000;

/** Headers and body timeout of a token request, in milliseconds. */
export const TOKEN_REQUEST_TIMEOUT_MS = 30_000;

/** Lifetime assumed for a token whose response has no `expires_in`, in seconds. */
export const ASSUMED_TOKEN_LIFETIME_SECONDS = 300;

/** The token endpoint path, appended to the auth URL. */
export const TOKEN_ENDPOINT_PATH = '/v1/auth/oauth/token';

/** Connections to the auth server; token requests are single-flight, so two are plenty. */
const AUTH_CONNECTIONS = 2;

/** OAuth error codes that mean the client id or secret is wrong; retrying cannot help. */
const CLIENT_REJECTED_ERRORS: ReadonlySet<string> = new Set(['invalid_client', 'unauthorized_client']);

/** Max length of the error text taken from an auth response, in characters. */
const MAX_ERROR_TEXT_CHARS = 200;

export interface TokenProviderOptions {
  /** Base URL of the auth server, for example `https://auth.app.kognic.com`. */
  authUrl: string;
  credentials: KognicCredentials;
  logger: Logger;
  /** Headers and body timeout of each token request; default TOKEN_REQUEST_TIMEOUT_MS. */
  requestTimeoutMs?: number;
  /** Clock in epoch milliseconds; tests pass a fake one. */
  now?: () => number;
}

type GrantType = 'client_credentials' | 'refresh_token';

interface IssuedToken {
  accessToken: string;
  expiresAtMs: number;
}

/** The token endpoint's response, before it is checked. */
interface TokenResponse {
  status: number;
  body: Record<string, unknown> | undefined;
  text: string;
}

function joinUrl(baseUrl: string, suffix: string): URL {
  const url = new URL(baseUrl);
  url.pathname = `${url.pathname.replace(/\/+$/, '')}${suffix}`;
  return url;
}

function cut(text: string, maxChars: number): string {
  return text.length <= maxChars ? text : `${text.slice(0, maxChars)}…`;
}

/** Fetches, caches and renews access tokens; see the module comment. */
export class TokenProvider {
  private readonly tokenUrl: URL;
  /** Created on first use, because undici is loaded on first use. */
  private readonly pool: Promise<Pool>;
  private readonly credentials: KognicCredentials;
  private readonly logger: Logger;
  private readonly now: () => number;

  private current: IssuedToken | undefined;
  private refreshToken: string | undefined;
  private inFlight: Promise<IssuedToken> | undefined;
  /** A rejection that no retry can fix; every later call throws it at once. */
  private fatalError: KognicAuthError | undefined;

  constructor(options: TokenProviderOptions) {
    const timeoutMs = options.requestTimeoutMs ?? TOKEN_REQUEST_TIMEOUT_MS;

    this.tokenUrl = joinUrl(options.authUrl, TOKEN_ENDPOINT_PATH);
    const origin = this.tokenUrl.origin;
    this.pool = loadUndici().then(
      ({ Pool }) => new Pool(origin, { connections: AUTH_CONNECTIONS, headersTimeout: timeoutMs, bodyTimeout: timeoutMs }),
    );
    this.credentials = options.credentials;
    this.logger = options.logger;
    this.now = options.now ?? Date.now;

    secrets.add(options.credentials.clientSecret);
  }

  /**
   * Returns a valid access token: the cached one, or a new one when it expires within
   * TOKEN_RENEWAL_MARGIN_MS. Concurrent callers share one token request. `signal` stops this
   * caller's wait, not the shared request. Throws KognicAuthError.
   */
  async getToken(signal?: AbortSignal): Promise<string> {
    if (signal?.aborted) {
      throw abortErrorFrom(signal);
    }
    if (this.fatalError !== undefined) {
      throw this.fatalError;
    }

    const current = this.current;
    if (current !== undefined && this.now() < current.expiresAtMs - TOKEN_RENEWAL_MARGIN_MS) {
      return current.accessToken;
    }

    this.inFlight ??= this.renew().finally(() => {
      this.inFlight = undefined;
    });
    const issued = await this.waitFor(this.inFlight, signal);
    return issued.accessToken;
  }

  /** Drops `token` if it is still the current one, after the API rejected it with 401. */
  invalidate(token: string): void {
    if (this.current?.accessToken === token) {
      this.current = undefined;
    }
  }

  async close(): Promise<void> {
    await (await this.pool).close();
  }

  private async waitFor<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
    if (signal === undefined) {
      return promise;
    }

    return new Promise<T>((resolve, reject) => {
      const onAbort = (): void => reject(abortErrorFrom(signal));
      signal.addEventListener('abort', onAbort, { once: true });
      promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
    });
  }

  private async renew(): Promise<IssuedToken> {
    try {
      const issued = await this.fetchToken();
      this.current = issued;
      return issued;
    } catch (error) {
      if (error instanceof KognicAuthError && error.fatal) {
        this.fatalError = error;
      }
      throw error;
    }
  }

  /** Uses the refresh grant when a refresh token exists, and the client credentials grant otherwise or when the refresh is rejected. */
  private async fetchToken(): Promise<IssuedToken> {
    const refreshToken = this.refreshToken;
    if (refreshToken !== undefined) {
      const response = await this.post({ grant_type: 'refresh_token', refresh_token: refreshToken });
      const oauthError = typeof response.body?.error === 'string' ? response.body.error : undefined;
      const refreshRejected =
        (response.status === 400 || response.status === 401) &&
        (oauthError === undefined || !CLIENT_REJECTED_ERRORS.has(oauthError));

      if (!refreshRejected) {
        return this.acceptResponse(response, 'refresh_token');
      }

      // kognic-auth falls back only on `invalid_token`. Any 400 or 401 that does not reject the
      // client (`invalid_grant`, a bare 401) falls back here too, because the client credentials
      // request that follows either succeeds or reports the real problem.
      this.refreshToken = undefined;
      this.logger.info('Kognic refresh token rejected; requesting a new token with the client credentials', {
        status: response.status,
        oauthError: oauthError ?? 'none',
      });
    }

    const response = await this.post({ grant_type: 'client_credentials' });
    return this.acceptResponse(response, 'client_credentials');
  }

  private async post(fields: Record<string, string>): Promise<TokenResponse> {
    const form = new URLSearchParams({
      ...fields,
      client_id: this.credentials.clientId,
      client_secret: this.credentials.clientSecret,
    });

    let status: number;
    let text: string;
    try {
      const pool = await this.pool;
      const response = await pool.request({
        method: 'POST',
        path: `${this.tokenUrl.pathname}${this.tokenUrl.search}`,
        headers: {
          'content-type': 'application/x-www-form-urlencoded;charset=UTF-8',
          accept: 'application/json',
          'user-agent': USER_AGENT,
        },
        body: form.toString(),
      });
      status = response.statusCode;
      text = await response.body.text();
    } catch (error) {
      const networkError = toNetworkError(error, this.tokenUrl.host, true);
      throw new KognicAuthError(
        `Could not get a Kognic access token from ${this.tokenUrl.origin}: ${networkError.message}. A later request will try again.`,
        undefined,
        undefined,
        false,
        { cause: error },
      );
    }

    let body: Record<string, unknown> | undefined;
    try {
      const parsed = JSON.parse(text) as unknown;
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) {
        body = parsed as Record<string, unknown>;
      }
    } catch {
      body = undefined;
    }
    return { status, body, text };
  }

  private acceptResponse(response: TokenResponse, grantType: GrantType): IssuedToken {
    const { status, body } = response;
    if (status < 200 || status >= 300 || typeof body?.error === 'string') {
      throw this.rejection(response);
    }

    const accessToken = body?.access_token;
    if (typeof accessToken !== 'string' || accessToken === '') {
      throw new KognicAuthError(
        `The Kognic auth server at ${this.tokenUrl.origin} returned HTTP ${status} without an access_token; check the auth URL.`,
        status,
        undefined,
        false,
      );
    }
    secrets.add(accessToken);

    const tokenType = body?.token_type ?? 'bearer';
    if (typeof tokenType !== 'string' || tokenType.toLowerCase() !== 'bearer') {
      throw new KognicAuthError(
        `The Kognic auth server issued a token of type "${String(tokenType)}"; only bearer tokens are supported.`,
        status,
        undefined,
        true,
      );
    }

    const refreshToken = body?.refresh_token;
    if (typeof refreshToken === 'string' && refreshToken !== '') {
      secrets.add(refreshToken);
      this.refreshToken = refreshToken;
    }

    let lifetimeSeconds = body?.expires_in;
    if (typeof lifetimeSeconds !== 'number' || !Number.isFinite(lifetimeSeconds) || lifetimeSeconds <= 0) {
      // NOTE: Kognic's token lifetime is not published; without `expires_in` the token is
      // assumed to last ASSUMED_TOKEN_LIFETIME_SECONDS, and a 401 from the API renews it early.
      this.logger.warn('Kognic access token has no valid expires_in; assuming a short lifetime', {
        assumedLifetimeSeconds: ASSUMED_TOKEN_LIFETIME_SECONDS,
      });
      lifetimeSeconds = ASSUMED_TOKEN_LIFETIME_SECONDS;
    }

    this.logger.info('Kognic access token issued', {
      grant: grantType,
      lifetimeSeconds: lifetimeSeconds as number,
      refreshToken: this.refreshToken !== undefined,
    });
    return { accessToken, expiresAtMs: this.now() + (lifetimeSeconds as number) * 1000 };
  }

  /** Builds the KognicAuthError for an error response of the token endpoint; it is fatal unless a later request may succeed. */
  private rejection(response: TokenResponse): KognicAuthError {
    const { status, body, text } = response;
    const oauthError = typeof body?.error === 'string' ? body.error : undefined;
    const description = typeof body?.error_description === 'string' ? body.error_description : undefined;
    const detail = secrets.redact(cut(description ?? (body === undefined ? text.trim() : ''), MAX_ERROR_TEXT_CHARS));
    const reason = [oauthError, detail].filter((part) => part !== undefined && part !== '').join(': ');
    const suffix = reason === '' ? `HTTP ${status}` : `HTTP ${status}, ${reason}`;

    if (oauthError !== undefined && CLIENT_REJECTED_ERRORS.has(oauthError)) {
      return new KognicAuthError(
        `Kognic rejected the client credentials from ${this.credentials.source} (${suffix}). ` +
          'Check KOGNIC_CREDENTIALS, or KOGNIC_CLIENT_ID and KOGNIC_CLIENT_SECRET, or generate new API credentials in the Kognic app.',
        status,
        oauthError,
        true,
      );
    }

    if (status === 429) {
      return new KognicAuthError(
        `The Kognic auth server rate-limited the token request (${suffix}); slow down, a later request will try again.`,
        status,
        oauthError,
        false,
      );
    }

    if (status >= 500) {
      return new KognicAuthError(
        `The Kognic auth server at ${this.tokenUrl.origin} failed (${suffix}); a later request will try again.`,
        status,
        oauthError,
        false,
      );
    }

    return new KognicAuthError(
      `The Kognic auth server at ${this.tokenUrl.origin} rejected the token request for the credentials from ${this.credentials.source} (${suffix}); check the auth URL and the credentials.`,
      status,
      oauthError,
      true,
    );
  }
}
