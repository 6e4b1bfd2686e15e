/**
 * 20,000 predictions of about 2 KB from one JSONL file through the SDK client. The limit of 10
 * requests and connections is kept, and the first request goes out at once. The heap of this
 * process, which hosts the server, stays bounded.
 */
import { createWriteStream } from 'node:fs';
import path from 'node:path';
import { once } from 'node:events';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

import { afterEach, describe, expect, it } from 'vitest';

import type { UploadSummary } from '../src/predictions/summary.js';
import { KognicSandbox } from '../src/sandbox/index.js';
import { startHarness, type Harness } from './helpers/mcp-harness.js';
import {
  addUploadTarget,
  boxDocumentJson,
  makeTempDir,
  predictionRequests,
  removeTempDirs,
  summaryOf,
} from './helpers/upload-tools.js';

const ITEM_COUNT = 20_000;

/** Latency of each dataset-API response: 20,000 items over 10 connections take at least 40 s. */
const LATENCY_MS = 20;

const PREDICTION_BYTES = 2_048;

const MAX_HEAP_GROWTH_BYTES = 150 * 1024 * 1024;

const MEMORY_SAMPLE_INTERVAL_MS = 100;

/** Timeout of each test: the upload takes 40 to 60 s unloaded. */
const SCALE_TEST_TIMEOUT_MS = 180_000;

// Vitest does not start workers with --expose-gc, so the flag is set at run time.
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

/** Writes one JSONL line per scene without holding the whole file in memory. */
async function writeLargeJsonl(file: string, scenes: readonly string[]): Promise<void> {
  const document = boxDocumentJson(PREDICTION_BYTES);
  const stream = createWriteStream(file);
  for (const scene of scenes) {
    if (!stream.write(`{"sceneUuid":"${scene}","openlabel":${document}}\n`)) {
      await once(stream, 'drain');
    }
  }
  stream.end();
  await once(stream, 'finish');
}

/** Samples between two full collections. A collection before every sample took about a quarter of the CPU at 20,000 items. */
const SAMPLES_PER_COLLECTION = 10;

/**
 * Samples `heapUsed` every 100 ms, after a full collection every 10th sample. `stop` returns the
 * largest sample. The samples taken without a collection include garbage, so the result is an
 * upper bound of the live heap.
 */
function sampleHeap(): { stop(): number } {
  let maxHeapUsed = 0;
  let samples = 0;
  const sample = (): void => {
    if (samples % SAMPLES_PER_COLLECTION === 0) {
      collectGarbage();
    }
    samples += 1;
    maxHeapUsed = Math.max(maxHeapUsed, process.memoryUsage().heapUsed);
  };
  sample();
  const timer = setInterval(sample, MEMORY_SAMPLE_INTERVAL_MS);
  return {
    stop() {
      clearInterval(timer);
      sample();
      return maxHeapUsed;
    },
  };
}

describe('upload_predictions at scale', () => {
  let sandbox: KognicSandbox | undefined;
  let harness: Harness | undefined;

  afterEach(async () => {
    await harness?.close();
    await sandbox?.close();
    removeTempDirs(harness?.stateDir);
    harness = undefined;
    sandbox = undefined;
  });

  /** Uploads 20,000 items and returns the final summary, polling get_upload_job if the call returns running. */
  async function uploadLargeFile(prepare: (sandbox: KognicSandbox) => void): Promise<{ summary: UploadSummary; calledAt: number; heapGrowth: number }> {
    const root = makeTempDir('upload-scale-');
    // The sandbox shares this process, so it keeps no prediction content that would count as server heap.
    sandbox = await KognicSandbox.start({ latencyMs: LATENCY_MS, keepPredictionContent: false });
    harness = await startHarness({ existingSandbox: sandbox, config: { roots: [root] } });
    const target = addUploadTarget(sandbox, ITEM_COUNT);
    const file = path.join(root, 'predictions.jsonl');
    await writeLargeJsonl(file, target.sceneUuids);
    prepare(sandbox);

    collectGarbage();
    const baseline = process.memoryUsage().heapUsed;
    const heap = sampleHeap();

    const calledAt = Date.now();
    let summary = summaryOf(await harness.call('upload_predictions', { predictionGroupUuid: target.groupUuid, paths: [file], waitSeconds: 55 }));
    while (summary.status === 'running') {
      summary = summaryOf(await harness.call('get_upload_job', { jobId: summary.jobId, waitSeconds: 55 }));
    }

    return { summary, calledAt, heapGrowth: heap.stop() - baseline };
  }

  it('uploads 20,000 items', { timeout: SCALE_TEST_TIMEOUT_MS }, async () => {
    const { summary, calledAt, heapGrowth } = await uploadLargeFile(() => {});
    const requests = predictionRequests(sandbox!);

    expect(summary.status).toBe('completed');
    expect(summary.counts.created).toBe(ITEM_COUNT);
    expect(summary.counts.total).toBe(ITEM_COUNT);
    expect(sandbox!.stats.peakInFlight).toBeLessThanOrEqual(10);
    expect(sandbox!.stats.peakApiConnections).toBeLessThanOrEqual(10);
    expect(requests).toHaveLength(ITEM_COUNT);
    expect((requests[0]?.receivedAt ?? Infinity) - calledAt).toBeLessThan(1_000);
    expect(heapGrowth, `heap growth of ${Math.round(heapGrowth / 1024 / 1024)} MB`).toBeLessThan(MAX_HEAP_GROWTH_BYTES);
  });

  it('uploads 20,000 items after 429s', { timeout: SCALE_TEST_TIMEOUT_MS }, async () => {
    const rateLimited = Array.from({ length: 10 }, () => ({ status: 429, headers: { 'retry-after': '1' } }));
    const { summary } = await uploadLargeFile((started) => started.enqueueResponses('createPrediction', ...rateLimited));
    const requests = predictionRequests(sandbox!);

    expect(summary.status).toBe('completed');
    expect(summary.counts.created).toBe(ITEM_COUNT);
    expect(requests.filter((request) => request.status === 429)).toHaveLength(10);
    expect(requests).toHaveLength(ITEM_COUNT + 10);
    expect(sandbox!.stats.peakInFlight).toBeLessThanOrEqual(10);
    expect(sandbox!.stats.peakApiConnections).toBeLessThanOrEqual(10);
  });
});
