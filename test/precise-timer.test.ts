import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import type { Worker } from 'node:worker_threads';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { PreciseTimer } from '../src/sandbox/precise-timer.js';

const BUILT_PRECISE_TIMER = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../dist/sandbox/precise-timer.js');

let timer: PreciseTimer;

beforeEach(async () => {
  timer = new PreciseTimer();
  await timer.start();
});

afterEach(async () => {
  await timer.close();
});

describe('PreciseTimer', () => {
  it('never resolves early', async () => {
    const start = performance.now();
    const deadlines = Array.from({ length: 60 }, (_, index) => start + 1 + ((index * 7.3) % 30));

    const outcomes = await Promise.all(
      deadlines.map(async (deadline) => {
        const reached = await timer.waitUntil(deadline, new AbortController().signal);
        return { deadline, reached, resolvedAt: performance.now() };
      }),
    );

    expect(outcomes.filter((outcome) => !outcome.reached)).toEqual([]);
    expect(outcomes.filter((outcome) => outcome.resolvedAt < outcome.deadline)).toEqual([]);
  });

  it('resolves a passed deadline at once', async () => {
    const reached = await timer.waitUntil(performance.now() - 5, new AbortController().signal);

    expect(reached).toBe(true);
  });

  it('resolves false on abort', async () => {
    const controller = new AbortController();
    const waiting = timer.waitUntil(performance.now() + 60_000, controller.signal);
    setTimeout(() => controller.abort(), 5);

    expect(await waiting).toBe(false);
    expect(await timer.waitUntil(performance.now() + 60_000, controller.signal)).toBe(false);
  });

  it('keeps other waits after an abort', async () => {
    const controller = new AbortController();
    const aborted = timer.waitUntil(performance.now() + 5, controller.signal);
    const deadline = performance.now() + 15;
    const otherWait = timer.waitUntil(deadline, new AbortController().signal);
    controller.abort();

    expect(await aborted).toBe(false);
    expect(await otherWait).toBe(true);
    expect(performance.now()).toBeGreaterThanOrEqual(deadline);
  });

  it('resolves pending waits false on close', async () => {
    const waiting = timer.waitUntil(performance.now() + 60_000, new AbortController().signal);
    await timer.close();

    expect(await waiting).toBe(false);
  });

  it('falls back to timers after close', async () => {
    await timer.close();
    const deadline = performance.now() + 10;

    const reached = await timer.waitUntil(deadline, new AbortController().signal);

    expect(reached).toBe(true);
    expect(performance.now()).toBeGreaterThanOrEqual(deadline);
  });

  it('falls back when the worker exits', async () => {
    const deadline = performance.now() + 30;
    const waiting = timer.waitUntil(deadline, new AbortController().signal);
    await (timer as unknown as { worker: Worker }).worker.terminate();

    expect(await waiting).toBe(true);
    expect(performance.now()).toBeGreaterThanOrEqual(deadline);
  });

  it('rejects a NaN deadline', () => {
    expect(() => timer.waitUntil(Number.NaN, new AbortController().signal)).toThrow(RangeError);
  });

  it('settles start and close alone', async () => {
    // In a process with no other handle, start() and close() must keep the worker referenced
    // until they settle, or the process exits with code 13. The worker also still wakes for the
    // aborted wait, which may be handled after close().
    const script = `
      import { PreciseTimer } from ${JSON.stringify(pathToFileURL(BUILT_PRECISE_TIMER).href)};
      const timer = new PreciseTimer();
      await timer.start();
      const controller = new AbortController();
      const deadline = performance.now() + 5;
      const waiting = timer.waitUntil(deadline, controller.signal);
      controller.abort();
      await waiting;
      while (performance.now() < deadline + 2) {}
      await timer.close();
      process.stdout.write('closed');
    `;

    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { timeout: 10_000 });

    expect(stdout).toBe('closed');
  });

  it('lets the process exit', async () => {
    // A process whose only work was one wait exits by itself, as it would after a setTimeout.
    const script = `
      import { PreciseTimer } from ${JSON.stringify(pathToFileURL(BUILT_PRECISE_TIMER).href)};
      const timer = new PreciseTimer();
      const reached = await timer.waitUntil(performance.now() + 5, new AbortController().signal);
      process.stdout.write(String(reached));
    `;

    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { timeout: 10_000 });

    expect(stdout).toBe('true');
  });
});
