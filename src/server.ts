/** Builds the MCP server with every tool registered and no transport, so tests can connect it in memory. */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import {
  RootsListChangedNotificationSchema,
  SetLevelRequestSchema,
  type LoggingLevel,
} from '@modelcontextprotocol/sdk/types.js';

import type { ServerContext } from './context.js';
import type { LoggerRoot, LogLevel } from './log.js';
import { registerTools } from './tools/index.js';
import { PACKAGE_NAME, PACKAGE_VERSION } from './version.js';

const INSTRUCTIONS = [
  'Tools for Kognic datasets and model predictions.',
  'Typical flow: list_datasets to find the dataset, list_prediction_groups or create_prediction_group to get a group,',
  'validate_predictions to check OpenLABEL files, then upload_predictions.',
  'A long upload returns status "running" with a jobId; poll it with get_upload_job.',
].join(' ');

const MCP_LEVEL_RANK: Record<LoggingLevel, number> = {
  debug: 0,
  info: 1,
  notice: 2,
  warning: 3,
  error: 4,
  critical: 5,
  alert: 6,
  emergency: 7,
};

const LOG_LEVEL_TO_MCP: Record<LogLevel, LoggingLevel> = { debug: 'debug', info: 'info', warning: 'warning', error: 'error' };

/**
 * Sends log records to the client as `notifications/message`, starting only once the client has
 * chosen a level with `logging/setLevel`, and only records at or above that level.
 */
function forwardLogsToClient(server: McpServer, loggerRoot: LoggerRoot): () => void {
  let clientLevel: LoggingLevel | undefined;

  server.server.setRequestHandler(SetLevelRequestSchema, async (request) => {
    clientLevel = request.params.level;
    return {};
  });

  return loggerRoot.addSink((record) => {
    const level = LOG_LEVEL_TO_MCP[record.level];
    if (clientLevel === undefined || MCP_LEVEL_RANK[level] < MCP_LEVEL_RANK[clientLevel]) {
      return;
    }
    server.server
      .sendLoggingMessage({ level, logger: PACKAGE_NAME, data: { message: record.message, ...record.fields } })
      .catch(() => {
        // The session may be closing; stderr still has the line.
      });
  });
}

/** Lets the context request the client's roots, caching the list until the client reports a change. */
function provideClientRoots(server: McpServer, context: ServerContext): void {
  let cached: Promise<string[] | undefined> | undefined;

  server.server.setNotificationHandler(RootsListChangedNotificationSchema, async () => {
    cached = undefined;
    context.logger.info('client roots changed');
  });

  context.clientRoots = () => {
    if (server.server.getClientCapabilities()?.roots === undefined) {
      return Promise.resolve(undefined);
    }
    cached ??= server.server.listRoots().then(
      ({ roots }) => roots.map((root) => root.uri),
      (error: unknown) => {
        cached = undefined;
        context.logger.warn('listing the client roots failed; using --root folders', { error: (error as Error).message });
        return undefined;
      },
    );
    return cached;
  };
}

export function createServer(context: ServerContext, loggerRoot?: LoggerRoot): McpServer {
  const server = new McpServer(
    { name: PACKAGE_NAME, title: 'Kognic dataset predictions', version: PACKAGE_VERSION },
    { capabilities: { logging: {} }, instructions: INSTRUCTIONS },
  );

  registerTools(server, context);
  provideClientRoots(server, context);

  if (loggerRoot !== undefined) {
    const removeSink = forwardLogsToClient(server, loggerRoot);
    const previousOnClose = server.server.onclose;
    server.server.onclose = () => {
      removeSink();
      previousOnClose?.();
    };
  }

  return server;
}
