/** Access and refresh tokens issued by the sandbox's auth route, and their state. */

import { randomBytes, randomUUID } from 'node:crypto';

import type { AuthorizationState } from './types.js';

/** Client id the sandbox accepts unless SandboxOptions.clientId sets another. */
export const SANDBOX_CLIENT_ID = 'sandbox-client-7f3c2a';

/** Client secret the sandbox accepts unless SandboxOptions.clientSecret sets another. */
export const SANDBOX_CLIENT_SECRET = 'sbx_secret_Q7vN2kLm9XpR4tWz8YbC3dHf';

interface AccessTokenState {
  clientId: string;
  expiresAtMs: number;
  revoked: boolean;
}

interface RefreshTokenState {
  clientId: string;
  expired: boolean;
}

export interface IssuedTokens {
  accessToken: string;
  refreshToken?: string;
}

export type RefreshTokenCheck = 'valid' | 'unknown' | 'expired';

export class TokenStore {
  private readonly accessTokens = new Map<string, AccessTokenState>();
  private readonly refreshTokens = new Map<string, RefreshTokenState>();

  /** Issues an access token that expires after `lifetimeSeconds`, and a refresh token when asked. */
  issue(clientId: string, lifetimeSeconds: number, withRefreshToken: boolean): IssuedTokens {
    const nowMs = Date.now();
    const expiresAtMs = nowMs + lifetimeSeconds * 1000;
    const accessToken = createJwtLookingToken(clientId, nowMs, expiresAtMs);
    this.accessTokens.set(accessToken, { clientId, expiresAtMs, revoked: false });

    if (!withRefreshToken) {
      return { accessToken };
    }

    const refreshToken = randomBytes(32).toString('base64url');
    this.refreshTokens.set(refreshToken, { clientId, expired: false });
    return { accessToken, refreshToken };
  }

  /** Classifies the value of an `Authorization` header for the dataset API. */
  checkAuthorizationHeader(header: string | undefined): AuthorizationState {
    if (header === undefined || header.trim() === '') {
      return 'none';
    }

    const match = /^bearer\s+(\S+)\s*$/i.exec(header.trim());
    const token = match?.[1];
    const state = token === undefined ? undefined : this.accessTokens.get(token);
    if (state === undefined) {
      return 'invalid';
    }
    if (state.revoked) {
      return 'revoked';
    }
    if (Date.now() >= state.expiresAtMs) {
      return 'expired';
    }
    return 'valid';
  }

  /**
   * Checks a refresh token presented by `clientId`. A token issued to another client counts as
   * unknown. Redeeming does not invalidate the token.
   */
  checkRefreshToken(refreshToken: string, clientId: string): RefreshTokenCheck {
    const state = this.refreshTokens.get(refreshToken);
    if (state === undefined || state.clientId !== clientId) {
      return 'unknown';
    }
    return state.expired ? 'expired' : 'valid';
  }

  revokeAccessTokens(): void {
    for (const state of this.accessTokens.values()) {
      state.revoked = true;
    }
  }

  expireRefreshTokens(): void {
    for (const state of this.refreshTokens.values()) {
      state.expired = true;
    }
  }
}

/**
 * Builds a token shaped like a JWT: three base64url segments with a header, the claims and 32
 * random bytes in place of a signature. Clients that decode the claims, as kognic-auth does, find
 * `sub`, `iat` and `exp`. The sandbox looks tokens up by value and never checks the signature.
 */
function createJwtLookingToken(clientId: string, issuedAtMs: number, expiresAtMs: number): string {
  const header = { alg: 'RS256', typ: 'JWT' };
  const claims = {
    iss: 'kognic-sandbox',
    sub: clientId,
    iat: Math.floor(issuedAtMs / 1000),
    exp: Math.floor(expiresAtMs / 1000),
    jti: randomUUID(),
  };

  const encode = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${encode(header)}.${encode(claims)}.${randomBytes(32).toString('base64url')}`;
}
