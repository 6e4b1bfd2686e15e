/**
 * registerTool with a tool of the test's own, served by a real McpServer to the SDK's Client in
 * memory: the text block of every result stays within its share of the result's bound.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';

import { ServerContext } from '../src/context.js';
import { UserInputError } from '../src/errors.js';
import { silentLogger } from '../src/log.js';
import { MAX_TEXT_JSON_CHARS } from '../src/predictions/summary.js';
import { defineTool, registerTool } from '../src/tools/define.js';

const LONG_TEXT = `counts first. ${'x'.repeat(100_000)} report path last.`;

const echoTool = defineTool({
  name: 'echo_long_text',
  title: 'Echo a long text',
  description: 'Returns a text far over the result bound, or throws it as an error.',
  inputSchema: z.object({ fail: z.boolean() }),
  outputSchema: z.object({ length: z.number() }),
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  async handler(args) {
    if (args.fail) {
      throw new UserInputError(LONG_TEXT);
    }
    return { structured: { length: LONG_TEXT.length }, text: LONG_TEXT };
  },
});

let client: Client;
let server: McpServer;

beforeEach(async () => {
  const context = new ServerContext({
    config: { datasetUrl: 'http://127.0.0.1:1', authUrl: 'http://127.0.0.1:1', logLevel: 'error', sandbox: false, roots: [], stateDir: '/nonexistent' },
    logger: silentLogger,
  });
  server = new McpServer({ name: 'define-tool-test', version: '0' });
  registerTool(server, context, echoTool);
  client = new Client({ name: 'define-tool-test', version: '0' });
  const [clientTransport, serverTransport] = InMemoryTransport.createLinkedPair();
  await Promise.all([server.connect(serverTransport), client.connect(clientTransport)]);
});

afterEach(async () => {
  await client.close();
  await server.close();
});

function textOf(result: CallToolResult): string {
  const first = result.content[0];
  return first?.type === 'text' ? first.text : '';
}

describe('registerTool', () => {
  it('cuts a long result text', async () => {
    const result = (await client.callTool({ name: 'echo_long_text', arguments: { fail: false } })) as CallToolResult;
    const text = textOf(result);

    expect(JSON.stringify(text).length).toBeLessThanOrEqual(MAX_TEXT_JSON_CHARS);
    expect(text.startsWith('counts first.')).toBe(true);
    expect(text.endsWith('report path last.')).toBe(true);
    expect(result.structuredContent).toEqual({ length: LONG_TEXT.length });
  });

  it('cuts a long error text', async () => {
    const result = (await client.callTool({ name: 'echo_long_text', arguments: { fail: true } })) as CallToolResult;

    expect(result.isError).toBe(true);
    expect(JSON.stringify(textOf(result)).length).toBeLessThanOrEqual(MAX_TEXT_JSON_CHARS);
    expect(textOf(result).startsWith('counts first.')).toBe(true);
  });
});
