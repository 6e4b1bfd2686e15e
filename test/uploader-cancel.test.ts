import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { UserInputError } from '../src/errors.js';
import { UploadJobs } from '../src/predictions/jobs.js';
import { boxEntries, startUploadHarness, type UploadHarness } from './helpers/upload-harness.js';

describe('upload cancellation', () => {
  let harness: UploadHarness;

  beforeEach(async () => {
    harness = await startUploadHarness({ sceneCount: 50, sandbox: { latencyMs: 5_000 } });
  });

  afterEach(async () => {
    await harness.close();
  });

  it('stops sending and aborts in flight', async () => {
    const upload = harness.upload(harness.sceneUuids, { totalHint: 50 });
    upload.start();
    await waitFor(() => harness.sandbox.stats.inFlight === 10);
    const connectionsBefore = harness.sandbox.stats.connectionsClosedAt.length;

    const cancelledAt = Date.now();
    upload.cancel('test');
    const summary = await upload.done;
    const stoppedAfterMs = Date.now() - cancelledAt;
    // Let the sandbox notice the closed sockets and any late request arrive.
    await new Promise((resolve) => setTimeout(resolve, 500));

    const requests = harness.predictionRequests();
    const lateRequests = requests.filter((request) => request.receivedAt > cancelledAt + 200);
    const abortedAt = requests.map((request) => request.abortedAt ?? Infinity);
    const closedAt = harness.sandbox.stats.connectionsClosedAt.slice(connectionsBefore);

    expect(summary.status).toBe('cancelled');
    expect(summary.counts).toMatchObject({ created: 0, unknown: 10, pending: 40, total: 50 });
    expect(summary.failureReasons[0]).toMatchObject({ reason: 'cancelled_in_flight', count: 10 });
    expect(stoppedAfterMs).toBeLessThan(1_000);
    expect(lateRequests).toHaveLength(0);
    expect(requests).toHaveLength(10);
    expect(Math.max(...abortedAt)).toBeLessThan(cancelledAt + 1_000);
    expect(closedAt.length).toBeGreaterThanOrEqual(10);
    expect(Math.max(...closedAt)).toBeLessThan(cancelledAt + 1_000);
    expect(harness.sandbox.predictions(harness.groupUuid)).toHaveLength(0);
  });

  it('reports read items as pending', async () => {
    const upload = harness.upload(harness.sceneUuids);
    upload.start();
    await waitFor(() => harness.sandbox.stats.inFlight === 10);
    upload.cancel();
    const summary = await upload.done;

    const lines = harness.reportLines(upload.jobId);
    const pendingLines = lines.filter((line) => line.outcome === 'pending');

    expect(pendingLines.length).toBe(summary.counts.pending);
    expect(pendingLines.length).toBeGreaterThan(0);
    expect(pendingLines[0]).toMatchObject({ reason: 'cancelled', attempts: 0 });
  });

  it('is idempotent', async () => {
    const upload = harness.upload(harness.sceneUuids.slice(0, 2));
    upload.start();
    upload.cancel();
    upload.cancel();
    const summary = await upload.done;
    upload.cancel();

    expect(summary.status).toBe('cancelled');
    expect(upload.summary()).toEqual(summary);
  });

  it('cancels before start', async () => {
    const upload = harness.upload(harness.sceneUuids.slice(0, 2), { totalHint: 2 });
    upload.cancel();
    const summary = await upload.done;

    expect(summary.status).toBe('cancelled');
    expect(summary.counts).toMatchObject({ pending: 2, total: 2 });
    expect(harness.predictionRequests()).toHaveLength(0);
  });
});

describe('upload with rejected credentials', () => {
  let harness: UploadHarness;

  beforeEach(async () => {
    harness = await startUploadHarness({ sceneCount: 30 });
  });

  afterEach(async () => {
    await harness.close();
  });

  it('stops with items pending', async () => {
    harness.sandbox.rejectClient(true);

    const summary = await harness.run(harness.sceneUuids, { totalHint: 30 });

    expect(summary.status).toBe('failed');
    expect(summary.error).toContain('invalid_client');
    expect(summary.error).toContain('pending');
    expect(summary.counts).toMatchObject({ pending: 30, total: 30, created: 0, failed: 0 });
    expect(harness.sandbox.stats.tokenRequests).toHaveLength(1);
    expect(harness.predictionRequests()).toHaveLength(0);
    expect(harness.reportLines(summary.jobId).filter((line) => line.attempts !== 0)).toEqual([]);
  });

  it('keeps earlier results', async () => {
    await harness.run(harness.sceneUuids.slice(0, 10));
    harness.tokenProvider.invalidate('any');
    harness.sandbox.revokeTokens();
    harness.sandbox.expireRefreshTokens();
    harness.sandbox.rejectClient(true);

    const summary = await harness.run(harness.sceneUuids, { totalHint: 30 });

    expect(summary.status).toBe('failed');
    expect(summary.counts.skipped).toBe(10);
    expect(summary.counts.created).toBe(0);
    expect(summary.counts.pending).toBe(20);
  });
});

describe('UploadJobs', () => {
  let harness: UploadHarness;
  let jobs: UploadJobs;

  beforeEach(async () => {
    harness = await startUploadHarness({ sceneCount: 20 });
    jobs = new UploadJobs(harness.deps);
  });

  afterEach(async () => {
    await jobs.closeAll();
    await harness.close();
  });

  it('starts a job with a new id', async () => {
    const upload = jobs.start({ groupUuid: harness.groupUuid, entries: boxEntries(harness.sceneUuids) });
    const summary = await upload.done;

    expect(upload.jobId).toMatch(/^upl_[0-9a-f]{12}$/);
    expect(jobs.get(upload.jobId)).toBe(upload);
    expect(summary.counts.created).toBe(20);
  });

  it('returns undefined for unknown ids', () => {
    expect(jobs.get('upl_000000000000')).toBeUndefined();
  });

  it('rejects a second upload to a group', async () => {
    harness.sandbox.setLatency(300);
    const first = jobs.start({ groupUuid: harness.groupUuid, entries: boxEntries(harness.sceneUuids) });
    const second = () => jobs.start({ groupUuid: harness.groupUuid.toUpperCase(), entries: boxEntries(harness.sceneUuids) });

    expect(second).toThrow(UserInputError);
    expect(second).toThrow(first.jobId);
    await first.done;
    expect(second).not.toThrow();
  });

  it('waits then returns a running snapshot', async () => {
    harness.sandbox.setLatency(2_000);
    const upload = jobs.start({ groupUuid: harness.groupUuid, entries: boxEntries(harness.sceneUuids) });

    const startedAt = Date.now();
    const snapshot = await jobs.wait(upload, 300);

    expect(snapshot.status).toBe('running');
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(250);
    expect(Date.now() - startedAt).toBeLessThan(1_500);
  });

  it('returns at once on abort', async () => {
    harness.sandbox.setLatency(2_000);
    const upload = jobs.start({ groupUuid: harness.groupUuid, entries: boxEntries(harness.sceneUuids) });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);

    const startedAt = Date.now();
    const snapshot = await jobs.wait(upload, 10_000, controller.signal);

    expect(snapshot.status).toBe('running');
    expect(Date.now() - startedAt).toBeLessThan(1_500);
  });

  it('waits for the final summary', async () => {
    const upload = jobs.start({ groupUuid: harness.groupUuid, entries: boxEntries(harness.sceneUuids) });

    const summary = await jobs.wait(upload, 20_000);

    expect(summary.status).toBe('completed');
  });

  it('cancels a job', async () => {
    harness.sandbox.setLatency(2_000);
    const upload = jobs.start({ groupUuid: harness.groupUuid, entries: boxEntries(harness.sceneUuids) });
    await waitFor(() => harness.sandbox.stats.inFlight > 0);

    const summary = await jobs.cancel(upload.jobId);

    expect(summary.status).toBe('cancelled');
  });

  it('rejects cancelling an unknown job', async () => {
    await expect(jobs.cancel('upl_nope')).rejects.toThrow(UserInputError);
  });

  it('cancels everything on close', async () => {
    harness.sandbox.setLatency(2_000);
    const upload = jobs.start({ groupUuid: harness.groupUuid, entries: boxEntries(harness.sceneUuids) });

    await jobs.closeAll();

    expect(upload.summary().status).toBe('cancelled');
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) {
      throw new Error('condition not met in time');
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
