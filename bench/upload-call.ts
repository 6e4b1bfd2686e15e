/** Runs one upload through the MCP tools, the way an agent does, and waits for its end. */
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';

import type { UploadSummary } from '../src/predictions/summary.js';

/** The max `waitSeconds` that the tools accept. A longer upload takes several calls. */
const WAIT_SECONDS = 55;

/** Client-side limit for one tool call: the wait plus a generous margin for a busy machine. */
const CALL_TIMEOUT_MS = (WAIT_SECONDS + 60) * 1_000;

/**
 * Calls `upload_predictions` for one file, then `get_upload_job` until the upload ends, and
 * returns the final summary. Throws when a call returns an error or the upload ends other than
 * `completed`.
 */
export async function uploadFile(client: Client, predictionGroupUuid: string, file: string): Promise<UploadSummary> {
  let summary = await callUploadTool(client, 'upload_predictions', { predictionGroupUuid, paths: [file], waitSeconds: WAIT_SECONDS });

  while (summary.status === 'running') {
    summary = await callUploadTool(client, 'get_upload_job', { jobId: summary.jobId, waitSeconds: WAIT_SECONDS });
  }

  if (summary.status !== 'completed') {
    throw new Error(`Upload ${summary.jobId} ended ${summary.status}: ${summary.error ?? 'no error message'}.`);
  }
  return summary;
}

async function callUploadTool(client: Client, name: string, args: Record<string, unknown>): Promise<UploadSummary> {
  const result = await client.callTool({ name, arguments: args }, undefined, { timeout: CALL_TIMEOUT_MS });

  if (result.isError === true || result.structuredContent === undefined) {
    const text = JSON.stringify(result.content).slice(0, 1_000);
    throw new Error(`${name} returned an error: ${text}`);
  }
  return result.structuredContent as unknown as UploadSummary;
}
