import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import type { KognicCredentials } from '../src/kognic/credentials.js';
import { KognicAuthError } from '../src/kognic/errors.js';
import { TOKEN_RENEWAL_MARGIN_MS, TokenProvider } from '../src/kognic/token-provider.js';
import { createLogger } from '../src/log.js';
import { KognicSandbox, SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET } from '../src/sandbox/index.js';

const CREDENTIALS: KognicCredentials = {
  clientId: SANDBOX_CLIENT_ID,
  clientSecret: SANDBOX_CLIENT_SECRET,
  source: 'KOGNIC_CLIENT_ID and KOGNIC_CLIENT_SECRET',
};

const LIFETIME_SECONDS = 3600;

let sandbox: KognicSandbox;
let provider: TokenProvider;
let logLines: string[];
let nowMs: number;

function startProvider(credentials: KognicCredentials = CREDENTIALS): TokenProvider {
  const { logger } = createLogger({ level: 'debug', write: (line) => logLines.push(line) });
  return new TokenProvider({ authUrl: sandbox.url, credentials, logger, now: () => nowMs });
}

function grants(): string[] {
  return sandbox.stats.tokenRequests.map((request) => `${request.grantType}:${request.status}`);
}

async function captureRejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the promise to reject');
}

beforeEach(async () => {
  sandbox = await KognicSandbox.start({ tokenLifetimeSeconds: LIFETIME_SECONDS });
  logLines = [];
  nowMs = Date.now();
  provider = startProvider();
});

afterEach(async () => {
  await provider.close();
  await sandbox.close();
});

describe('token caching', () => {
  it('reuses one token', async () => {
    const first = await provider.getToken();
    const second = await provider.getToken();
    const third = await provider.getToken();

    expect(second).toBe(first);
    expect(third).toBe(first);
    expect(grants()).toEqual(['client_credentials:200']);
  });

  it('sends client auth in the body', async () => {
    await provider.getToken();

    expect(sandbox.stats.tokenRequests[0]?.clientAuth).toBe('body');
  });

  it('shares one concurrent request', async () => {
    const tokens = await Promise.all(Array.from({ length: 10 }, () => provider.getToken()));

    expect(new Set(tokens).size).toBe(1);
    expect(grants()).toEqual(['client_credentials:200']);
  });

  it('keeps the token until the margin', async () => {
    const first = await provider.getToken();
    nowMs += LIFETIME_SECONDS * 1000 - TOKEN_RENEWAL_MARGIN_MS - 1000;

    const second = await provider.getToken();

    expect(second).toBe(first);
    expect(grants()).toEqual(['client_credentials:200']);
  });

  it('renews with the refresh grant', async () => {
    const first = await provider.getToken();
    nowMs += LIFETIME_SECONDS * 1000 - TOKEN_RENEWAL_MARGIN_MS + 1000;

    const second = await provider.getToken();

    expect(second).not.toBe(first);
    expect(grants()).toEqual(['client_credentials:200', 'refresh_token:200']);
  });

  it('renews once for concurrent callers', async () => {
    await provider.getToken();
    nowMs += LIFETIME_SECONDS * 1000;

    const tokens = await Promise.all(Array.from({ length: 10 }, () => provider.getToken()));

    expect(new Set(tokens).size).toBe(1);
    expect(grants()).toEqual(['client_credentials:200', 'refresh_token:200']);
  });

  it('falls back after a rejected refresh', async () => {
    await provider.getToken();
    sandbox.expireRefreshTokens();
    nowMs += LIFETIME_SECONDS * 1000;

    const token = await provider.getToken();

    expect(token.split('.')).toHaveLength(3);
    expect(grants()).toEqual(['client_credentials:200', 'refresh_token:401', 'client_credentials:200']);
  });

  it('falls back after invalid_grant', async () => {
    await provider.getToken();
    sandbox.enqueueResponses('token', { status: 400, body: { error: 'invalid_grant', error_description: 'Refresh token is stale' } });
    nowMs += LIFETIME_SECONDS * 1000;

    await provider.getToken();

    expect(grants()).toEqual(['client_credentials:200', 'refresh_token:400', 'client_credentials:200']);
  });

  it('renews an invalidated token', async () => {
    const first = await provider.getToken();
    provider.invalidate(first);

    const second = await provider.getToken();

    expect(second).not.toBe(first);
    expect(grants()).toEqual(['client_credentials:200', 'refresh_token:200']);
  });

  it('ignores a stale invalidation', async () => {
    const first = await provider.getToken();
    provider.invalidate(first);
    const second = await provider.getToken();
    provider.invalidate(first);

    const third = await provider.getToken();

    expect(third).toBe(second);
    expect(grants()).toHaveLength(2);
  });

  it('uses client credentials without refresh tokens', async () => {
    await sandbox.close();
    sandbox = await KognicSandbox.start({ issueRefreshToken: false });
    await provider.close();
    provider = startProvider();
    await provider.getToken();
    nowMs += LIFETIME_SECONDS * 1000;

    await provider.getToken();

    expect(grants()).toEqual(['client_credentials:200', 'client_credentials:200']);
  });
});

describe('token errors', () => {
  it('fails fast after invalid_client', async () => {
    sandbox.rejectClient(true);

    const results = await Promise.allSettled(Array.from({ length: 10 }, () => provider.getToken()));
    const later = await captureRejection(provider.getToken());

    expect(results.every((result) => result.status === 'rejected')).toBe(true);
    expect(later).toBeInstanceOf(KognicAuthError);
    expect((later as KognicAuthError).fatal).toBe(true);
    expect(grants()).toEqual(['client_credentials:401']);
  });

  it('explains invalid_client', async () => {
    sandbox.rejectClient(true);

    const error = await captureRejection(provider.getToken());

    expect(error.message).toContain('Kognic rejected the client credentials from KOGNIC_CLIENT_ID and KOGNIC_CLIENT_SECRET');
    expect(error.message).toContain('invalid_client');
    expect(error.message).toContain('KOGNIC_CREDENTIALS');
    expect((error as KognicAuthError).oauthError).toBe('invalid_client');
  });

  it('retries after a 429', async () => {
    sandbox.enqueueResponses('token', { status: 429, body: { error: 'slow_down' } });

    const error = await captureRejection(provider.getToken());
    const token = await provider.getToken();

    expect((error as KognicAuthError).fatal).toBe(false);
    expect((error as KognicAuthError).status).toBe(429);
    expect(token.split('.')).toHaveLength(3);
    expect(grants()).toEqual(['client_credentials:429', 'client_credentials:200']);
  });

  it('retries after a 503', async () => {
    sandbox.enqueueResponses('token', { status: 503, body: '<html><body>Service Unavailable</body></html>' });

    const error = await captureRejection(provider.getToken());
    await provider.getToken();

    expect((error as KognicAuthError).fatal).toBe(false);
    expect(grants()).toHaveLength(2);
  });

  it('names an unreachable server', async () => {
    const url = sandbox.url;
    await sandbox.close();
    const { logger } = createLogger({ level: 'debug', write: (line) => logLines.push(line) });
    const offline = new TokenProvider({ authUrl: url, credentials: CREDENTIALS, logger });

    try {
      const error = await captureRejection(offline.getToken());

      expect((error as KognicAuthError).fatal).toBe(false);
      expect(error.message).toContain('ECONNREFUSED');
      expect(error.message).toContain(new URL(url).host);
    } finally {
      await offline.close();
      sandbox = await KognicSandbox.start();
    }
  });

  it('rejects a non-bearer token', async () => {
    sandbox.enqueueResponses('token', {
      status: 200,
      body: { access_token: 'mac-token-5f0e2c1b9a', token_type: 'mac', expires_in: 3600 },
    });

    const error = await captureRejection(provider.getToken());

    expect(error).toBeInstanceOf(KognicAuthError);
    expect(error.message).toContain('"mac"');
  });

  it('rejects a response without a token', async () => {
    sandbox.enqueueResponses('token', { status: 200, body: { token_type: 'bearer' } });

    const error = await captureRejection(provider.getToken());

    expect(error.message).toContain('without an access_token');
  });

  it('assumes a lifetime without expires_in', async () => {
    sandbox.enqueueResponses('token', {
      status: 200,
      body: { access_token: 'short-lived-token-0c7d3e', token_type: 'Bearer' },
    });

    const token = await provider.getToken();

    expect(token).toBe('short-lived-token-0c7d3e');
    expect(logLines.some((line) => line.includes('WARNING') && line.includes('expires_in'))).toBe(true);
    expect(logLines.some((line) => line.includes('lifetimeSeconds=300'))).toBe(true);
  });

  it('stops waiting on abort', async () => {
    sandbox.setLatency(2_000, 'token');
    const controller = new AbortController();
    const startedAt = Date.now();
    const pending = provider.getToken(controller.signal);
    setTimeout(() => controller.abort(), 20);

    const error = await captureRejection(pending);

    expect(error.name).toBe('AbortError');
    expect(Date.now() - startedAt).toBeLessThan(1_500);
  });
});

describe('token secrecy', () => {
  it('logs the issued token once', async () => {
    await provider.getToken();

    const issued = logLines.filter((line) => line.includes('Kognic access token issued'));
    expect(issued).toHaveLength(1);
    expect(issued[0]).toContain('grant=client_credentials');
    expect(issued[0]).toContain('lifetimeSeconds=3600');
  });

  it('keeps secrets out of logs', async () => {
    const first = await provider.getToken();
    provider.invalidate(first);
    const second = await provider.getToken();
    sandbox.expireRefreshTokens();
    provider.invalidate(second);
    const third = await provider.getToken();

    const text = logLines.join('\n');
    expect(logLines.length).toBeGreaterThan(2);
    for (const secret of [SANDBOX_CLIENT_SECRET, first, second, third]) {
      expect(text).not.toContain(secret);
    }
  });

  it('redacts secrets echoed in errors', async () => {
    sandbox.enqueueResponses('token', {
      status: 401,
      body: { error: 'invalid_client', error_description: `secret ${SANDBOX_CLIENT_SECRET} is wrong` },
    });

    const error = await captureRejection(provider.getToken());

    expect(error.message).not.toContain(SANDBOX_CLIENT_SECRET);
    expect(error.message).toContain('[REDACTED]');
  });
});
