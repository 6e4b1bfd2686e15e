import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ConfigurationError } from '../src/errors.js';
import { parseExpires, readCredentialsFile, resolveCredentials } from '../src/kognic/credentials.js';
import { TokenProvider } from '../src/kognic/token-provider.js';
import { secrets, silentLogger } from '../src/log.js';
import { KognicSandbox, SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET } from '../src/sandbox/index.js';

const NOW = new Date('2026-03-01T12:00:00Z');

const folder = mkdtempSync(path.join(tmpdir(), 'kognic-credentials-'));

function fileContent(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    clientId: 'client-from-file',
    clientSecret: 'file-secret-4b7d9e2a61',
    email: 'ml@example.com',
    userId: 42,
    issuer: 'auth.app.kognic.com',
    name: 'API Credentials',
    expires: '2027-01-01T00:00:00Z',
    ...overrides,
  };
}

function writeJson(name: string, value: unknown): string {
  const filePath = path.join(folder, name);
  writeFileSync(filePath, typeof value === 'string' ? value : JSON.stringify(value));
  return filePath;
}

function captureError(action: () => unknown): Error {
  try {
    action();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the action to throw');
}

describe('readCredentialsFile', () => {
  it('reads every field', () => {
    const filePath = writeJson('full.json', fileContent());

    const credentials = readCredentialsFile(filePath, 'test', NOW);

    expect(credentials).toEqual({
      clientId: 'client-from-file',
      clientSecret: 'file-secret-4b7d9e2a61',
      email: 'ml@example.com',
      userId: 42,
      issuer: 'auth.app.kognic.com',
      expires: new Date('2027-01-01T00:00:00Z'),
      source: 'test',
    });
  });

  it('registers the secret', () => {
    const filePath = writeJson('registered.json', fileContent({ clientSecret: 'registered-secret-99f1c0' }));

    readCredentialsFile(filePath, 'test', NOW);

    expect(secrets.redact('x registered-secret-99f1c0 y')).toBe('x [REDACTED] y');
  });

  it.each(['clientId', 'clientSecret', 'email', 'userId', 'issuer'])('rejects missing %s', (key) => {
    const content = fileContent();
    delete content[key];
    const filePath = writeJson(`missing-${key}.json`, content);

    const error = captureError(() => readCredentialsFile(filePath, 'test', NOW));

    expect(error).toBeInstanceOf(ConfigurationError);
    expect(error.message).toContain(`"${key}"`);
    expect(error.message).toContain(filePath);
  });

  it('rejects expired credentials', () => {
    const filePath = writeJson('expired.json', fileContent({ expires: '2026-02-01T08:30:00Z' }));

    const error = captureError(() => readCredentialsFile(filePath, 'test', NOW));

    expect(error).toBeInstanceOf(ConfigurationError);
    expect(error.message).toBe(
      `Kognic credentials in ${filePath} expired at 2026-02-01T08:30:00.000Z; ` +
        'generate new API credentials in the Kognic app (user menu, "API Credentials").',
    );
  });

  it('keeps the secret out of errors', () => {
    const filePath = writeJson('expired-secret.json', fileContent({ expires: '2020-01-01T00:00:00Z' }));

    const error = captureError(() => readCredentialsFile(filePath, 'test', NOW));

    expect(error.message).not.toContain('file-secret-4b7d9e2a61');
  });

  it('ignores an unparsable expiry', () => {
    const filePath = writeJson('odd-expiry.json', fileContent({ expires: 'next spring' }));

    const credentials = readCredentialsFile(filePath, 'test', NOW);

    expect(credentials.expires).toBeUndefined();
  });

  it('names a missing file', () => {
    const filePath = path.join(folder, 'absent.json');

    const error = captureError(() => readCredentialsFile(filePath, `KOGNIC_CREDENTIALS (${filePath})`, NOW));

    expect(error).toBeInstanceOf(ConfigurationError);
    expect(error.message).toContain(filePath);
    expect(error.message).toContain('KOGNIC_CREDENTIALS');
    expect(error.message).toContain('does not exist');
  });

  it('rejects a file that is not JSON', () => {
    const filePath = writeJson('broken.json', '{"clientId": ');

    const error = captureError(() => readCredentialsFile(filePath, '--credentials broken.json', NOW));

    expect(error).toBeInstanceOf(ConfigurationError);
    expect(error.message).toContain('not valid JSON');
    expect(error.message).toContain('--credentials broken.json');
  });

  it('rejects a JSON array', () => {
    const filePath = writeJson('array.json', '[]');

    const error = captureError(() => readCredentialsFile(filePath, 'test', NOW));

    expect(error.message).toContain('must contain a JSON object');
  });

  it('expands the home folder', () => {
    const previousHome = process.env.HOME;
    process.env.HOME = folder;
    try {
      writeJson('home.json', fileContent({ clientId: 'from-home' }));

      const credentials = readCredentialsFile('~/home.json', 'test', NOW);

      expect(credentials.clientId).toBe('from-home');
    } finally {
      process.env.HOME = previousHome;
    }
  });
});

describe('parseExpires', () => {
  it('truncates nanosecond fractions', () => {
    expect(parseExpires('2026-05-01T10:00:00.123456789Z')?.toISOString()).toBe('2026-05-01T10:00:00.123Z');
  });

  it('honours an offset', () => {
    expect(parseExpires('2026-05-01T12:00:00+02:00')?.toISOString()).toBe('2026-05-01T10:00:00.000Z');
  });

  it('reads a missing offset as UTC', () => {
    expect(parseExpires('2026-05-01T10:00:00')?.toISOString()).toBe('2026-05-01T10:00:00.000Z');
  });

  it('ignores non-strings', () => {
    expect(parseExpires(1_767_225_600)).toBeUndefined();
  });
});

describe('resolveCredentials', () => {
  const flagFile = writeJson('flag.json', fileContent({ clientId: 'from-flag' }));
  const envFile = writeJson('env.json', fileContent({ clientId: 'from-env-file' }));
  const pair = { KOGNIC_CLIENT_ID: 'pair-id', KOGNIC_CLIENT_SECRET: 'pair-secret-8c1d7e' };

  it('prefers the flag file', () => {
    const credentials = resolveCredentials({ flagFile, env: { KOGNIC_CREDENTIALS: envFile, ...pair }, now: NOW });

    expect(credentials?.clientId).toBe('from-flag');
    expect(credentials?.source).toBe(`--credentials ${flagFile}`);
  });

  it('reads KOGNIC_CREDENTIALS next', () => {
    const credentials = resolveCredentials({ env: { KOGNIC_CREDENTIALS: envFile, ...pair }, now: NOW });

    expect(credentials?.clientId).toBe('from-env-file');
    expect(credentials?.source).toBe(`KOGNIC_CREDENTIALS (${envFile})`);
  });

  it('reads the client pair', () => {
    const credentials = resolveCredentials({
      env: pair,
      environmentFile: { path: flagFile, environmentName: 'production' },
      now: NOW,
    });

    expect(credentials).toEqual({
      clientId: 'pair-id',
      clientSecret: 'pair-secret-8c1d7e',
      source: 'KOGNIC_CLIENT_ID and KOGNIC_CLIENT_SECRET',
    });
  });

  it('registers the pair secret', () => {
    resolveCredentials({ env: pair, now: NOW });

    expect(secrets.redact('pair-secret-8c1d7e')).toBe('[REDACTED]');
  });

  it('uses environments.json last', () => {
    const credentials = resolveCredentials({
      env: {},
      environmentFile: { path: flagFile, environmentName: 'production' },
      now: NOW,
    });

    expect(credentials?.clientId).toBe('from-flag');
    expect(credentials?.source).toBe(`environments.json environment "production" (${flagFile})`);
  });

  it('returns undefined when unconfigured', () => {
    expect(resolveCredentials({ env: {}, now: NOW })).toBeUndefined();
  });

  it('treats empty variables as unset', () => {
    expect(resolveCredentials({ env: { KOGNIC_CREDENTIALS: '', KOGNIC_CLIENT_ID: '' }, now: NOW })).toBeUndefined();
  });

  it('rejects a missing client secret', () => {
    const error = captureError(() => resolveCredentials({ env: { KOGNIC_CLIENT_ID: 'only-id' } }));

    expect(error).toBeInstanceOf(ConfigurationError);
    expect(error.message).toContain('KOGNIC_CLIENT_SECRET is missing');
  });

  it('rejects a missing client id', () => {
    const error = captureError(() => resolveCredentials({ env: { KOGNIC_CLIENT_SECRET: 'only-secret-3e9a' } }));

    expect(error).toBeInstanceOf(ConfigurationError);
    expect(error.message).toContain('KOGNIC_CLIENT_ID is missing');
    expect(error.message).not.toContain('only-secret-3e9a');
  });

  it('rejects keyring credentials', () => {
    const error = captureError(() =>
      resolveCredentials({ env: {}, environmentFile: { path: 'keyring://default', environmentName: 'desk' } }),
    );

    expect(error).toBeInstanceOf(ConfigurationError);
    expect(error.message).toContain('environments.json environment "desk" (keyring://default)');
    expect(error.message).toContain('keyring, which this server does not support');
    expect(error.message).toContain('KOGNIC_CREDENTIALS');
  });

  it('names the environment of a broken file', () => {
    const missing = path.join(folder, 'env-gone.json');

    const error = captureError(() => resolveCredentials({ env: {}, environmentFile: { path: missing, environmentName: 'production' } }));

    expect(error).toBeInstanceOf(ConfigurationError);
    expect(error.message).toContain(`environments.json environment "production" (${missing})`);
  });

  it('reports a broken KOGNIC_CREDENTIALS file', () => {
    const missing = path.join(folder, 'gone.json');

    const error = captureError(() => resolveCredentials({ env: { KOGNIC_CREDENTIALS: missing, ...pair } }));

    expect(error.message).toContain(`KOGNIC_CREDENTIALS (${missing})`);
  });
});

describe('credentials against the sandbox', () => {
  let sandbox: KognicSandbox;

  beforeAll(async () => {
    sandbox = await KognicSandbox.start();
  });

  afterAll(async () => {
    await sandbox.close();
  });

  it('gets a token from a file', async () => {
    const filePath = writeJson(
      'sandbox.json',
      fileContent({ clientId: SANDBOX_CLIENT_ID, clientSecret: SANDBOX_CLIENT_SECRET }),
    );
    const credentials = resolveCredentials({ env: { KOGNIC_CREDENTIALS: filePath } });
    const provider = new TokenProvider({ authUrl: sandbox.url, credentials: credentials!, logger: silentLogger });

    try {
      const token = await provider.getToken();

      expect(token.split('.')).toHaveLength(3);
      expect(sandbox.stats.tokenRequests.map((request) => request.status)).toEqual([200]);
    } finally {
      await provider.close();
    }
  });
});
