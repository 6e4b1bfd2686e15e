/**
 * Memory: the server's peak resident set size (VmHWM) while it uploads one JSONL file at L = 0,
 * at two sizes of N. The upload streams its input, so the peak should not grow with N.
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';

import { KognicSandbox } from '../src/sandbox/index.js';
import type { BenchContext } from './context.js';
import { freeBytes, writePredictionFile } from './prediction-file.js';
import { type BenchmarkResult, checkAtMost, formatMegabytes, formatNumber, type Metric } from './report.js';
import { describeRunCount, spreadOf } from './statistics.js';
import { PROFILED_RUN_NOTE, runUpload, type UploadRunResult } from './upload-run.js';

interface MemorySettings {
  /** A small and a large N. The peak at the large one is compared with the peak at the small one. */
  itemCounts: [number, number];
  predictionBytes: number;
  runsPerCount: number;
}

const FULL_SETTINGS: MemorySettings = { itemCounts: [10_000, 100_000], predictionBytes: 5_000, runsPerCount: 2 };
const QUICK_SETTINGS: MemorySettings = { itemCounts: [1_000, 10_000], predictionBytes: 5_000, runsPerCount: 1 };

/** The targets: peak RSS at the large N below this, and at most this multiple of the peak at the small N. */
const MAX_PEAK_RSS_BYTES = 150e6;
const MAX_PEAK_RSS_RATIO = 1.2;

/** Free disk space kept beyond the prediction file, as a multiple of the file's size. */
const DISK_HEADROOM_FACTOR = 2;

/** Bytes of one JSONL line besides the prediction: the scene UUID, the keys and the newline. */
const LINE_OVERHEAD_BYTES = 80;

/** Smallest prediction the benchmark falls back to when the disk is short. Below it the run stops. */
const MIN_PREDICTION_BYTES = 1_000;

export async function runMemoryBenchmark(context: BenchContext): Promise<BenchmarkResult> {
  const settings = context.quick ? QUICK_SETTINGS : FULL_SETTINGS;
  const [smallCount, largeCount] = settings.itemCounts;
  const notes: string[] = [];

  const predictionBytes = await fitPredictionBytes(context.tempRoot, largeCount, settings.predictionBytes);
  if (predictionBytes < settings.predictionBytes) {
    notes.push(
      `The disk had too little free space for ${formatNumber(largeCount)} predictions of ${formatNumber(settings.predictionBytes)} bytes, ` +
        `so the predictions were cut to ${formatNumber(predictionBytes)} bytes.`,
    );
  }

  const sandbox = await KognicSandbox.start({ latencyMs: 0, seed: false, keepPredictionContent: false, recordRequests: false });
  const runsByCount = new Map<number, UploadRunResult[]>();
  try {
    const dataset = sandbox.addDataset({ name: 'bench memory', sceneCount: largeCount });
    for (const itemCount of settings.itemCounts) {
      const sceneUuids = dataset.sceneUuids.slice(0, itemCount);
      runsByCount.set(itemCount, await measureCount(sandbox, dataset.uuid, sceneUuids, predictionBytes, settings.runsPerCount, context));
    }
  } finally {
    await sandbox.close();
  }

  const metrics: Metric[] = [];
  for (const [itemCount, runs] of runsByCount) {
    const at = `N = ${itemCount.toLocaleString('en-US')}`;
    metrics.push(
      { label: `peak RSS (VmHWM), ${at}`, unit: 'MB', spread: spreadOf(runs.map((run) => run.peakRssBytes / 1e6)) },
      { label: `idle RSS before the upload, ${at}`, unit: 'MB', spread: spreadOf(runs.map((run) => run.idleRssBytes / 1e6)) },
      { label: `wall time, ${at}`, unit: 's', spread: spreadOf(runs.map((run) => run.wallMs / 1000)) },
      { label: `items per second, ${at}`, unit: 'items/s', spread: spreadOf(runs.map((run) => itemCount / (run.wallMs / 1000))) },
      { label: `server CPU per item, ${at}`, unit: 'ms', spread: spreadOf(runs.map((run) => run.serverCpuMs / itemCount)) },
    );
  }

  const medianPeakBytes = (itemCount: number): number => spreadOf(runsByCount.get(itemCount)!.map((run) => run.peakRssBytes)).median;
  const smallPeak = medianPeakBytes(smallCount);
  const largePeak = medianPeakBytes(largeCount);

  return {
    name: 'memory',
    title: 'peak RSS of the server while it uploads one JSONL file at L = 0',
    settings: [
      `N = ${formatNumber(smallCount)} and ${formatNumber(largeCount)} predictions of about ${formatNumber(predictionBytes)} bytes in one JSONL file`,
      'L = 0 ms',
      `${describeRunCount(settings.runsPerCount)} per N, each with a fresh server process and prediction group`,
    ],
    metrics,
    checks: [
      checkAtMost(`median peak RSS at N = ${formatNumber(largeCount)}`, largePeak / 1e6, MAX_PEAK_RSS_BYTES / 1e6, 'MB'),
      checkAtMost(
        `median peak RSS at N = ${formatNumber(largeCount)} / at N = ${formatNumber(smallCount)} (${formatMegabytes(smallPeak)})`,
        largePeak / smallPeak,
        MAX_PEAK_RSS_RATIO,
        '',
      ),
    ],
    notes: [
      ...notes,
      ...(context.profileRoot === undefined ? [] : [PROFILED_RUN_NOTE]),
      'VmHWM is the kernel\'s exact peak of the server process\'s resident set since it started, read after the upload ended.',
    ],
    profiles: [...runsByCount.values()].flatMap((runs) => (runs[0]?.profile === undefined ? [] : [runs[0].profile])),
  };
}

/** Writes the prediction file for one N, runs its uploads and deletes the file. */
async function measureCount(
  sandbox: KognicSandbox,
  datasetUuid: string,
  sceneUuids: string[],
  predictionBytes: number,
  runCount: number,
  context: BenchContext,
): Promise<UploadRunResult[]> {
  const itemCount = sceneUuids.length;
  const file = path.join(context.tempRoot, `memory-${itemCount}.jsonl`);

  try {
    context.progress(`memory: writing ${formatNumber(itemCount)} predictions to ${file}`);
    const fileBytes = await writePredictionFile(file, sceneUuids, predictionBytes);
    context.progress(`memory: wrote ${formatMegabytes(fileBytes)}`);

    const runs: UploadRunResult[] = [];
    for (let run = 1; run <= runCount; run++) {
      const label = `N = ${itemCount}, run ${run}`;
      context.progress(`memory: ${label} of ${runCount}`);

      const result = await runUpload({ sandbox, datasetUuid, file, itemCount, label, profile: run === 1 }, context);
      context.progress(`memory: ${label}: peak RSS ${formatMegabytes(result.peakRssBytes)}, ${formatNumber(result.wallMs / 1000)} s`);
      runs.push(result);
    }
    return runs;
  } finally {
    await rm(file, { force: true });
  }
}

/** Returns the configured prediction size, or a smaller one that leaves DISK_HEADROOM_FACTOR room on the disk. */
async function fitPredictionBytes(folder: string, itemCount: number, configuredBytes: number): Promise<number> {
  const available = await freeBytes(folder);
  const affordable = Math.floor(available / (1 + DISK_HEADROOM_FACTOR) / itemCount) - LINE_OVERHEAD_BYTES;
  if (affordable >= configuredBytes) {
    return configuredBytes;
  }
  if (affordable < MIN_PREDICTION_BYTES) {
    throw new Error(
      `${folder} has ${formatMegabytes(available)} free, too little for ${formatNumber(itemCount)} predictions of even ` +
        `${MIN_PREDICTION_BYTES} bytes; free some space or set TMPDIR to a larger disk.`,
    );
  }
  return affordable;
}
