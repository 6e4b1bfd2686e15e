/**
 * The server's settings and where they come from. Flags win over environment variables, which
 * win over `environments.json`, the file kognic-auth reads.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

import { ConfigurationError } from './errors.js';
import { isLogLevel, LOG_LEVELS, type LogLevel } from './log.js';
import { defaultStateDir } from './predictions/journal.js';

export const DEFAULT_DATASET_URL = 'https://dataset.app.kognic.com';
export const DEFAULT_AUTH_URL = 'https://auth.app.kognic.com';
export const DEFAULT_LOG_LEVEL: LogLevel = 'info';

export interface EnvironmentSelection {
  /** Name of the chosen entry in `environments.json`. */
  name: string;
  /** Path of the `environments.json` file it came from. */
  file: string;
  /** The entry's `credentials` value: a file path, or a `keyring://` reference that is not supported. */
  credentials?: string;
}

export interface Config {
  datasetUrl: string;
  authUrl: string;
  /** `--credentials FILE`; wins over every other credentials source. */
  credentialsFile?: string;
  environment?: EnvironmentSelection;
  logLevel: LogLevel;
  /** Run against an in-process sandbox API instead of Kognic. */
  sandbox: boolean;
  /** Folders that file paths in tool calls must lie in, unless the client offers MCP roots. */
  roots: string[];
  /** Folder for upload journals and reports. */
  stateDir: string;
}

export type CliCommand = { kind: 'help' } | { kind: 'version' } | { kind: 'run'; config: Config };

const OPTIONS = {
  'dataset-url': { type: 'string' },
  'auth-url': { type: 'string' },
  credentials: { type: 'string' },
  env: { type: 'string' },
  'log-level': { type: 'string' },
  sandbox: { type: 'boolean' },
  root: { type: 'string', multiple: true },
  'state-dir': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
} as const;

export const HELP_TEXT = `Usage: kognic-dataset-mcp [options]

A stdio MCP server for Kognic datasets: list datasets and prediction groups, create groups,
validate OpenLABEL predictions and upload them. An MCP host starts it; it reads JSON-RPC on
stdin and writes it on stdout, and logs to stderr.

Options (each flag wins over its environment variable):
  --dataset-url URL   Dataset API base URL [KOGNIC_DATASET_URL] (default ${DEFAULT_DATASET_URL})
  --auth-url URL      Auth server base URL [KOGNIC_AUTH_URL] (default ${DEFAULT_AUTH_URL})
  --credentials FILE  Kognic API credentials JSON file; wins over KOGNIC_CREDENTIALS and
                      KOGNIC_CLIENT_ID/KOGNIC_CLIENT_SECRET
  --env NAME          Environment to use from environments.json (the kognic-auth file)
  --root DIR          Folder that file paths may be read from; repeatable [KOGNIC_MCP_ROOTS,
                      separated by '${path.delimiter}']. MCP roots offered by the client replace these.
  --state-dir DIR     Folder for upload journals and reports [KOGNIC_MCP_STATE_DIR]
                      (default $XDG_STATE_HOME/kognic-dataset-mcp, else
                      ~/.local/state/kognic-dataset-mcp)
  --log-level LEVEL   ${LOG_LEVELS.join(', ')} [KOGNIC_MCP_LOG_LEVEL] (default ${DEFAULT_LOG_LEVEL})
  --sandbox           Serve a built-in Kognic-compatible API on 127.0.0.1 with sample data,
                      so every tool can be tried without a Kognic account. Credentials
                      settings, --env and environments.json are then ignored.
  -h, --help          Print this help and exit
  -v, --version       Print the version and exit

Credentials are found as kognic-auth finds them: --credentials, then KOGNIC_CREDENTIALS (path of
a credentials JSON file), then KOGNIC_CLIENT_ID with KOGNIC_CLIENT_SECRET, then the credentials
of the environments.json entry. Non-HTTPS URLs are accepted only for loopback hosts.
`;

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

export function expandHome(value: string, home = homedir()): string {
  if (value === '~') {
    return home;
  }
  if (value.startsWith('~/') || value.startsWith('~\\')) {
    return path.join(home, value.slice(2));
  }
  return value;
}

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

function isLoopbackHost(hostname: string): boolean {
  return LOOPBACK_HOSTS.has(hostname) || /^127(\.\d{1,3}){3}$/.test(hostname);
}

/**
 * Returns `value` as a normalised base URL (no trailing slash), or throws when it is not a URL or
 * would send credentials in clear text: plain HTTP is allowed only for loopback hosts.
 */
export function checkBaseUrl(value: string, setting: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigurationError(`${setting} is not a valid URL: "${value}". Pass a full URL such as ${DEFAULT_DATASET_URL}.`);
  }

  if (url.protocol === 'http:' && !isLoopbackHost(url.hostname)) {
    throw new ConfigurationError(
      `${setting} "${value}" uses plain HTTP for a host that is not loopback. ` +
        'Use https:// (plain http:// is accepted only for localhost and 127.0.0.1).',
    );
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new ConfigurationError(`${setting} "${value}" must use https://.`);
  }
  if (url.search !== '' || url.hash !== '') {
    throw new ConfigurationError(`${setting} "${value}" must not contain a query or fragment.`);
  }

  return url.href.replace(/\/+$/, '');
}

export function environmentsFilePath(env: NodeJS.ProcessEnv, home = homedir()): string {
  const configHome = nonEmpty(env.XDG_CONFIG_HOME) ?? path.join(home, '.config');
  return path.join(configHome, 'kognic', 'environments.json');
}

interface EnvironmentEntry {
  host?: string;
  auth_server?: string;
  credentials?: string;
}

interface EnvironmentsFile {
  default_environment?: string;
  environments: Record<string, EnvironmentEntry>;
}

function readEnvironmentsFile(file: string): EnvironmentsFile | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      return undefined;
    }
    throw new ConfigurationError(`Cannot read ${file}: ${(error as Error).message}.`);
  }

  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new ConfigurationError(`${file} is not valid JSON (${(error as Error).message}). Fix or remove the file.`);
  }

  const environments = (parsed as { environments?: unknown } | null)?.environments;
  if (typeof environments !== 'object' || environments === null || Array.isArray(environments)) {
    throw new ConfigurationError(`${file} has no "environments" object. Fix or remove the file.`);
  }
  const defaultName = (parsed as { default_environment?: unknown }).default_environment;

  return {
    default_environment: typeof defaultName === 'string' ? defaultName : undefined,
    environments: environments as Record<string, EnvironmentEntry>,
  };
}

function hostMatches(hostname: string, environmentHost: string): boolean {
  const host = environmentHost.toLowerCase();
  return hostname === host || hostname.endsWith(`.${host}`);
}

/**
 * Picks an environment the way kognic-auth does: the one named by `--env`, else the one whose
 * `host` matches the dataset URL's host (exactly or as a parent domain), else the default.
 */
function selectEnvironment(
  file: string,
  environments: EnvironmentsFile,
  requestedName: string | undefined,
  datasetUrl: string | undefined,
): { name: string; entry: EnvironmentEntry } | undefined {
  if (requestedName !== undefined) {
    const entry = environments.environments[requestedName];
    if (entry === undefined) {
      const known = Object.keys(environments.environments).join(', ') || 'none';
      throw new ConfigurationError(`--env "${requestedName}" is not an environment in ${file} (known: ${known}).`);
    }
    return { name: requestedName, entry };
  }

  if (datasetUrl !== undefined) {
    const hostname = new URL(datasetUrl).hostname.toLowerCase();
    for (const [name, entry] of Object.entries(environments.environments)) {
      if (typeof entry.host === 'string' && hostMatches(hostname, entry.host)) {
        return { name, entry };
      }
    }
  }

  const defaultName = environments.default_environment;
  const defaultEntry = defaultName === undefined ? undefined : environments.environments[defaultName];
  return defaultName !== undefined && defaultEntry !== undefined ? { name: defaultName, entry: defaultEntry } : undefined;
}

function readRoots(flagRoots: string[] | undefined, env: NodeJS.ProcessEnv): string[] {
  const values = flagRoots ?? (nonEmpty(env.KOGNIC_MCP_ROOTS)?.split(path.delimiter) ?? []);
  return values.map((root) => root.trim()).filter((root) => root !== '').map((root) => path.resolve(expandHome(root)));
}

/**
 * Parses the command line and the environment into a command. Throws ConfigurationError for an
 * unknown flag, a missing flag value or an invalid setting.
 */
export function parseCommandLine(argv: string[], env: NodeJS.ProcessEnv): CliCommand {
  let values: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; strict: true; allowPositionals: false }>>['values'];
  try {
    values = parseArgs({ args: argv, options: OPTIONS, strict: true, allowPositionals: false }).values;
  } catch (error) {
    throw new ConfigurationError(`${(error as Error).message}. Run kognic-dataset-mcp --help to see the options.`);
  }

  if (values.help) {
    return { kind: 'help' };
  }
  if (values.version) {
    return { kind: 'version' };
  }

  return { kind: 'run', config: resolveConfig(values, env) };
}

function resolveConfig(values: { [K in keyof typeof OPTIONS]?: unknown }, env: NodeJS.ProcessEnv): Config {
  const flag = (name: keyof typeof OPTIONS): string | undefined => nonEmpty(values[name] as string | undefined);

  const logLevelText = flag('log-level') ?? nonEmpty(env.KOGNIC_MCP_LOG_LEVEL) ?? DEFAULT_LOG_LEVEL;
  if (!isLogLevel(logLevelText)) {
    throw new ConfigurationError(`Log level "${logLevelText}" is not one of ${LOG_LEVELS.join(', ')}.`);
  }

  const explicitDatasetUrl = flag('dataset-url') ?? nonEmpty(env.KOGNIC_DATASET_URL);
  const explicitAuthUrl = flag('auth-url') ?? nonEmpty(env.KOGNIC_AUTH_URL);

  // The sandbox serves its own API and credentials, so it skips environments.json and --env, and
  // a broken file does not stop it from starting.
  const sandbox = values.sandbox === true;
  const environmentsPath = environmentsFilePath(env);
  const environments = sandbox ? undefined : readEnvironmentsFile(environmentsPath);
  const requestedEnvironment = sandbox ? undefined : flag('env');
  if (requestedEnvironment !== undefined && environments === undefined) {
    throw new ConfigurationError(`--env "${requestedEnvironment}" was given but ${environmentsPath} does not exist.`);
  }
  const selected =
    environments === undefined
      ? undefined
      : selectEnvironment(environmentsPath, environments, requestedEnvironment, explicitDatasetUrl ?? DEFAULT_DATASET_URL);

  // NOTE: environments.json names the platform host (e.g. "app.kognic.com"), not the dataset API
  // URL; "dataset.<host>" follows the pattern of the production hosts and is a guess for others.
  const environmentDatasetUrl =
    requestedEnvironment !== undefined && typeof selected?.entry.host === 'string'
      ? `https://dataset.${selected.entry.host}`
      : undefined;
  const environmentAuthUrl = typeof selected?.entry.auth_server === 'string' ? selected.entry.auth_server : undefined;

  const datasetUrl = checkBaseUrl(explicitDatasetUrl ?? environmentDatasetUrl ?? DEFAULT_DATASET_URL, datasetUrlSetting(values, env));
  const authUrl = checkBaseUrl(explicitAuthUrl ?? environmentAuthUrl ?? DEFAULT_AUTH_URL, authUrlSetting(values, env, environmentsPath));

  const credentialsFile = flag('credentials');
  const stateDir = flag('state-dir') ?? nonEmpty(env.KOGNIC_MCP_STATE_DIR);

  return {
    datasetUrl,
    authUrl,
    credentialsFile: credentialsFile === undefined ? undefined : path.resolve(expandHome(credentialsFile)),
    environment:
      selected === undefined
        ? undefined
        : {
            name: selected.name,
            file: environmentsPath,
            credentials: typeof selected.entry.credentials === 'string' ? selected.entry.credentials : undefined,
          },
    logLevel: logLevelText,
    sandbox,
    roots: readRoots(values.root as string[] | undefined, env),
    stateDir: stateDir === undefined ? defaultStateDir(env) : path.resolve(expandHome(stateDir)),
  };
}

function datasetUrlSetting(values: { [key: string]: unknown }, env: NodeJS.ProcessEnv): string {
  if (nonEmpty(values['dataset-url'] as string | undefined) !== undefined) {
    return '--dataset-url';
  }
  return nonEmpty(env.KOGNIC_DATASET_URL) !== undefined ? 'KOGNIC_DATASET_URL' : 'The dataset URL';
}

function authUrlSetting(values: { [key: string]: unknown }, env: NodeJS.ProcessEnv, environmentsPath: string): string {
  if (nonEmpty(values['auth-url'] as string | undefined) !== undefined) {
    return '--auth-url';
  }
  return nonEmpty(env.KOGNIC_AUTH_URL) !== undefined ? 'KOGNIC_AUTH_URL' : `The auth_server in ${environmentsPath}`;
}
