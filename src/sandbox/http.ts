/** Reading request bodies and writing responses, shared by the auth and the dataset routes. */

import type { IncomingMessage, ServerResponse } from 'node:http';

import type { ScriptedResponse } from './types.js';

/**
 * Largest request body the sandbox accepts, in bytes; larger bodies get 413.
 * NOTE: the real dataset API's body limit is not documented; 50 MiB is a guess.
 */
export const MAX_BODY_BYTES = 50 * 1024 * 1024;

/** A response before it is written. Normal handlers and scripted faults produce the same shape. */
export type Reply = ScriptedResponse;

export type BodyReadResult = { kind: 'complete'; body: Buffer } | { kind: 'too_large'; receivedBytes: number };

/**
 * Reads the whole request body. A body over `maxBytes` is still read to its end, so that the
 * client can finish sending and then read the 413, but is not kept. Rejects when the client
 * closes the connection before the body ends.
 */
export async function readBody(request: IncomingMessage, maxBytes: number): Promise<BodyReadResult> {
  const chunks: Buffer[] = [];
  let receivedBytes = 0;

  for await (const chunk of request) {
    const buffer = chunk as Buffer;
    receivedBytes += buffer.length;
    if (receivedBytes <= maxBytes) {
      chunks.push(buffer);
    } else {
      chunks.length = 0;
    }
  }

  if (receivedBytes > maxBytes) {
    return { kind: 'too_large', receivedBytes };
  }
  return { kind: 'complete', body: Buffer.concat(chunks) };
}

export function jsonReply(status: number, body: unknown, headers?: Record<string, string>): Reply {
  return headers === undefined ? { status, body } : { status, body, headers };
}

/** Builds a dataset-API success reply: status 200 with `{"data": ...}`. */
export function dataReply(data: unknown): Reply {
  return { status: 200, body: { data } };
}

/** Builds a dataset-API error reply with the body `{"message": ...}`. */
export function errorReply(status: number, message: string, headers?: Record<string, string>): Reply {
  return jsonReply(status, { message }, headers);
}

/**
 * Writes a reply and ends the response. A string body is sent as is (as `text/html` when it
 * starts with `<`, else `text/plain`), any other defined body as JSON. Headers in the reply win
 * over the defaults.
 */
export function writeReply(response: ServerResponse, reply: Reply): void {
  const headers: Record<string, string> = {};
  let payload: Buffer | undefined;

  if (typeof reply.body === 'string') {
    payload = Buffer.from(reply.body, 'utf8');
    headers['content-type'] = reply.body.trimStart().startsWith('<') ? 'text/html' : 'text/plain';
  } else if (reply.body !== undefined) {
    payload = Buffer.from(JSON.stringify(reply.body), 'utf8');
    headers['content-type'] = 'application/json';
  }
  headers['content-length'] = String(payload?.length ?? 0);

  for (const [name, value] of Object.entries(reply.headers ?? {})) {
    headers[name.toLowerCase()] = value;
  }

  response.writeHead(reply.status, headers);
  response.end(payload);
}

/** Returns the media type of a Content-Type header in lower case, without its parameters. */
export function mediaType(contentType: string | undefined): string | undefined {
  if (contentType === undefined) {
    return undefined;
  }
  const [type] = contentType.split(';');
  return type?.trim().toLowerCase();
}

export type JsonParseResult = { ok: true; value: unknown } | { ok: false; error: string };

/** Parses a JSON body; the error is the parser's message. */
export function parseJson(body: Buffer): JsonParseResult {
  try {
    return { ok: true, value: JSON.parse(body.toString('utf8')) as unknown };
  } catch (error) {
    return { ok: false, error: error instanceof Error ? error.message : String(error) };
  }
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
