/**
 * The one way tools are declared and registered: a definition contains the name, the texts, the
 * schemas, the annotations and a handler that returns structured data plus a short text. Errors
 * thrown by a handler become an `isError` result here, with secrets removed.
 */
import type { McpServer, RegisteredTool } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type { CallToolResult, ServerNotification, ServerRequest } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';

import type { ServerContext } from '../context.js';
import { cutText, MAX_TEXT_JSON_CHARS } from '../predictions/summary.js';
import { formatToolError } from './errors.js';
import { quoteInput } from './input.js';

/** Unknown argument names that an error message lists; the rest are counted. */
const MAX_LISTED_UNKNOWN_ARGUMENTS = 5;

export type ToolExtra = RequestHandlerExtra<ServerRequest, ServerNotification>;

export interface ToolAnnotations {
  readOnlyHint: boolean;
  destructiveHint: boolean;
  idempotentHint: boolean;
  openWorldHint: boolean;
}

export interface ToolOutput<Output> {
  structured: Output;
  /** A short summary for hosts that show only text content. */
  text: string;
}

export interface ToolDefinition<Input extends z.ZodObject, Output extends z.ZodObject> {
  name: string;
  title: string;
  description: string;
  inputSchema: Input;
  outputSchema: Output;
  annotations: ToolAnnotations;
  handler(args: z.output<Input>, context: ServerContext, extra: ToolExtra): Promise<ToolOutput<z.output<Output>>>;
}

export function defineTool<Input extends z.ZodObject, Output extends z.ZodObject>(
  definition: ToolDefinition<Input, Output>,
): ToolDefinition<Input, Output> {
  return definition;
}

export function registerTool<Input extends z.ZodObject, Output extends z.ZodObject>(
  server: McpServer,
  context: ServerContext,
  definition: ToolDefinition<Input, Output>,
): RegisteredTool {
  const config = {
    title: definition.title,
    description: definition.description,
    inputSchema: rejectingUnknownArguments(definition.name, definition.inputSchema),
    outputSchema: definition.outputSchema,
    annotations: { title: definition.title, ...definition.annotations },
  };

  const callback = async (args: z.output<Input>, extra: ToolExtra): Promise<CallToolResult> => {
    try {
      const output = await definition.handler(args, context, extra);
      return {
        // Cut in the middle, so that the counts at the start and the report path at the end stay.
        content: [{ type: 'text', text: cutText(output.text, MAX_TEXT_JSON_CHARS, 'middle') }],
        structuredContent: output.structured as Record<string, unknown>,
      };
    } catch (error) {
      context.logger.warn('tool call failed', { tool: definition.name, error: (error as Error)?.message ?? String(error) });
      return { content: [{ type: 'text', text: cutText(formatToolError(error), MAX_TEXT_JSON_CHARS) }], isError: true };
    }
  };

  // The SDK's generic overloads cannot follow a generic ZodObject through to the callback's
  // argument type, so the registration is typed loosely here and strictly in ToolDefinition.
  return (server.registerTool as (name: string, config: unknown, callback: unknown) => RegisteredTool)(
    definition.name,
    config,
    callback,
  );
}

/**
 * Returns the input schema with unknown arguments rejected. A Zod object drops unknown keys by
 * default, so a misspelt or invented argument, such as `dryRun: true` on an upload, would be
 * ignored and the call would run as if it had not been given. The advertised JSON Schema then
 * has `additionalProperties: false`.
 */
function rejectingUnknownArguments(toolName: string, schema: z.ZodObject): z.ZodObject {
  const accepted = Object.keys(schema.shape).join(', ');
  return z.strictObject(schema.shape, {
    error: (issue) => {
      if (issue.code !== 'unrecognized_keys') {
        return undefined;
      }
      const listed = issue.keys.slice(0, MAX_LISTED_UNKNOWN_ARGUMENTS).map(quoteInput).join(', ');
      const more = issue.keys.length > MAX_LISTED_UNKNOWN_ARGUMENTS ? ` and ${issue.keys.length - MAX_LISTED_UNKNOWN_ARGUMENTS} more` : '';
      const noun = issue.keys.length === 1 ? 'argument' : 'arguments';
      return `unknown ${noun} ${listed}${more}; ${toolName} takes only ${accepted}. Nothing was done: remove or rename ${issue.keys.length === 1 ? 'it' : 'them'}`;
    },
  });
}
