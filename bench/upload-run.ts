/** One measured upload: a fresh server process uploads one JSONL file to a new prediction group. */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import path from 'node:path';

import type { KognicSandbox } from '../src/sandbox/index.js';
import type { BenchContext } from './context.js';
import { findCpuProfile, type ProfileSummary, summariseCpuProfile } from './cpu-profile.js';
import { ServerProcess } from './server-process.js';
import { makeBoxPrediction, sceneUuidFor } from '../test/helpers/predictions.js';
import { uploadFile } from './upload-call.js';

/** Benchmarks profile run 1 of each setting, and their results carry this note. */
export const PROFILED_RUN_NOTE =
  'Run 1 of each setting ran under node --cpu-prof, which slows the server; take timings from a run without --cpu-prof.';

export interface UploadRunRequest {
  sandbox: KognicSandbox;
  datasetUuid: string;
  /** A JSONL file with one prediction per line, for `itemCount` scenes of the dataset. */
  file: string;
  itemCount: number;
  /** Names the run in progress lines, group names and profile labels: `L = 20 ms, run 2`. */
  label: string;
  /** Whether to profile the server with `node --cpu-prof`. Needs `context.profileRoot`. */
  profile: boolean;
}

export interface UploadRunResult {
  /** From the `upload_predictions` call to the summary that reports the end, in milliseconds. */
  wallMs: number;
  /** The upload's own `durationMs`, which leaves out counting the file's lines and the MCP calls. */
  serverDurationMs: number;
  /** CPU time (user plus system) of the server process during the upload, in milliseconds. */
  serverCpuMs: number;
  /** CPU time of the benchmark process during the upload: the sandbox and the MCP client. */
  benchCpuMs: number;
  /** Max number of dataset-API requests the sandbox was handling at once. */
  peakInFlight: number;
  /** Max number of TCP connections open to the sandbox at once, token route included. */
  peakConnections: number;
  /** Mean time from a request head's arrival at the sandbox to the end of its response, in milliseconds. */
  meanResponseMs: number;
  /** Resident set size of the idle server before the upload, in bytes. */
  idleRssBytes: number;
  /** Peak resident set size of the server (VmHWM) after the upload, in bytes. */
  peakRssBytes: number;
  profile?: ProfileSummary;
}

export async function runUpload(request: UploadRunRequest, context: BenchContext): Promise<UploadRunResult> {
  const { sandbox, itemCount, label } = request;
  const groupUuid = sandbox.addPredictionGroup(request.datasetUuid, `bench ${label}`);
  const stateDir = await mkdtemp(path.join(context.tempRoot, 'state-'));
  const profileDir = request.profile && context.profileRoot !== undefined ? path.join(context.profileRoot, slug(label)) : undefined;
  if (profileDir !== undefined) {
    await mkdir(profileDir, { recursive: true });
  }

  const server = await ServerProcess.start({
    sandboxUrl: sandbox.url,
    root: path.dirname(request.file),
    stateDir,
    ...(profileDir === undefined ? {} : { cpuProfileDir: profileDir }),
  });

  let result: Omit<UploadRunResult, 'profile'>;
  try {
    // tools/list lets the client check results against each tool's output schema. Before an
    // upload an agent lists the datasets and validates a prediction, which fetch the server's
    // first access token and compile the OpenLABEL schema.
    await server.client.listTools();
    await server.client.callTool({ name: 'list_datasets', arguments: {} });
    await server.client.callTool({
      name: 'validate_predictions',
      arguments: { predictions: [{ sceneUuid: sceneUuidFor(0), openlabel: makeBoxPrediction() }] },
    });
    const idleRssBytes = server.memory().rssBytes;
    const serverCpuBefore = server.cpuTimeMs();
    const benchCpuBefore = process.cpuUsage();
    sandbox.resetStats();

    const startedAt = performance.now();
    const summary = await uploadFile(server.client, groupUuid, request.file).catch((error: unknown) => {
      throw new Error(`Upload ${label} failed: ${(error as Error).message}\nServer stderr:\n${server.recentStderr()}`);
    });
    const wallMs = performance.now() - startedAt;

    const benchCpu = process.cpuUsage(benchCpuBefore);
    if (summary.counts.created !== itemCount) {
      throw new Error(`Upload ${label} created ${summary.counts.created} of ${itemCount} predictions: ${JSON.stringify(summary.counts)}.`);
    }

    result = {
      wallMs,
      serverDurationMs: summary.durationMs,
      serverCpuMs: server.cpuTimeMs() - serverCpuBefore,
      benchCpuMs: (benchCpu.user + benchCpu.system) / 1000,
      peakInFlight: sandbox.stats.peakInFlight,
      peakConnections: sandbox.stats.peakConnections,
      meanResponseMs: sandbox.stats.totalResponseMs / sandbox.stats.respondedRequests,
      idleRssBytes,
      peakRssBytes: server.memory().peakRssBytes,
    };
  } finally {
    await server.close();
    await rm(stateDir, { recursive: true, force: true });
  }

  if (profileDir === undefined) {
    return result;
  }
  return { ...result, profile: await summariseCpuProfile(await findCpuProfile(profileDir), label) };
}

function slug(label: string): string {
  return label.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
}
