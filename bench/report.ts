/** Result types of the benchmarks and their rendering as a text table, as markdown and as JSON files. */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';

import type { ProfileSummary } from './cpu-profile.js';
import type { MachineInfo } from './machine.js';
import type { Spread } from './statistics.js';

export const BENCHMARK_NAMES = ['throughput', 'memory', 'startup', 'validation'] as const;
export type BenchmarkName = (typeof BENCHMARK_NAMES)[number];

export interface Metric {
  /** Quantity and conditions of the measurement, such as `wall time / bound, L = 20 ms`. */
  label: string;
  unit: string;
  spread: Spread;
}

/** One target of the project, compared with the median measurement. */
export interface TargetCheck {
  target: string;
  measured: string;
  passed: boolean;
  /** By how much the measurement misses the target, set only when it does. */
  miss?: string;
}

export interface BenchmarkResult {
  name: BenchmarkName;
  title: string;
  /** Settings of the run, one short phrase each: `N = 10,000 predictions of 5,000 bytes`. */
  settings: string[];
  metrics: Metric[];
  checks: TargetCheck[];
  notes: string[];
  /** CPU profiles of the server, summarised. Empty unless the run used --cpu-prof. */
  profiles: ProfileSummary[];
}

export interface BenchRun {
  /** ISO 8601 time the run started. */
  startedAt: string;
  durationMs: number;
  command: string;
  quick: boolean;
  cpuProfile: boolean;
  /** The machine as read when the run started. */
  machine: MachineInfo;
  /** 1-minute load average when the run ended. */
  loadAverageAtEnd: number;
  results: BenchmarkResult[];
}

/** Formats an integer as is and other measurements with about three significant digits, with thousands separators. */
export function formatNumber(value: number): string {
  const magnitude = Math.abs(value);
  if (Number.isInteger(value) || magnitude >= 10_000) {
    return Math.round(value).toLocaleString('en-US');
  }
  if (magnitude >= 100) {
    return value.toFixed(0);
  }
  if (magnitude >= 10) {
    return value.toFixed(1);
  }
  if (magnitude >= 1) {
    return value.toFixed(2);
  }
  return value === 0 ? '0' : value.toPrecision(3);
}

export function formatMegabytes(bytes: number): string {
  return `${formatNumber(bytes / 1e6)} MB`;
}

/** Compares a median with an upper limit. `unit` follows the numbers in the text and may be empty. */
export function checkAtMost(target: string, measured: number, limit: number, unit: string): TargetCheck {
  const withUnit = (value: number): string => (unit === '' ? formatNumber(value) : `${formatNumber(value)} ${unit}`);

  const check: TargetCheck = { target, measured: withUnit(measured), passed: measured <= limit };
  if (!check.passed) {
    const over = measured - limit;
    check.miss = `${withUnit(over)} over the limit (${formatNumber((over / limit) * 100)}%)`;
  }
  return check;
}

/** Renders the results as plain-text tables for a terminal. */
export function renderText(run: BenchRun): string {
  const lines: string[] = [describeMachineLine(run.machine), describeLoadLine(run), `command: ${run.command}`, ''];

  for (const result of run.results) {
    lines.push(`${result.name}: ${result.title}`, `  ${result.settings.join('; ')}`);

    const rows = [['metric', 'median', 'min', 'max', 'unit', 'runs'], ...result.metrics.map(metricCells)];
    const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
    for (const row of rows) {
      const cells = row.map((cell, column) => (column === 0 || column === 4 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!)));
      lines.push(`  ${cells.join('  ')}`.trimEnd());
    }

    for (const check of result.checks) {
      const verdict = check.passed ? 'PASS' : 'MISS';
      lines.push(`  ${verdict}  ${check.target}: ${check.measured}${check.miss === undefined ? '' : `, ${check.miss}`}`);
    }
    for (const note of result.notes) {
      lines.push(`  note: ${note}`);
    }
    for (const profile of result.profiles) {
      lines.push(`  CPU profile ${profile.label} (${formatNumber(profile.busyMs)} ms busy of ${formatNumber(profile.totalMs)} ms):`);
      for (const entry of profile.top) {
        lines.push(`    ${formatNumber(entry.selfPercent).padStart(5)}%  ${formatNumber(entry.selfMs).padStart(7)} ms  ${entry.functionName}  ${entry.location}`);
      }
    }
    lines.push('');
  }

  return `${lines.join('\n')}\n`;
}

/** Renders the results as markdown tables, in the layout BENCHMARKS.md uses. */
export function renderMarkdown(run: BenchRun): string {
  const lines: string[] = [
    `# Benchmark run ${run.startedAt}`,
    '',
    `- Machine: ${describeMachineLine(run.machine)}`,
    `- ${describeLoadLine(run)}`,
    `- Command: \`${run.command}\`${run.quick ? ' (quick mode: smaller N and fewer runs than the targets assume)' : ''}`,
    `- Duration: ${formatNumber(run.durationMs / 1000)} s`,
    '',
  ];

  for (const result of run.results) {
    lines.push(`## ${result.name}: ${result.title}`, '', result.settings.join('; ') + '.', '');
    lines.push('| metric | median | min | max | unit | runs |', '| --- | ---: | ---: | ---: | --- | ---: |');
    for (const cells of result.metrics.map(metricCells)) {
      lines.push(`| ${cells.join(' | ')} |`);
    }
    lines.push('');

    for (const check of result.checks) {
      const verdict = check.passed ? 'PASS' : 'MISS';
      lines.push(`- ${verdict}: ${check.target}: ${check.measured}${check.miss === undefined ? '' : `, ${check.miss}`}`);
    }
    for (const note of result.notes) {
      lines.push(`- Note: ${note}`);
    }
    for (const profile of result.profiles) {
      lines.push('', `CPU profile ${profile.label}: ${formatNumber(profile.busyMs)} ms busy of ${formatNumber(profile.totalMs)} ms sampled.`, '');
      lines.push('| self % | self ms | function | location |', '| ---: | ---: | --- | --- |');
      for (const entry of profile.top) {
        lines.push(`| ${formatNumber(entry.selfPercent)} | ${formatNumber(entry.selfMs)} | \`${entry.functionName}\` | ${entry.location} |`);
      }
    }
    lines.push('');
  }

  return `${lines.join('\n')}\n`;
}

/** Writes `<stamp>.json` and `<stamp>.md` into `folder` and returns their paths. */
export async function writeResults(run: BenchRun, folder: string): Promise<{ jsonPath: string; markdownPath: string }> {
  await mkdir(folder, { recursive: true });
  const stamp = run.startedAt.replace(/[:.]/g, '-');
  const jsonPath = path.join(folder, `bench-${stamp}.json`);
  const markdownPath = path.join(folder, `bench-${stamp}.md`);

  await writeFile(jsonPath, `${JSON.stringify(run, null, 2)}\n`);
  await writeFile(markdownPath, renderMarkdown(run));
  return { jsonPath, markdownPath };
}

function metricCells(metric: Metric): string[] {
  const { spread } = metric;
  return [metric.label, formatNumber(spread.median), formatNumber(spread.min), formatNumber(spread.max), metric.unit, String(spread.runs.length)];
}

function describeLoadLine(run: BenchRun): string {
  return `1-minute load average: ${run.machine.loadAverage.toFixed(2)} at the start, ${run.loadAverageAtEnd.toFixed(2)} at the end`;
}

function describeMachineLine(machine: MachineInfo): string {
  return (
    `${machine.cpuCount} CPUs (${machine.cpuModel}), ${formatNumber(machine.totalMemoryBytes / 2 ** 30)} GiB RAM, ` +
    `Node ${machine.nodeVersion}, ${machine.system}`
  );
}
