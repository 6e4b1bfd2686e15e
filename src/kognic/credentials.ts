/**
 * Kognic API credentials, found where kognic-auth (the Python client) finds them: a credentials
 * file named by a flag or by KOGNIC_CREDENTIALS, then the KOGNIC_CLIENT_ID and
 * KOGNIC_CLIENT_SECRET pair, then the `credentials` entry of the chosen environments.json
 * environment. Every client secret loaded is registered for redaction.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';

import { ConfigurationError } from '../errors.js';
import { secrets } from '../log.js';

export interface KognicCredentials {
  clientId: string;
  clientSecret: string;
  email?: string;
  userId?: number;
  issuer?: string;
  expires?: Date;
  /**
   * Origin of the credentials, for logs and errors: '--credentials /p', 'KOGNIC_CREDENTIALS (/p)',
   * 'KOGNIC_CLIENT_ID and KOGNIC_CLIENT_SECRET', 'environments.json environment "x" (/p)'.
   */
  source: string;
}

/** Keys that kognic-auth requires in a credentials file. */
const REQUIRED_FILE_KEYS = ['clientId', 'clientSecret', 'email', 'userId', 'issuer'] as const;

const NEW_CREDENTIALS_HINT = 'generate new API credentials in the Kognic app (user menu, "API Credentials")';

export function expandHome(filePath: string): string {
  if (filePath === '~') {
    return homedir();
  }
  if (filePath.startsWith('~/')) {
    return path.join(homedir(), filePath.slice(2));
  }
  return filePath;
}

function readJsonFile(filePath: string, source: string): unknown {
  let text: string;
  try {
    text = readFileSync(filePath, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'the file does not exist' : `it could not be read (${code ?? String(error)})`;
    throw new ConfigurationError(
      `Cannot read the Kognic credentials file ${filePath} (from ${source}): ${reason}. Check the path.`,
      { cause: error },
    );
  }

  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new ConfigurationError(
      `The Kognic credentials file ${filePath} (from ${source}) is not valid JSON: ${(error as Error).message}.`,
      { cause: error },
    );
  }
}

/**
 * Parses the `expires` field as kognic-auth does: ISO-8601, `Z` accepted, fractional seconds
 * beyond 6 digits dropped. Returns undefined when the value cannot be parsed, so that it is ignored.
 */
export function parseExpires(value: unknown): Date | undefined {
  if (typeof value !== 'string') {
    return undefined;
  }

  const match = /^(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2})?)(?:\.(\d+))?(Z|[+-]\d{2}:?\d{2})?$/i.exec(value.trim());
  if (!match) {
    return undefined;
  }

  const [, dateTime, fraction, zone] = match;
  const milliseconds = fraction === undefined ? '' : `.${fraction.slice(0, 3).padEnd(3, '0')}`;

  // NOTE: a timestamp without an offset is read as UTC; kognic-auth compares such a value with
  // the local clock, which only differs on machines whose time zone is not UTC.
  const iso = `${dateTime!.replace(' ', 'T')}${milliseconds}${zone ?? 'Z'}`;
  const time = Date.parse(iso);
  return Number.isNaN(time) ? undefined : new Date(time);
}

function optionalString(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function optionalUserId(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) {
    return value;
  }
  if (typeof value === 'string' && /^\d+$/.test(value)) {
    return Number(value);
  }
  return undefined;
}

/**
 * Reads a credentials file downloaded from the Kognic app. `~` is expanded. Throws a
 * ConfigurationError naming the file when it is missing, not JSON, lacks a required key or has
 * expired at `now`.
 */
export function readCredentialsFile(filePath: string, source: string, now: Date = new Date()): KognicCredentials {
  const resolved = path.resolve(expandHome(filePath));
  const parsed = readJsonFile(resolved, source);

  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigurationError(
      `The Kognic credentials file ${resolved} (from ${source}) must contain a JSON object; use the file downloaded from the Kognic app.`,
    );
  }
  const fields = parsed as Record<string, unknown>;

  for (const key of REQUIRED_FILE_KEYS) {
    if (!(key in fields)) {
      throw new ConfigurationError(
        `Missing key "${key}" in the Kognic credentials file ${resolved} (from ${source}); use the unchanged file downloaded from the Kognic app.`,
      );
    }
  }

  const { clientId, clientSecret } = fields;
  for (const [key, value] of [['clientId', clientId], ['clientSecret', clientSecret]] as const) {
    if (typeof value !== 'string' || value === '') {
      throw new ConfigurationError(
        `Key "${key}" in the Kognic credentials file ${resolved} (from ${source}) must be a non-empty string.`,
      );
    }
  }
  secrets.add(clientSecret as string);

  const expires = parseExpires(fields.expires);
  if (expires !== undefined && now.getTime() >= expires.getTime()) {
    throw new ConfigurationError(
      `Kognic credentials in ${resolved} expired at ${expires.toISOString()}; ${NEW_CREDENTIALS_HINT}.`,
    );
  }

  return {
    clientId: clientId as string,
    clientSecret: clientSecret as string,
    email: optionalString(fields.email),
    userId: optionalUserId(fields.userId),
    issuer: optionalString(fields.issuer),
    expires,
    source,
  };
}

/** Returns the non-empty value of an environment variable, or undefined. */
function envValue(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value === '' ? undefined : value;
}

function credentialsFromClientPair(env: NodeJS.ProcessEnv): KognicCredentials | undefined {
  const clientId = envValue(env, 'KOGNIC_CLIENT_ID');
  const clientSecret = envValue(env, 'KOGNIC_CLIENT_SECRET');
  if (clientId === undefined && clientSecret === undefined) {
    return undefined;
  }

  if (clientSecret === undefined) {
    throw new ConfigurationError(
      'KOGNIC_CLIENT_ID is set but KOGNIC_CLIENT_SECRET is missing; set both, or point KOGNIC_CREDENTIALS at a credentials file.',
    );
  }
  if (clientId === undefined) {
    throw new ConfigurationError(
      'KOGNIC_CLIENT_SECRET is set but KOGNIC_CLIENT_ID is missing; set both, or point KOGNIC_CREDENTIALS at a credentials file.',
    );
  }

  secrets.add(clientSecret);
  return { clientId, clientSecret, source: 'KOGNIC_CLIENT_ID and KOGNIC_CLIENT_SECRET' };
}

/**
 * Reads the credentials named by the `credentials` value of an environments.json entry:
 * a file path, or a `keyring://` reference, which is rejected.
 */
function credentialsFromEnvironment(
  environment: { path: string; environmentName: string },
  now: Date | undefined,
): KognicCredentials {
  const source = `environments.json environment "${environment.environmentName}" (${environment.path})`;

  if (environment.path.startsWith('keyring://')) {
    throw new ConfigurationError(
      `${source} takes its credentials from the system keyring, which this server does not support; ` +
        'set "credentials" to a credentials file path, or set KOGNIC_CREDENTIALS or KOGNIC_CLIENT_ID and KOGNIC_CLIENT_SECRET.',
    );
  }
  return readCredentialsFile(environment.path, source, now);
}

/**
 * Finds the credentials to use, in this order: the `--credentials` file, the file named by
 * KOGNIC_CREDENTIALS, the KOGNIC_CLIENT_ID and KOGNIC_CLIENT_SECRET pair, the `credentials` of
 * the chosen environments.json environment. Returns undefined when none is configured; throws a
 * ConfigurationError when the first source found is broken (later sources are not tried then).
 */
export function resolveCredentials(input: {
  flagFile?: string;
  env: NodeJS.ProcessEnv;
  /** The `credentials` value of the chosen environments.json entry, and that entry's name. */
  environmentFile?: { path: string; environmentName: string };
  now?: Date;
}): KognicCredentials | undefined {
  if (input.flagFile !== undefined) {
    return readCredentialsFile(input.flagFile, `--credentials ${input.flagFile}`, input.now);
  }

  const credentialsPath = envValue(input.env, 'KOGNIC_CREDENTIALS');
  if (credentialsPath !== undefined) {
    return readCredentialsFile(credentialsPath, `KOGNIC_CREDENTIALS (${credentialsPath})`, input.now);
  }

  const fromPair = credentialsFromClientPair(input.env);
  if (fromPair !== undefined) {
    return fromPair;
  }

  if (input.environmentFile !== undefined) {
    return credentialsFromEnvironment(input.environmentFile, input.now);
  }
  return undefined;
}
