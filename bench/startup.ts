/**
 * Start-up: from spawning the built server to its `tools/list` result, which a host waits for
 * before it can offer the tools. Node's own start-up is measured beside it as a floor.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';

import { KognicSandbox } from '../src/sandbox/index.js';
import type { BenchContext } from './context.js';
import { type BenchmarkResult, checkAtMost, formatNumber } from './report.js';
import { ServerProcess } from './server-process.js';
import { median, spreadOf } from './statistics.js';

const FULL_RUNS = 20;
const QUICK_RUNS = 5;

/** The target for the median start-up. */
const MAX_STARTUP_MS = 300;

export async function runStartupBenchmark(context: BenchContext): Promise<BenchmarkResult> {
  const runCount = context.quick ? QUICK_RUNS : FULL_RUNS;
  const sandbox = await KognicSandbox.start({ seed: false, recordRequests: false });
  const initializeMs: number[] = [];
  const toolsListMs: number[] = [];
  const toolsListHandledMs: number[] = [];
  const nodeOnlyMs: number[] = [];
  let connectionsDuringStartup = 0;

  try {
    for (let run = 1; run <= runCount; run++) {
      const startedAt = performance.now();
      const server = await ServerProcess.start({ sandboxUrl: sandbox.url, root: context.tempRoot, stateDir: context.tempRoot });
      initializeMs.push(server.lastMessageAt() - startedAt);

      try {
        await server.client.listTools();
        toolsListHandledMs.push(performance.now() - startedAt);
        toolsListMs.push(server.lastMessageAt() - startedAt);
      } finally {
        await server.close();
      }

      nodeOnlyMs.push(await timeEmptyNodeProcess());
    }
    connectionsDuringStartup = sandbox.stats.totalConnections;
  } finally {
    await sandbox.close();
  }
  context.progress(`startup: median ${formatNumber(median(toolsListMs))} ms over ${runCount} runs`);

  return {
    name: 'startup',
    title: 'spawn of the built server to its tools/list result',
    settings: [`${runCount} runs, one after another, each a fresh process`],
    metrics: [
      { label: 'spawn to initialize result', unit: 'ms', spread: spreadOf(initializeMs) },
      { label: 'spawn to tools/list result', unit: 'ms', spread: spreadOf(toolsListMs) },
      { label: 'spawn to listTools() resolved, SDK client work included', unit: 'ms', spread: spreadOf(toolsListHandledMs) },
      { label: 'spawn to exit of node -e "" (Node itself)', unit: 'ms', spread: spreadOf(nodeOnlyMs) },
    ],
    checks: [checkAtMost('median spawn to tools/list result', median(toolsListMs), MAX_STARTUP_MS, 'ms')],
    notes: [
      'A result counts when its line arrives from the server, before the SDK client parses it; listTools() also ' +
        'compiles a validator for each output schema in the client.',
      connectionsDuringStartup === 0
        ? 'No run opened a connection to the sandbox: start-up involves no network request.'
        : `The runs opened ${connectionsDuringStartup} connections to the sandbox during start-up and tools/list.`,
    ],
    profiles: [],
  };
}

/** Times a Node process that runs nothing, from spawn to exit. */
async function timeEmptyNodeProcess(): Promise<number> {
  const startedAt = performance.now();
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0) {
    throw new Error(`node -e "" exited with code ${String(code)}.`);
  }
  return performance.now() - startedAt;
}
