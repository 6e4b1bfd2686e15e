#!/usr/bin/env node
import './stdout-guard.js';
import './heap-settings.js';

import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';

import { HELP_TEXT, parseCommandLine, type Config } from './config.js';
import { loadCredentials, ServerContext, type ServerContextOptions } from './context.js';
import { ConfigurationError } from './errors.js';
import type { KognicCredentials } from './kognic/credentials.js';
import { createLogger, secrets, type Logger } from './log.js';
import { AllowedRoots } from './predictions/roots.js';
import { validatePrediction } from './predictions/validation.js';
import { loadUndici } from './kognic/undici.js';
import type { KognicSandbox } from './sandbox/index.js';
import { createServer } from './server.js';
import { PACKAGE_NAME, PACKAGE_VERSION } from './version.js';

/** Delay after start before the warm-up, so that it does not slow the host's first requests. */
const WARM_UP_DELAY_MS = 300;

/**
 * Compiles the OpenLABEL schema and loads undici while the host is idle, so that the first
 * validation or upload does not wait for them (together about 150 ms on a 2-core machine).
 */
function warmUp(logger: Logger): void {
  try {
    validatePrediction({ sceneUuid: undefined, openlabel: { openlabel: { metadata: { schema_version: '1.0.0' } } } });
  } catch (error) {
    logger.warn('warm-up validation failed; the first validation reports the cause', { error: (error as Error).message });
  }
  void loadUndici();
}

/** How long shutdown may take before the process exits anyway. Hosts expect an exit within a few seconds of closing stdin. */
const SHUTDOWN_TIMEOUT_MS = 1_500;

async function startSandbox(config: Config, logger: Logger): Promise<{ sandbox: KognicSandbox; credentials: KognicCredentials }> {
  // Imported only in sandbox mode, so that a normal start does not load it.
  const { KognicSandbox, SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET } = await import('./sandbox/index.js');
  const sandbox = await KognicSandbox.start();
  config.datasetUrl = sandbox.url;
  config.authUrl = sandbox.url;
  if (config.roots.length === 0) {
    config.roots = [process.cwd()];
  }
  secrets.add(SANDBOX_CLIENT_SECRET);
  logger.info('sandbox API started; all calls go to it', { url: sandbox.url });
  return {
    sandbox,
    credentials: { clientId: SANDBOX_CLIENT_ID, clientSecret: SANDBOX_CLIENT_SECRET, source: 'the built-in sandbox' },
  };
}

async function run(config: Config): Promise<void> {
  const { root: loggerRoot, logger } = createLogger({ level: config.logLevel });

  // A missing --root folder is a setup mistake: report it at start rather than on every call.
  try {
    await AllowedRoots.create(config.roots);
  } catch (error) {
    throw new ConfigurationError(`${(error as Error).message} (from --root or KOGNIC_MCP_ROOTS)`);
  }

  let sandbox: KognicSandbox | undefined;
  let credentials: Pick<ServerContextOptions, 'credentials' | 'credentialsError'>;
  if (config.sandbox) {
    const started = await startSandbox(config, logger);
    sandbox = started.sandbox;
    credentials = { credentials: started.credentials };
  } else {
    credentials = loadCredentials(config, process.env, logger);
  }

  const context = new ServerContext({ config, logger, ...credentials });
  const server = createServer(context, loggerRoot);
  const transport = new StdioServerTransport();

  let shuttingDown = false;
  const shutdown = async (reason: string): Promise<void> => {
    if (shuttingDown) {
      return;
    }
    shuttingDown = true;
    logger.info('shutting down', { reason });
    setTimeout(() => process.exit(0), SHUTDOWN_TIMEOUT_MS).unref();

    await Promise.allSettled([server.close(), context.close()]);
    await sandbox?.close();
    process.exit(0);
  };

  // The SDK's stdio transport does not watch for stdin closing, so the process would linger
  // after the host goes away while sockets or timers keep the event loop alive.
  process.stdin.on('end', () => void shutdown('stdin ended'));
  process.stdin.on('close', () => void shutdown('stdin closed'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));

  await server.connect(transport);
  setTimeout(() => warmUp(logger), WARM_UP_DELAY_MS).unref();
  logger.info('MCP server ready on stdio', {
    version: PACKAGE_VERSION,
    datasetUrl: config.datasetUrl,
    authUrl: config.authUrl,
    roots: config.roots.join(','),
    stateDir: config.stateDir,
  });
}

async function main(): Promise<void> {
  let command;
  try {
    command = parseCommandLine(process.argv.slice(2), process.env);
  } catch (error) {
    if (error instanceof ConfigurationError) {
      process.stderr.write(`${PACKAGE_NAME}: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }

  if (command.kind === 'help') {
    process.stdout.write(HELP_TEXT);
    return;
  }
  if (command.kind === 'version') {
    process.stdout.write(`${PACKAGE_VERSION}\n`);
    return;
  }

  try {
    await run(command.config);
  } catch (error) {
    if (error instanceof ConfigurationError) {
      process.stderr.write(`${PACKAGE_NAME}: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
}

process.on('uncaughtException', (error) => {
  process.stderr.write(`${PACKAGE_NAME}: unexpected error: ${secrets.redact(error.stack ?? error.message)}\n`);
  process.exit(1);
});

main().catch((error: unknown) => {
  process.stderr.write(`${PACKAGE_NAME}: ${secrets.redact((error as Error)?.message ?? String(error))}\n`);
  process.exit(1);
});
