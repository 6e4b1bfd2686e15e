/**
 * Connects the real MCP server to the SDK's real Client over an in-memory transport, with the
 * sandbox API on 127.0.0.1 behind it. Every stderr line the server would write is captured.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { CallToolResult, Progress } from '@modelcontextprotocol/sdk/types.js';

import type { Config } from '../../src/config.js';
import { loadCredentials, ServerContext, type ServerContextOptions } from '../../src/context.js';
import { createLogger } from '../../src/log.js';
import { KognicSandbox, SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, type SandboxOptions } from '../../src/sandbox/index.js';
import { createServer } from '../../src/server.js';

export interface HarnessOptions {
  sandbox?: SandboxOptions;
  /** Reuse a running sandbox instead of starting one. */
  existingSandbox?: KognicSandbox;
  config?: Partial<Config>;
  /**
   * Environment the credentials are resolved from. Defaults to KOGNIC_CLIENT_ID and
   * KOGNIC_CLIENT_SECRET set to the sandbox's client.
   */
  env?: NodeJS.ProcessEnv;
  /** Options passed to the context as they are, bypassing credential discovery. */
  context?: Partial<ServerContextOptions>;
  /** Roots the client declares and returns for roots/list, as file URIs. */
  clientRoots?: string[];
}

export interface Harness {
  sandbox: KognicSandbox;
  client: Client;
  context: ServerContext;
  stateDir: string;
  /** Every line the server logged, in order. */
  logLines: string[];
  call(name: string, args?: Record<string, unknown>, options?: CallOptions): Promise<CallToolResult>;
  close(): Promise<void>;
}

export interface CallOptions {
  onprogress?: (progress: Progress) => void;
  signal?: AbortSignal;
  timeoutMs?: number;
}

export function sandboxEnv(): NodeJS.ProcessEnv {
  return { KOGNIC_CLIENT_ID: SANDBOX_CLIENT_ID, KOGNIC_CLIENT_SECRET: SANDBOX_CLIENT_SECRET };
}

export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const sandbox = options.existingSandbox ?? (await KognicSandbox.start(options.sandbox));
  const stateDir = mkdtempSync(path.join(tmpdir(), 'kognic-mcp-state-'));

  const config: Config = {
    datasetUrl: sandbox.url,
    authUrl: sandbox.url,
    logLevel: 'debug',
    sandbox: false,
    roots: [],
    stateDir,
    ...options.config,
  };

  const logLines: string[] = [];
  const { root: loggerRoot, logger } = createLogger({ level: config.logLevel, write: (line) => logLines.push(line) });
  const credentials = loadCredentials(config, options.env ?? sandboxEnv(), logger);
  const context = new ServerContext({ config, logger, ...credentials, ...options.context });
  const server = createServer(context, loggerRoot);

  const capabilities = options.clientRoots === undefined ? {} : { roots: { listChanged: true } };
  const client = new Client({ name: 'kognic-mcp-tests', version: '0.0.0' }, { capabilities });
  if (options.clientRoots !== undefined) {
    const { ListRootsRequestSchema } = await import('@modelcontextprotocol/sdk/types.js');
    const roots = options.clientRoots;
    client.setRequestHandler(ListRootsRequestSchema, async () => ({ roots: roots.map((uri) => ({ uri })) }));
  }

  const [clientTransport, serverTransport] = InMemoryTransport.createLinkedPair();
  await Promise.all([server.connect(serverTransport), client.connect(clientTransport)]);
  // Listing first makes the client validate structured content against each output schema.
  await client.listTools();

  return {
    sandbox,
    client,
    context,
    stateDir,
    logLines,
    async call(name, args = {}, callOptions = {}) {
      return (await client.callTool({ name, arguments: args }, undefined, {
        onprogress: callOptions.onprogress,
        signal: callOptions.signal,
        timeout: callOptions.timeoutMs ?? 120_000,
      })) as CallToolResult;
    },
    async close() {
      await client.close();
      await server.close();
      await context.close();
      if (options.existingSandbox === undefined) {
        await sandbox.close();
      }
    },
  };
}

/** Returns the text of a tool result's first content block. */
export function resultText(result: CallToolResult): string {
  const first = result.content[0];
  return first !== undefined && first.type === 'text' ? first.text : '';
}
