/**
 * Helpers for tests that drive the upload tools through the MCP client. They add a dataset and
 * group to the sandbox, write prediction files, read the summary and report of a call, and
 * record the messages the client receives.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult, JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';

import type { ItemReport, UploadSummary } from '../../src/predictions/summary.js';
import type { KognicSandbox } from '../../src/sandbox/index.js';
import type { RecordedRequest } from '../../src/sandbox/types.js';
import { makeBoxPrediction } from './predictions.js';

export interface UploadTarget {
  datasetUuid: string;
  groupUuid: string;
  sceneUuids: string[];
}

/** Adds a dataset with `sceneCount` scenes and one prediction group on it. */
export function addUploadTarget(sandbox: KognicSandbox, sceneCount: number, name = 'upload tools test'): UploadTarget {
  const { uuid: datasetUuid, sceneUuids } = sandbox.addDataset({ name, sceneCount });
  const groupUuid = sandbox.addPredictionGroup(datasetUuid, `${name} group`);
  return { datasetUuid, groupUuid, sceneUuids };
}

/** Returns the upload summary of a tool result, or throws with the result's text when it has none. */
export function summaryOf(result: CallToolResult): UploadSummary {
  if (result.structuredContent === undefined) {
    const first = result.content[0];
    const text = first !== undefined && first.type === 'text' ? first.text : JSON.stringify(result);
    throw new Error(`The tool result has no summary (isError: ${String(result.isError)}): ${text}`);
  }
  return result.structuredContent as unknown as UploadSummary;
}

/** Reads a JSONL upload report into one object per line. */
export function readReport(reportPath: string): Array<ItemReport & { index?: number }> {
  return readFileSync(reportPath, 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as ItemReport & { index?: number });
}

/** Folders made by makeTempDir and not yet removed. */
const tempDirs: string[] = [];

/** Makes a temporary folder that removeTempDirs deletes. */
export function makeTempDir(prefix: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

/** Deletes the folders made by makeTempDir so far, and `others` (such as a harness's state folder). */
export function removeTempDirs(...others: Array<string | undefined>): void {
  for (const dir of [...tempDirs.splice(0), ...others]) {
    if (dir !== undefined) {
      rmSync(dir, { recursive: true, force: true });
    }
  }
}

/** JSON text of one valid box prediction, `{"openlabel": {...}}`. */
export function boxDocumentJson(padToBytes?: number): string {
  return JSON.stringify(makeBoxPrediction(padToBytes === undefined ? {} : { padToBytes }));
}

/** Writes one bare `{"openlabel": ...}` file named `<scene>.json` per scene into `dir`. */
export function writeSceneFiles(dir: string, scenes: readonly string[], documentJson = boxDocumentJson()): string[] {
  return scenes.map((scene) => {
    const file = path.join(dir, `${scene}.json`);
    writeFileSync(file, documentJson);
    return file;
  });
}

/** Writes a JSONL file with one `{"sceneUuid", "openlabel"}` line per scene. */
export function writeJsonlFile(file: string, scenes: readonly string[], documentJson = boxDocumentJson()): string {
  const lines = scenes.map((scene) => `{"sceneUuid":${JSON.stringify(scene)},"openlabel":${documentJson}}\n`);
  writeFileSync(file, lines.join(''));
  return file;
}

/** Builds the inline `predictions` argument: one valid box prediction per scene. */
export function inlinePredictions(scenes: readonly string[]): Array<{ sceneUuid: string; openlabel: unknown }> {
  return scenes.map((sceneUuid) => ({ sceneUuid, openlabel: makeBoxPrediction() }));
}

/** Requests the sandbox received on the prediction route, in arrival order. */
export function predictionRequests(sandbox: KognicSandbox): RecordedRequest[] {
  return sandbox.requests.filter((request) => request.route === 'createPrediction');
}

/** Polls `condition` every 10 ms until it holds, and throws after `timeoutMs`. */
export async function waitFor(condition: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) {
      throw new Error(`Timed out after ${timeoutMs} ms waiting until ${what}`);
    }
    await sleep(10);
  }
}

/**
 * Records every message the client's transport delivers, before the SDK handles it, so a test
 * can see notifications that the SDK would drop (such as progress for a token it never sent).
 */
export function tapIncomingMessages(client: Client): JSONRPCMessage[] {
  const transport = client.transport;
  if (transport === undefined) {
    throw new Error('The client is not connected, so its messages cannot be recorded.');
  }

  const messages: JSONRPCMessage[] = [];
  const handle = transport.onmessage;
  transport.onmessage = (message, extra) => {
    messages.push(message);
    handle?.(message, extra);
  };
  return messages;
}

/** Returns the `notifications/progress` messages among `messages`. */
export function progressNotifications(messages: readonly JSONRPCMessage[]): JSONRPCMessage[] {
  return messages.filter((message) => 'method' in message && message.method === 'notifications/progress');
}
