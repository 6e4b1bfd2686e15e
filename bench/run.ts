/**
 * Runs the benchmarks against the sandbox and the built server, prints a table to stdout and
 * writes JSON and markdown results under bench/results/.
 *
 *   npm run build && npm run bench                 every benchmark, full size (about 10 minutes)
 *   npm run bench -- --quick                       every benchmark, smoke size (about 1 minute)
 *   npm run bench -- throughput startup            only these
 *   npm run bench -- --cpu-prof throughput         also profile the server and list its hot functions
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import type { BenchContext } from './context.js';
import { describeMachine } from './machine.js';
import { runMemoryBenchmark } from './memory.js';
import { BENCHMARK_NAMES, type BenchmarkName, type BenchmarkResult, type BenchRun, renderText, writeResults } from './report.js';
import { runStartupBenchmark } from './startup.js';
import { runThroughputBenchmark } from './throughput.js';
import { runValidationBenchmark } from './validation.js';

const RESULTS_FOLDER = path.resolve(path.dirname(fileURLToPath(import.meta.url)), 'results');

const BENCHMARKS: Record<BenchmarkName, (context: BenchContext) => Promise<BenchmarkResult>> = {
  throughput: runThroughputBenchmark,
  memory: runMemoryBenchmark,
  startup: runStartupBenchmark,
  validation: runValidationBenchmark,
};

const HELP_TEXT = `Usage: npm run bench -- [--quick] [--cpu-prof] [${BENCHMARK_NAMES.join('|')} ...]

Runs the named benchmarks (default: all) against the sandbox and dist/cli.js; run npm run build first.
  --quick     smaller N and fewer runs, for a smoke run in under 2 minutes
  --cpu-prof  run the server with node --cpu-prof in the first run of each setting and list its
              functions with the most self time; the profiled runs are slower
Results: a table on stdout, and JSON plus markdown in ${path.relative(process.cwd(), RESULTS_FOLDER)}/.
`;

/** An invalid command line, reported without a stack trace. */
class UsageError extends Error {}

interface Command {
  names: BenchmarkName[];
  quick: boolean;
  cpuProfile: boolean;
}

function parseCommand(argv: string[]): Command | undefined {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { quick: { type: 'boolean' }, 'cpu-prof': { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    });
  } catch (error) {
    throw new UsageError(`${(error as Error).message}. Run npm run bench -- --help to see the options.`);
  }

  const { values, positionals } = parsed;
  if (values.help === true) {
    return undefined;
  }

  for (const name of positionals) {
    if (!(BENCHMARK_NAMES as readonly string[]).includes(name)) {
      throw new UsageError(`Unknown benchmark "${name}". Pass any of ${BENCHMARK_NAMES.join(', ')}, or none for all.`);
    }
  }
  const names = positionals.length === 0 ? [...BENCHMARK_NAMES] : BENCHMARK_NAMES.filter((name) => positionals.includes(name));
  return { names, quick: values.quick === true, cpuProfile: values['cpu-prof'] === true };
}

async function main(): Promise<void> {
  const command = parseCommand(process.argv.slice(2));
  if (command === undefined) {
    process.stdout.write(HELP_TEXT);
    return;
  }

  const machine = describeMachine();
  const startedAt = new Date();
  const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
  const tempRoot = await mkdtemp(path.join(os.tmpdir(), 'kognic-bench-'));
  const context: BenchContext = {
    quick: command.quick,
    tempRoot,
    ...(command.cpuProfile ? { profileRoot: path.join(RESULTS_FOLDER, `profiles-${stamp}`) } : {}),
    progress: (message) => process.stderr.write(`[${((Date.now() - startedAt.getTime()) / 1000).toFixed(0).padStart(4)} s] ${message}\n`),
  };

  const results: BenchmarkResult[] = [];
  try {
    for (const name of command.names) {
      context.progress(`${name}: starting`);
      results.push(await BENCHMARKS[name](context));
    }
  } finally {
    await rm(tempRoot, { recursive: true, force: true });
  }

  const run: BenchRun = {
    startedAt: startedAt.toISOString(),
    durationMs: Date.now() - startedAt.getTime(),
    command: ['npm run bench', ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])].join(' '),
    quick: command.quick,
    cpuProfile: command.cpuProfile,
    machine,
    loadAverageAtEnd: os.loadavg()[0] ?? 0,
    results,
  };
  process.stdout.write(renderText(run));

  const written = await writeResults(run, RESULTS_FOLDER);
  context.progress(`results written to ${written.jsonPath} and ${written.markdownPath}`);
}

main().catch((error: unknown) => {
  if (error instanceof UsageError) {
    process.stderr.write(`bench: ${error.message}\n`);
    process.exitCode = 2;
    return;
  }
  process.stderr.write(`bench: ${(error as Error).stack ?? String(error)}\n`);
  process.exitCode = 1;
});
