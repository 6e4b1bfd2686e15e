/**
 * `POST /v1/auth/oauth/token`: the OAuth 2.0 token endpoint (RFC 6749) with the client
 * credentials and refresh token grants, as kognic-auth calls it. Errors use the OAuth `error`
 * and `error_description` fields, not the dataset API's `message`.
 */

import { type Reply, jsonReply, mediaType } from './http.js';
import type { TokenStore } from './tokens.js';
import type { ClientAuthMethod } from './types.js';

export const TOKEN_PATH = '/v1/auth/oauth/token';

const FORM_MEDIA_TYPE = 'application/x-www-form-urlencoded';

/** RFC 6749 section 5.1: token responses must not be cached. */
const NO_STORE_HEADERS = { 'cache-control': 'no-store', pragma: 'no-cache' };

export interface TokenEndpointConfig {
  clientId: string;
  clientSecret: string;
  tokenLifetimeSeconds: number;
  issueRefreshToken: boolean;
  /** When true every request gets 401 `invalid_client`, whatever its credentials. */
  rejectAllClients: boolean;
}

export interface TokenRequest {
  contentType: string | undefined;
  authorization: string | undefined;
  body: Buffer;
}

export interface TokenEndpointResult {
  reply: Reply;
  grantType: string;
  clientAuth: ClientAuthMethod;
}

interface ClientCredentials {
  method: ClientAuthMethod;
  clientId?: string;
  clientSecret?: string;
  /** Set when the credentials cannot be read at all, for example a Basic header that is not base64. */
  problem?: string;
}

/** Parses the form body of a token request; returns an empty form when the body is not form-encoded. */
function parseTokenForm(request: TokenRequest): URLSearchParams {
  if (mediaType(request.contentType) !== FORM_MEDIA_TYPE) {
    return new URLSearchParams();
  }
  return new URLSearchParams(request.body.toString('utf8'));
}

/** Reads the grant type and client authentication method of a token request, for the statistics. */
export function describeTokenRequest(request: TokenRequest): { grantType: string; clientAuth: ClientAuthMethod } {
  const form = parseTokenForm(request);
  return { grantType: form.get('grant_type') ?? '', clientAuth: readClientCredentials(request.authorization, form).method };
}

/** Handles one token request and, on success, issues tokens into `tokens`. */
export function handleTokenRequest(request: TokenRequest, config: TokenEndpointConfig, tokens: TokenStore): TokenEndpointResult {
  const form = parseTokenForm(request);
  const grantType = form.get('grant_type') ?? '';
  const credentials = readClientCredentials(request.authorization, form);
  const result = (reply: Reply): TokenEndpointResult => ({ reply, grantType, clientAuth: credentials.method });

  if (config.rejectAllClients) {
    return result(invalidClient(credentials, 'Client authentication failed: the sandbox is set to reject every client.'));
  }

  if (mediaType(request.contentType) !== FORM_MEDIA_TYPE) {
    const received = request.contentType ?? 'none';
    return result(
      oauthError(400, 'invalid_request', `Content-Type must be ${FORM_MEDIA_TYPE}, got ${received}; send the parameters as a form.`),
    );
  }

  if (credentials.problem !== undefined) {
    return result(invalidClient(credentials, credentials.problem));
  }
  if (credentials.method === 'none') {
    return result(
      invalidClient(credentials, 'Client authentication is missing; send client_id and client_secret in the form or as HTTP Basic.'),
    );
  }
  if (!credentialsMatch(credentials, config)) {
    return result(
      invalidClient(credentials, `Client authentication failed for client_id ${credentials.clientId ?? ''}; check the client id and secret.`),
    );
  }

  if (grantType === '') {
    return result(oauthError(400, 'invalid_request', 'The grant_type parameter is missing; use client_credentials or refresh_token.'));
  }
  if (grantType === 'client_credentials') {
    return result(issueTokens(config, tokens));
  }
  if (grantType === 'refresh_token') {
    return result(refreshTokens(form, config, tokens));
  }
  return result(
    oauthError(400, 'unsupported_grant_type', `Grant type ${grantType} is not supported; use client_credentials or refresh_token.`),
  );
}

function issueTokens(config: TokenEndpointConfig, tokens: TokenStore): Reply {
  const issued = tokens.issue(config.clientId, config.tokenLifetimeSeconds, config.issueRefreshToken);
  const body: Record<string, unknown> = {
    access_token: issued.accessToken,
    token_type: 'bearer',
    expires_in: config.tokenLifetimeSeconds,
  };
  if (issued.refreshToken !== undefined) {
    body.refresh_token = issued.refreshToken;
  }
  return jsonReply(200, body, NO_STORE_HEADERS);
}

function refreshTokens(form: URLSearchParams, config: TokenEndpointConfig, tokens: TokenStore): Reply {
  const refreshToken = form.get('refresh_token');
  if (refreshToken === null || refreshToken === '') {
    return oauthError(400, 'invalid_request', 'The refresh_token parameter is missing for grant_type refresh_token.');
  }

  // kognic-auth resets its session when a refresh request gets 401 with `invalid_token`, so the
  // sandbox uses that status and code rather than RFC 6749's 400 `invalid_grant`.
  // NOTE: the real auth server's response to an unknown or expired refresh token is not documented.
  const check = tokens.checkRefreshToken(refreshToken, config.clientId);
  if (check === 'unknown') {
    return oauthError(401, 'invalid_token', 'The refresh token is unknown; request a new token with grant_type client_credentials.');
  }
  if (check === 'expired') {
    return oauthError(401, 'invalid_token', 'The refresh token has expired; request a new token with grant_type client_credentials.');
  }
  return issueTokens(config, tokens);
}

/**
 * Compares the presented credentials with the configured ones. RFC 6749 section 2.3.1
 * form-encodes the HTTP Basic user and password, but authlib sends them unencoded, so a Basic
 * pair matches in either form.
 */
function credentialsMatch(credentials: ClientCredentials, config: TokenEndpointConfig): boolean {
  const { clientId, clientSecret } = credentials;
  if (clientId === undefined || clientSecret === undefined) {
    return false;
  }

  if (clientId === config.clientId && clientSecret === config.clientSecret) {
    return true;
  }
  return (
    credentials.method === 'basic' &&
    decodeFormComponent(clientId) === config.clientId &&
    decodeFormComponent(clientSecret) === config.clientSecret
  );
}

/**
 * Reads client authentication from an HTTP Basic header or from the `client_id` and
 * `client_secret` form fields.
 */
function readClientCredentials(authorization: string | undefined, form: URLSearchParams): ClientCredentials {
  const basicMatch = /^basic\s+(\S+)\s*$/i.exec(authorization?.trim() ?? '');
  const bodyClientId = form.get('client_id');
  const bodyClientSecret = form.get('client_secret');

  if (basicMatch?.[1] !== undefined) {
    if (bodyClientId !== null || bodyClientSecret !== null) {
      return {
        method: 'basic',
        problem: 'The request uses both HTTP Basic and client_id in the form; RFC 6749 allows one client authentication method.',
      };
    }
    return readBasicCredentials(basicMatch[1]);
  }

  if (bodyClientId !== null) {
    return { method: 'body', clientId: bodyClientId, clientSecret: bodyClientSecret ?? '' };
  }
  return { method: 'none' };
}

function readBasicCredentials(encoded: string): ClientCredentials {
  const decoded = Buffer.from(encoded, 'base64').toString('latin1');
  const separator = decoded.indexOf(':');
  if (separator < 0) {
    return { method: 'basic', problem: 'The HTTP Basic credentials are not base64 of "client_id:client_secret".' };
  }

  return { method: 'basic', clientId: decoded.slice(0, separator), clientSecret: decoded.slice(separator + 1) };
}

/** Undoes application/x-www-form-urlencoded escaping; returns the input unchanged when it is malformed. */
function decodeFormComponent(value: string): string {
  try {
    return decodeURIComponent(value.replace(/\+/g, ' '));
  } catch {
    return value;
  }
}

function invalidClient(credentials: ClientCredentials, description: string): Reply {
  // RFC 6749 section 5.2: a 401 after Basic authentication carries WWW-Authenticate.
  const headers: Record<string, string> = { ...NO_STORE_HEADERS };
  if (credentials.method === 'basic') {
    headers['www-authenticate'] = 'Basic realm="kognic-sandbox"';
  }
  return oauthError(401, 'invalid_client', description, headers);
}

function oauthError(status: number, error: string, description: string, headers: Record<string, string> = NO_STORE_HEADERS): Reply {
  return jsonReply(status, { error, error_description: description }, headers);
}
