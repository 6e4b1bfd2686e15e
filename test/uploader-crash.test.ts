import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { startUploadHarness, type UploadHarness } from './helpers/upload-harness.js';

const CHILD = fileURLToPath(new URL('./helpers/upload-child.ts', import.meta.url));

describe('upload after kill -9', () => {
  let harness: UploadHarness;

  beforeEach(async () => {
    harness = await startUploadHarness({ sceneCount: 300, sandbox: { latencyMs: 20 } });
  });

  afterEach(async () => {
    await harness.close();
  });

  it('never uploads a scene twice', async () => {
    const argument = JSON.stringify({ url: harness.sandbox.url, stateDir: harness.stateDir, groupUuid: harness.groupUuid, scenes: harness.sceneUuids });
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, argument], { stdio: ['ignore', 'ignore', 'pipe'] });
    let childStderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      childStderr += chunk.toString();
    });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));

    // Kill the child in the middle of the upload, with requests in flight.
    await waitFor(() => harness.sandbox.predictions(harness.groupUuid).length >= 100 || child.exitCode !== null);
    child.kill('SIGKILL');
    const signal = await exited;
    const createdBeforeKill = harness.sandbox.predictions(harness.groupUuid).length;

    const summary = await harness.run(harness.sceneUuids);
    const countsByScene = [...harness.sandbox.predictionCountByScene(harness.groupUuid).values()];

    expect(childStderr).toBe('');
    expect(signal).toBe('SIGKILL');
    expect(createdBeforeKill).toBeGreaterThanOrEqual(100);
    expect(createdBeforeKill).toBeLessThan(300);
    expect(Math.max(...countsByScene)).toBe(1);
    expect(summary.counts.skipped + summary.counts.unknown).toBeGreaterThanOrEqual(createdBeforeKill);
    expect(summary.counts.unknown).toBeLessThanOrEqual(10);
    expect(summary.counts.created + summary.counts.skipped + summary.counts.unknown).toBe(300);
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) {
      throw new Error('condition not met in time');
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
