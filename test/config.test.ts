import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { checkBaseUrl, DEFAULT_AUTH_URL, DEFAULT_DATASET_URL, parseCommandLine, type Config } from '../src/config.js';
import { ConfigurationError } from '../src/errors.js';

/** Returns an environment with an empty XDG config folder, so no real environments.json is read. */
function isolatedEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const home = mkdtempSync(path.join(tmpdir(), 'kognic-config-'));
  return { XDG_CONFIG_HOME: path.join(home, 'config'), XDG_STATE_HOME: path.join(home, 'state'), ...extra };
}

function runConfig(argv: string[], env: NodeJS.ProcessEnv): Config {
  const command = parseCommandLine(argv, env);
  if (command.kind !== 'run') {
    throw new Error(`expected a run command, got ${command.kind}`);
  }
  return command.config;
}

function writeEnvironments(env: NodeJS.ProcessEnv, content: unknown): string {
  const folder = path.join(env.XDG_CONFIG_HOME!, 'kognic');
  mkdirSync(folder, { recursive: true });
  const file = path.join(folder, 'environments.json');
  writeFileSync(file, JSON.stringify(content));
  return file;
}

describe('parseCommandLine', () => {
  it('uses the defaults with no flags', () => {
    const env = isolatedEnv();
    const config = runConfig([], env);
    expect(config.datasetUrl).toBe(DEFAULT_DATASET_URL);
    expect(config.authUrl).toBe(DEFAULT_AUTH_URL);
    expect(config.logLevel).toBe('info');
    expect(config.sandbox).toBe(false);
    expect(config.roots).toEqual([]);
    expect(config.stateDir).toBe(path.join(env.XDG_STATE_HOME!, 'kognic-dataset-mcp'));
  });

  it('returns help and version commands', () => {
    expect(parseCommandLine(['--help'], isolatedEnv()).kind).toBe('help');
    expect(parseCommandLine(['-h'], isolatedEnv()).kind).toBe('help');
    expect(parseCommandLine(['--version'], isolatedEnv()).kind).toBe('version');
  });

  it('rejects an unknown flag by name', () => {
    expect(() => parseCommandLine(['--bogus'], isolatedEnv())).toThrow(ConfigurationError);
    expect(() => parseCommandLine(['--bogus'], isolatedEnv())).toThrow(/--bogus/);
  });

  it('rejects a positional argument', () => {
    expect(() => parseCommandLine(['extra'], isolatedEnv())).toThrow(/extra/);
  });

  it('prefers flags over environment variables', () => {
    const env = isolatedEnv({
      KOGNIC_DATASET_URL: 'https://dataset.env.example',
      KOGNIC_AUTH_URL: 'https://auth.env.example',
      KOGNIC_MCP_LOG_LEVEL: 'warning',
    });
    const config = runConfig(
      ['--dataset-url', 'https://dataset.flag.example', '--auth-url', 'https://auth.flag.example', '--log-level', 'debug'],
      env,
    );
    expect(config.datasetUrl).toBe('https://dataset.flag.example');
    expect(config.authUrl).toBe('https://auth.flag.example');
    expect(config.logLevel).toBe('debug');
  });

  it('reads environment variables without flags', () => {
    const env = isolatedEnv({
      KOGNIC_DATASET_URL: 'https://dataset.env.example/',
      KOGNIC_AUTH_URL: 'https://auth.env.example',
      KOGNIC_MCP_LOG_LEVEL: 'error',
      KOGNIC_MCP_STATE_DIR: '/tmp/kognic-state',
    });
    const config = runConfig([], env);
    expect(config.datasetUrl).toBe('https://dataset.env.example');
    expect(config.authUrl).toBe('https://auth.env.example');
    expect(config.logLevel).toBe('error');
    expect(config.stateDir).toBe('/tmp/kognic-state');
  });

  it('rejects an unknown log level', () => {
    expect(() => runConfig(['--log-level', 'verbose'], isolatedEnv())).toThrow(/verbose/);
  });

  it('collects repeated roots and resolves them', () => {
    const config = runConfig(['--root', '/data/a', '--root', 'relative/b'], isolatedEnv());
    expect(config.roots).toEqual(['/data/a', path.resolve('relative/b')]);
  });

  it('reads roots from KOGNIC_MCP_ROOTS', () => {
    const config = runConfig([], isolatedEnv({ KOGNIC_MCP_ROOTS: `/data/a${path.delimiter}/data/b` }));
    expect(config.roots).toEqual(['/data/a', '/data/b']);
  });

  it('takes auth server and credentials from environments.json', () => {
    const env = isolatedEnv();
    const file = writeEnvironments(env, {
      default_environment: 'production',
      environments: {
        production: { host: 'app.kognic.com', auth_server: 'https://auth.app.kognic.com', credentials: '/creds/prod.json' },
        staging: { host: 'staging.kognic.com', auth_server: 'https://auth.staging.kognic.com', credentials: '/creds/staging.json' },
      },
    });
    const config = runConfig(['--dataset-url', 'https://dataset.staging.kognic.com'], env);
    expect(config.authUrl).toBe('https://auth.staging.kognic.com');
    expect(config.environment).toEqual({ name: 'staging', file, credentials: '/creds/staging.json' });
  });

  it('picks the environment named by --env', () => {
    const env = isolatedEnv();
    writeEnvironments(env, {
      environments: {
        staging: { host: 'staging.kognic.com', auth_server: 'https://auth.staging.kognic.com' },
      },
    });
    const config = runConfig(['--env', 'staging'], env);
    expect(config.environment?.name).toBe('staging');
    expect(config.datasetUrl).toBe('https://dataset.staging.kognic.com');
    expect(config.authUrl).toBe('https://auth.staging.kognic.com');
  });

  it('falls back to the default environment', () => {
    const env = isolatedEnv();
    writeEnvironments(env, {
      default_environment: 'mine',
      environments: { mine: { host: 'other.example', auth_server: 'https://auth.other.example' } },
    });
    expect(runConfig([], env).environment?.name).toBe('mine');
  });

  it('prefers KOGNIC_AUTH_URL over environments.json', () => {
    const env = isolatedEnv({ KOGNIC_AUTH_URL: 'https://auth.env.example' });
    writeEnvironments(env, {
      default_environment: 'production',
      environments: { production: { host: 'app.kognic.com', auth_server: 'https://auth.file.example' } },
    });
    expect(runConfig([], env).authUrl).toBe('https://auth.env.example');
  });

  it('rejects an --env that is not in the file', () => {
    const env = isolatedEnv();
    writeEnvironments(env, { environments: { production: { host: 'app.kognic.com' } } });
    expect(() => runConfig(['--env', 'nope'], env)).toThrow(/"nope".*known: production/);
  });

  it('rejects an invalid environments.json', () => {
    const env = isolatedEnv();
    const folder = path.join(env.XDG_CONFIG_HOME!, 'kognic');
    mkdirSync(folder, { recursive: true });
    writeFileSync(path.join(folder, 'environments.json'), '{not json');
    expect(() => runConfig([], env)).toThrow(/environments\.json is not valid JSON/);
  });

  it('sandbox ignores invalid environments.json', () => {
    const env = isolatedEnv();
    const folder = path.join(env.XDG_CONFIG_HOME!, 'kognic');
    mkdirSync(folder, { recursive: true });
    writeFileSync(path.join(folder, 'environments.json'), '{not json');

    const config = runConfig(['--sandbox', '--env', 'production'], env);

    expect(config.sandbox).toBe(true);
    expect(config.environment).toBeUndefined();
  });

  it('resolves --credentials to an absolute path', () => {
    const config = runConfig(['--credentials', 'creds.json'], isolatedEnv());
    expect(config.credentialsFile).toBe(path.resolve('creds.json'));
  });

  it('sets sandbox mode', () => {
    expect(runConfig(['--sandbox'], isolatedEnv()).sandbox).toBe(true);
  });
});

describe('checkBaseUrl', () => {
  it('rejects plain HTTP for a remote host', () => {
    expect(() => checkBaseUrl('http://dataset.app.kognic.com', '--dataset-url')).toThrow(ConfigurationError);
    expect(() => checkBaseUrl('http://dataset.app.kognic.com', '--dataset-url')).toThrow(/--dataset-url.*plain HTTP/);
  });

  it('accepts plain HTTP for loopback hosts', () => {
    expect(checkBaseUrl('http://127.0.0.1:8080', 'x')).toBe('http://127.0.0.1:8080');
    expect(checkBaseUrl('http://localhost:8080/', 'x')).toBe('http://localhost:8080');
    expect(checkBaseUrl('http://[::1]:8080', 'x')).toBe('http://[::1]:8080');
    expect(checkBaseUrl('http://127.1.2.3', 'x')).toBe('http://127.1.2.3');
  });

  it('rejects a host that only looks like loopback', () => {
    expect(() => checkBaseUrl('http://127.0.0.1.example.com', 'x')).toThrow(/plain HTTP/);
  });

  it('rejects text that is not a URL', () => {
    expect(() => checkBaseUrl('dataset.app.kognic.com', 'KOGNIC_DATASET_URL')).toThrow(/KOGNIC_DATASET_URL is not a valid URL/);
  });

  it('rejects other schemes', () => {
    expect(() => checkBaseUrl('ftp://example.com', 'x')).toThrow(/https/);
  });

  it('rejects an HTTP URL from the environment', () => {
    const env = isolatedEnv({ KOGNIC_AUTH_URL: 'http://auth.example.com' });
    expect(() => runConfig([], env)).toThrow(/KOGNIC_AUTH_URL/);
  });
});
