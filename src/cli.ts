#!/usr/bin/env node
import './stdout-guard.js';

import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';

import { HELP_TEXT, parseCommandLine, type Config } from './config.js';
import { ServerContext } from './context.js';
import { ConfigurationError } from './errors.js';
import { resolveCredentials, type KognicCredentials } from './kognic/credentials.js';
import { createLogger, secrets, type Logger } from './log.js';
import { KognicSandbox, SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET } from './sandbox/index.js';
import { createServer } from './server.js';
import { PACKAGE_NAME, PACKAGE_VERSION } from './version.js';

/** How long shutdown may take before the process exits anyway. Hosts expect an exit within a few seconds of closing stdin. */
const SHUTDOWN_TIMEOUT_MS = 1_500;

interface Credentials {
  credentials?: KognicCredentials;
  credentialsError?: Error;
}

function loadCredentials(config: Config, logger: Logger): Credentials {
  try {
    const credentials = resolveCredentials({
      flagFile: config.credentialsFile,
      env: process.env,
      environmentFile:
        config.environment?.credentials === undefined
          ? undefined
          : { path: config.environment.credentials, environmentName: config.environment.name },
    });
    if (credentials === undefined) {
      logger.warn('no Kognic credentials configured; tools that call the API will return an error until they are set');
    } else {
      logger.info('Kognic credentials loaded', { source: credentials.source });
    }
    return { credentials };
  } catch (error) {
    logger.error('Kognic credentials could not be loaded', { error: (error as Error).message });
    return { credentialsError: error as Error };
  }
}

async function startSandbox(config: Config, logger: Logger): Promise<{ sandbox: KognicSandbox; credentials: KognicCredentials }> {
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

  let sandbox: KognicSandbox | undefined;
  let credentials: Credentials;
  if (config.sandbox) {
    const started = await startSandbox(config, logger);
    sandbox = started.sandbox;
    credentials = { credentials: started.credentials };
  } else {
    credentials = loadCredentials(config, logger);
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

  await run(command.config);
}

process.on('uncaughtException', (error) => {
  process.stderr.write(`${PACKAGE_NAME}: unexpected error: ${secrets.redact(error.stack ?? error.message)}\n`);
  process.exit(1);
});

main().catch((error: unknown) => {
  process.stderr.write(`${PACKAGE_NAME}: ${secrets.redact((error as Error)?.message ?? String(error))}\n`);
  process.exit(1);
});
