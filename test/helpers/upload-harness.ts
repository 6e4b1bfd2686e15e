/**
 * Runs the upload engine against the sandbox API: a fresh dataset and prediction group, a real
 * token provider and HTTP client per upload, a temporary state folder, and captured log lines.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { KognicHttpClient } from '../../src/kognic/http-client.js';
import { TokenProvider } from '../../src/kognic/token-provider.js';
import { createLogger } from '../../src/log.js';
import type { ItemReport, UploadSummary } from '../../src/predictions/summary.js';
import type { SourceEntry } from '../../src/predictions/types.js';
import { Upload, type RetryLimits, type UploadDependencies, type UploadRequest } from '../../src/predictions/uploader.js';
import { KognicSandbox, SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, type SandboxOptions } from '../../src/sandbox/index.js';
import { makeBoxPrediction } from './predictions.js';

/** Retry limits that keep fault tests short: small backoff, few attempts. */
export const FAST_RETRY_LIMITS: RetryLimits = {
  maxRateLimitedAttempts: 4,
  maxServerErrorAttempts: 3,
  maxNetworkAttempts: 3,
  backoffBaseMs: 20,
  backoffMaxMs: 100,
};

export interface UploadHarnessOptions {
  sandbox?: SandboxOptions;
  /** Scenes in the test dataset; default 20. */
  sceneCount?: number;
  retryLimits?: Partial<RetryLimits>;
}

export interface UploadHarness {
  sandbox: KognicSandbox;
  stateDir: string;
  groupUuid: string;
  sceneUuids: string[];
  tokenProvider: TokenProvider;
  deps: UploadDependencies;
  logLines: string[];
  /** Builds (without starting) an upload of one valid box prediction per scene. */
  upload(scenes: string[], request?: Partial<Omit<UploadRequest, 'entries'>>): Upload;
  /** Starts an upload and waits for its summary. */
  run(scenes: string[], request?: Partial<Omit<UploadRequest, 'entries'>>): Promise<UploadSummary>;
  /** Reads the JSONL report of a job. */
  reportLines(jobId: string): Array<ItemReport & { index?: number }>;
  /** Requests the sandbox received on the prediction route, in order. */
  predictionRequests(): KognicSandbox['requests'];
  close(): Promise<void>;
}

let jobCounter = 0;

export async function startUploadHarness(options: UploadHarnessOptions = {}): Promise<UploadHarness> {
  const sandbox = await KognicSandbox.start(options.sandbox);
  const stateDir = mkdtempSync(join(tmpdir(), 'upload-test-'));
  const { uuid: datasetUuid, sceneUuids } = sandbox.addDataset({ name: 'upload test', sceneCount: options.sceneCount ?? 20 });
  const groupUuid = sandbox.addPredictionGroup(datasetUuid, 'upload test group');

  const logLines: string[] = [];
  const { logger } = createLogger({ level: 'debug', write: (line) => logLines.push(line) });
  const tokenProvider = new TokenProvider({
    authUrl: sandbox.url,
    credentials: { clientId: SANDBOX_CLIENT_ID, clientSecret: SANDBOX_CLIENT_SECRET, source: 'the upload test harness' },
    logger,
  });

  const deps: UploadDependencies = {
    createHttpClient: (maxConnections) => new KognicHttpClient({ baseUrl: sandbox.url, tokenProvider, logger, maxConnections }),
    stateDir,
    apiOrigin: sandbox.url,
    logger,
    retryLimits: { ...FAST_RETRY_LIMITS, ...options.retryLimits },
  };

  const upload = (scenes: string[], request: Partial<Omit<UploadRequest, 'entries'>> = {}): Upload => {
    jobCounter += 1;
    return new Upload({ jobId: `upl_test${jobCounter}`, groupUuid, entries: boxEntries(scenes), ...request }, deps);
  };

  return {
    sandbox,
    stateDir,
    groupUuid,
    sceneUuids,
    tokenProvider,
    deps,
    logLines,
    upload,
    async run(scenes, request) {
      const started = upload(scenes, request);
      started.start();
      return started.done;
    },
    reportLines(jobId) {
      const text = readFileSync(join(stateDir, 'reports', `${jobId}.jsonl`), 'utf8');
      return text
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => JSON.parse(line) as ItemReport & { index?: number });
    },
    predictionRequests() {
      return sandbox.requests.filter((request) => request.route === 'createPrediction');
    },
    async close() {
      await tokenProvider.close();
      await sandbox.close();
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}

/** Yields one valid box prediction per scene, as JSON text like a JSONL line. */
export async function* boxEntries(scenes: string[]): AsyncGenerator<SourceEntry> {
  const document = JSON.stringify(makeBoxPrediction());
  for (const [index, sceneUuid] of scenes.entries()) {
    yield { kind: 'item', item: { index, source: `predictions[${index}]`, sceneUuid, openlabel: document, sizeBytes: document.length } };
  }
}

/** Returns the gap between the end of request `index` and the arrival of the next one, in ms. */
export function gapAfter(requests: KognicSandbox['requests'], index: number): number {
  const answered = requests[index];
  const next = requests[index + 1];
  if (answered?.finishedAt === undefined || next === undefined) {
    throw new Error(`No request after request ${index} (${requests.length} recorded)`);
  }
  return next.receivedAt - answered.finishedAt;
}
