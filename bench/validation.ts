/**
 * Validation: `validatePrediction` on valid 2D-box predictions of about 5 KB and 1 MB. Each is
 * given as a parsed object, the form in which a JSONL line or an inline object arrives, and as
 * JSON text, the form of an inline string.
 *
 * It runs in a child process of its own, with the server's heap settings, because in the
 * benchmark process the heap that the earlier benchmarks left behind made the 1 MB cases up to
 * twice as slow. The parent starts it with `node --import tsx bench/validation.ts`; it prints one JSON
 * line, the BenchmarkResult, on stdout and its progress on stderr.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { validatePrediction } from '../src/predictions/validation.js';
import { makeBoxPrediction, sceneUuidFor } from '../test/helpers/predictions.js';
import type { BenchContext } from './context.js';
import { type BenchmarkResult, checkAtMost, formatNumber, type Metric, type TargetCheck } from './report.js';
import { median, spreadOf } from './statistics.js';

interface PredictionCase {
  predictionBytes: number;
  /** Predictions validated per timed round. */
  itemsPerRound: number;
}

const CASES: PredictionCase[] = [
  { predictionBytes: 5_000, itemsPerRound: 2_000 },
  { predictionBytes: 1_000_000, itemsPerRound: 10 },
];

const FULL_ROUNDS = 7;
const QUICK_ROUNDS = 3;

/** The target for the median time of one 1 MB prediction. */
const MAX_LARGE_PREDICTION_MS = 20;
const LARGE_PREDICTION_BYTES = 1_000_000;

type InputForm = 'object' | 'JSON text';
const INPUT_FORMS: InputForm[] = ['object', 'JSON text'];

const THIS_FILE = fileURLToPath(import.meta.url);

/** Runs the benchmark in a child process and returns its result. */
export async function runValidationBenchmark(context: BenchContext): Promise<BenchmarkResult> {
  const child = spawn(process.execPath, ['--import', 'tsx', THIS_FILE], {
    cwd: path.resolve(path.dirname(THIS_FILE), '..'),
    env: { ...process.env, BENCH_VALIDATION_QUICK: context.quick ? '1' : '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });

  let stdout = '';
  let stderrTail = '';
  let partialLine = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => {
    const text = chunk.toString('utf8');
    stderrTail = (stderrTail + text).slice(-2_000);
    const lines = (partialLine + text).split('\n');
    partialLine = lines.pop() ?? '';
    for (const line of lines) {
      context.progress(line);
    }
  });
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));

  if (code !== 0) {
    throw new Error(`The validation benchmark's child process exited with code ${String(code)}:\n${stderrTail}`);
  }
  return JSON.parse(stdout) as BenchmarkResult;
}

/** Validates the predictions of every case and form. Runs in the child. */
function measureValidation(quick: boolean, progress: (message: string) => void): BenchmarkResult {
  const roundCount = quick ? QUICK_ROUNDS : FULL_ROUNDS;
  const sceneUuid = sceneUuidFor(1);
  const metrics: Metric[] = [];
  const checks: TargetCheck[] = [];

  // The first call compiles the OpenLABEL schema, so it is timed on its own and kept out of the rounds.
  const firstCallStartedAt = performance.now();
  validatePrediction({ sceneUuid, openlabel: makeBoxPrediction() });
  const firstCallMs = performance.now() - firstCallStartedAt;

  for (const { predictionBytes, itemsPerRound } of CASES) {
    const document = makeBoxPrediction({ padToBytes: predictionBytes });
    const text = JSON.stringify(document);
    const size = `${formatNumber(text.length / 1000)} KB`;

    for (const form of INPUT_FORMS) {
      // The object form is a parsed JSONL line, which arrives with the size of its text.
      const prediction = form === 'object' ? { sceneUuid, openlabel: document, sizeBytes: Buffer.byteLength(text) } : { sceneUuid, openlabel: text };
      progress(`validation: ${size} ${form}, ${roundCount} rounds of ${itemsPerRound}`);

      const itemsPerSecond: number[] = [];
      const itemMs: number[] = [];
      for (let round = 0; round < roundCount; round++) {
        const roundStartedAt = performance.now();
        for (let item = 0; item < itemsPerRound; item++) {
          const startedAt = performance.now();
          const result = validatePrediction(prediction);
          itemMs.push(performance.now() - startedAt);
          if (!result.valid) {
            throw new Error(`The ${size} benchmark prediction is invalid: ${JSON.stringify(result.findings.slice(0, 3))}`);
          }
        }
        itemsPerSecond.push(itemsPerRound / ((performance.now() - roundStartedAt) / 1000));
      }

      const at = `${size}, ${form}`;
      metrics.push(
        { label: `predictions per second, ${at}`, unit: 'items/s', spread: spreadOf(itemsPerSecond) },
        { label: `MB per second, ${at}`, unit: 'MB/s', spread: spreadOf(itemsPerSecond.map((rate) => (rate * text.length) / 1e6)) },
        { label: `time per prediction, ${at}`, unit: 'ms', spread: spreadOf(itemMs) },
      );
      if (predictionBytes === LARGE_PREDICTION_BYTES) {
        checks.push(checkAtMost(`median time to validate one ${size} prediction given as ${form}`, median(itemMs), MAX_LARGE_PREDICTION_MS, 'ms'));
      }
    }
  }

  metrics.push({ label: 'first call of the process (compiles the schema)', unit: 'ms', spread: spreadOf([firstCallMs]) });

  return {
    name: 'validation',
    title: 'validatePrediction on valid 2D-box predictions',
    settings: [
      CASES.map((entry) => `${entry.itemsPerRound.toLocaleString('en-US')} predictions of about ${entry.predictionBytes.toLocaleString('en-US')} bytes`).join(' and ') +
        ' per round',
      `${roundCount} rounds per size and input form`,
      'runs from src/ through tsx in a fresh child process, with the heap settings of the server',
    ],
    metrics,
    checks,
    notes: [
      '"time per prediction" is the median over every single call of every round; the rates are medians over rounds.',
      'The JSON text form includes JSON.parse of the text. The object form is a parsed JSONL line with its size known; its request body is written out only when it is sent.',
    ],
    profiles: [],
  };
}

if (process.argv[1] === THIS_FILE) {
  await import('../src/heap-settings.js');
  const result = measureValidation(process.env.BENCH_VALIDATION_QUICK === '1', (message) => process.stderr.write(`${message}\n`));
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
