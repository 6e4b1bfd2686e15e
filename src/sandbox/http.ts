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
export function readBody(request: IncomingMessage, maxBytes: number): Promise<BodyReadResult> {
  // Listeners instead of `for await`, because the async iterator costs the sandbox's one thread
  // more time per request, and the throughput benchmark sends hundreds of requests per second.
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let receivedBytes = 0;

    const onData = (chunk: Buffer): void => {
      receivedBytes += chunk.length;
      if (receivedBytes <= maxBytes) {
        chunks.push(chunk);
      } else {
        chunks.length = 0;
      }
    };
    const onEnd = (): void => {
      cleanUp();
      resolve(receivedBytes > maxBytes ? { kind: 'too_large', receivedBytes } : { kind: 'complete', body: Buffer.concat(chunks) });
    };
    const onClose = (): void => {
      cleanUp();
      reject(new Error('The client closed the connection before the request body ended.'));
    };
    const cleanUp = (): void => {
      request.off('data', onData);
      request.off('end', onEnd);
      request.off('close', onClose);
      request.off('error', onClose);
    };

    request.on('data', onData);
    request.on('end', onEnd);
    request.on('close', onClose);
    request.on('error', onClose);
  });
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
