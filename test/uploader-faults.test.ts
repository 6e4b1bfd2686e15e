import { existsSync, mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { UploadJournal } from '../src/predictions/journal.js';
import { gapAfter, startUploadHarness, type UploadHarness } from './helpers/upload-harness.js';

/** Allowed early arrival against a requested delay, for timer and clock granularity. */
const EARLY_SLACK_MS = 50;

/** Allowed lateness against a requested delay on a loaded machine. */
const LATE_SLACK_MS = 1_500;

describe('upload after a 429', () => {
  let harness: UploadHarness;

  beforeEach(async () => {
    // Backoff up to 1 s, so that a Retry-After of -3 wrongly read as 3 s fails the check.
    harness = await startUploadHarness({ sceneCount: 5, retryLimits: { backoffBaseMs: 1_000, backoffMaxMs: 1_000 } });
  });

  afterEach(async () => {
    await harness.close();
  });

  async function gapAfterRateLimit(retryAfter: string | undefined): Promise<number> {
    const headers: Record<string, string> = retryAfter === undefined ? {} : { 'retry-after': retryAfter };
    harness.sandbox.enqueueResponses('createPrediction', { status: 429, headers, body: { message: 'Too many requests' } });

    const summary = await harness.run(harness.sceneUuids.slice(0, 1), { maxConnections: 1 });

    expect(summary.counts.created).toBe(1);
    expect(summary.items[0]?.attempts).toBe(2);
    return gapAfter(harness.predictionRequests(), 0);
  }

  it('waits Retry-After seconds', async () => {
    const gap = await gapAfterRateLimit('2');

    expect(gap).toBeGreaterThanOrEqual(2_000 - EARLY_SLACK_MS);
    expect(gap).toBeLessThan(2_000 + LATE_SLACK_MS);
  });

  it('waits until a Retry-After date', async () => {
    // HTTP dates have whole seconds: start from the next full second so the delay is at least 3 s.
    const retryAt = Math.ceil(Date.now() / 1_000) * 1_000 + 3_000;
    const gap = await gapAfterRateLimit(new Date(retryAt).toUTCString());
    const answeredAt = harness.predictionRequests()[0]?.finishedAt ?? 0;

    expect(gap).toBeGreaterThanOrEqual(retryAt - answeredAt - EARLY_SLACK_MS);
    expect(gap).toBeGreaterThanOrEqual(2_500);
    expect(gap).toBeLessThan(4_000 + LATE_SLACK_MS);
  });

  it('waits a decimal Retry-After', async () => {
    const gap = await gapAfterRateLimit('1.5');

    expect(gap).toBeGreaterThanOrEqual(1_500 - EARLY_SLACK_MS);
    expect(gap).toBeLessThan(1_500 + LATE_SLACK_MS);
  });

  it('backs off on a negative Retry-After', async () => {
    const gap = await gapAfterRateLimit('-3');

    expect(gap).toBeLessThan(1_000 + LATE_SLACK_MS);
  });

  it('backs off without Retry-After', async () => {
    const gap = await gapAfterRateLimit(undefined);

    expect(gap).toBeLessThan(1_000 + LATE_SLACK_MS);
  });

  it('logs the pause', async () => {
    await gapAfterRateLimit('1');

    expect(harness.logLines.some((line) => line.includes('rate limit') && line.includes('delayMs=1000'))).toBe(true);
  });
});

describe('upload under faults', () => {
  let harness: UploadHarness;

  beforeEach(async () => {
    harness = await startUploadHarness({ sceneCount: 30 });
  });

  afterEach(async () => {
    await harness.close();
  });

  it('gives up on endless 429', async () => {
    harness.sandbox.setAlwaysResponse('createPrediction', { status: 429, body: { message: 'slow down' } });
    const startedAt = Date.now();

    const summary = await harness.run(harness.sceneUuids.slice(0, 5));

    expect(summary.counts.failed).toBe(5);
    expect(summary.failureReasons[0]).toMatchObject({ reason: 'rate_limited', outcome: 'failed', count: 5 });
    expect(summary.failureReasons[0]?.examples[0]).toMatchObject({ httpStatus: 429, attempts: 4 });
    expect(harness.predictionRequests()).toHaveLength(5 * 4);
    expect(Date.now() - startedAt).toBeLessThan(15_000);
  });

  it('gives up on endless 503', async () => {
    harness.sandbox.setAlwaysResponse('createPrediction', { status: 503, body: { message: 'maintenance' } });

    const summary = await harness.run(harness.sceneUuids.slice(0, 5));
    const example = summary.failureReasons[0]?.examples[0];

    expect(summary.counts.failed).toBe(5);
    expect(summary.failureReasons[0]).toMatchObject({ reason: 'server_error', count: 5 });
    expect(example).toMatchObject({ httpStatus: 503, attempts: 3 });
    expect(example?.error).toContain('maintenance');
    expect(harness.predictionRequests()).toHaveLength(5 * 3);
  });

  it('retries a 503 then creates', async () => {
    harness.sandbox.enqueueResponses('createPrediction', { status: 503 }, { status: 502, body: '<html>bad gateway</html>' });

    const summary = await harness.run(harness.sceneUuids.slice(0, 1));

    expect(summary.counts.created).toBe(1);
    expect(summary.items[0]?.attempts).toBe(3);
  });

  it('pauses every worker on a 429', async () => {
    harness.sandbox.setLatency(200, 'createPrediction');
    const rateLimited = Array.from({ length: 10 }, () => ({ status: 429, headers: { 'retry-after': '1' } }));
    harness.sandbox.enqueueResponses('createPrediction', ...rateLimited);

    const summary = await harness.run(harness.sceneUuids);
    const requests = harness.predictionRequests();
    const firstAnswer = Math.min(...requests.filter((request) => request.status === 429).map((request) => request.finishedAt ?? Infinity));
    const duringPause = requests.filter((request) => request.receivedAt > firstAnswer + 100 && request.receivedAt < firstAnswer + 1_000 - EARLY_SLACK_MS);

    expect(summary.counts.created).toBe(30);
    expect(requests.filter((request) => request.status === 429)).toHaveLength(10);
    expect(duringPause).toHaveLength(0);
    expect(harness.sandbox.stats.peakInFlight).toBeLessThanOrEqual(10);
    expect(Math.max(...harness.sandbox.predictionCountByScene(harness.groupUuid).values())).toBe(1);
  });

  it('retries wait outside the limiter', async () => {
    harness.sandbox.enqueueResponses('createPrediction', { status: 503, headers: { 'retry-after': '1' } });

    const summary = await harness.run(harness.sceneUuids.slice(0, 3), { maxConnections: 1 });
    const requests = harness.predictionRequests();
    const retryAt = (requests[0]?.finishedAt ?? 0) + 1_000;

    expect(summary.counts.created).toBe(3);
    expect(requests).toHaveLength(4);
    // The two other items went out while the first one waited for its retry.
    expect(requests[1]?.receivedAt).toBeLessThan(retryAt - EARLY_SLACK_MS);
    expect(requests[2]?.receivedAt).toBeLessThan(retryAt - EARLY_SLACK_MS);
    expect(requests[3]?.sceneUuid).toBe(requests[0]?.sceneUuid);
  });

  it('renews a revoked token once', async () => {
    harness.sandbox.setLatency(100, 'createPrediction');
    const upload = harness.upload(harness.sceneUuids);
    let revoked = false;
    upload.onProgress((progress) => {
      if (!revoked && progress.finished >= 5) {
        revoked = true;
        harness.sandbox.revokeTokens();
      }
    });
    upload.start();
    const summary = await upload.done;

    const requests = harness.predictionRequests();
    const rejected = requests.filter((request) => request.status === 401);
    const rejectedScenes = new Set(rejected.map((request) => request.sceneUuid));
    const perScene = new Map<string | undefined, number>();
    for (const request of requests) {
      perScene.set(request.sceneUuid, (perScene.get(request.sceneUuid) ?? 0) + 1);
    }

    expect(summary.counts.created).toBe(30);
    expect(summary.counts.failed).toBe(0);
    expect(rejected.length).toBeGreaterThan(0);
    expect(rejectedScenes.size).toBe(rejected.length);
    expect([...rejectedScenes].every((scene) => perScene.get(scene) === 2)).toBe(true);
    expect(requests).toHaveLength(30 + rejected.length);
    expect(harness.sandbox.stats.tokenRequests).toHaveLength(2);
  });

  it('marks a reset after sending unknown', async () => {
    harness.sandbox.destroySocketAfterBody('createPrediction', 1);

    const summary = await harness.run(harness.sceneUuids.slice(0, 10));
    const unknown = summary.items.find((item) => item.outcome === 'unknown');

    expect(summary.counts).toMatchObject({ created: 9, unknown: 1 });
    expect(unknown?.reason).toBe('no_response');
    expect(unknown?.error).toMatch(/UND_ERR_SOCKET|closed/);
    expect(unknown?.error).not.toContain('fetch failed');
    expect(unknown?.error).toContain('may or may not exist');
    // The sandbox created the prediction before dropping the connection; it was not sent twice.
    expect(harness.sandbox.predictions(harness.groupUuid)).toHaveLength(10);
    expect(harness.predictionRequests()).toHaveLength(10);
  });

  it('holds back unknown scenes on rerun', async () => {
    harness.sandbox.destroySocketAfterBody('createPrediction', 1);
    const scenes = harness.sceneUuids.slice(0, 5);
    const first = await harness.run(scenes);
    const unknownScene = first.items.find((item) => item.outcome === 'unknown')?.sceneUuid;

    const second = await harness.run(scenes);
    const heldBack = second.items.find((item) => item.outcome === 'unknown');

    expect(second.counts).toMatchObject({ skipped: 4, unknown: 1 });
    expect(heldBack).toMatchObject({ sceneUuid: unknownScene, reason: 'unconfirmed_earlier_send', attempts: 0 });
    expect(heldBack?.error).toContain('resendUnknown: true');
    expect(harness.predictionRequests()).toHaveLength(5);
  });

  it('fails a 401 after renewal', async () => {
    harness.sandbox.enqueueResponses('createPrediction', { status: 401, body: { message: 'no' } }, { status: 401, body: { message: 'still no' } });

    const summary = await harness.run(harness.sceneUuids.slice(0, 1), { maxConnections: 1 });

    expect(summary.counts.failed).toBe(1);
    expect(summary.items[0]).toMatchObject({ reason: 'http_401', httpStatus: 401 });
    expect(harness.predictionRequests()).toHaveLength(2);
  });
});

describe('upload journal on rerun', () => {
  let harness: UploadHarness;

  beforeEach(async () => {
    harness = await startUploadHarness({ sceneCount: 5 });
  });

  afterEach(async () => {
    await harness.close();
  });

  async function journalSends(scenes: string[], tornTail: boolean): Promise<void> {
    const journal = await UploadJournal.open({ stateDir: harness.stateDir, apiOrigin: harness.sandbox.url, groupUuid: harness.groupUuid, logger: harness.deps.logger });
    for (const scene of scenes) {
      journal.append({ e: 'sent', scene, job: 'upl_crashed', at: Date.now() });
    }
    journal.close();
    if (tornTail) {
      const { appendFileSync } = await import('node:fs');
      appendFileSync(journal.path, '{"e":"created","scene":"');
    }
  }

  it('holds back sends without outcome', async () => {
    const unconfirmed = harness.sceneUuids.slice(0, 3);
    await journalSends(unconfirmed, true);

    const summary = await harness.run(harness.sceneUuids);
    const sentScenes = new Set(harness.predictionRequests().map((request) => request.sceneUuid));

    expect(summary.counts).toMatchObject({ created: 2, unknown: 3 });
    expect(summary.failureReasons[0]).toMatchObject({ reason: 'unconfirmed_earlier_send', count: 3 });
    expect(unconfirmed.some((scene) => sentScenes.has(scene))).toBe(false);
  });

  it('resends only them with resendUnknown', async () => {
    const created = harness.sceneUuids.slice(3);
    await harness.run(created);
    const unconfirmed = harness.sceneUuids.slice(0, 3);
    await journalSends(unconfirmed, false);

    const summary = await harness.run(harness.sceneUuids, { resendUnknown: true });
    const counts = harness.sandbox.predictionCountByScene(harness.groupUuid);

    expect(summary.counts).toMatchObject({ created: 3, skipped: 2, unknown: 0 });
    expect(harness.predictionRequests()).toHaveLength(5);
    expect(Math.max(...counts.values())).toBe(1);
  });

  it('resends them with force', async () => {
    const unconfirmed = harness.sceneUuids.slice(0, 3);
    await journalSends(unconfirmed, false);

    const summary = await harness.run(harness.sceneUuids, { force: true });

    expect(summary.counts.created).toBe(5);
    expect(harness.predictionRequests()).toHaveLength(5);
  });
});

describe('upload with a full disk', () => {
  let harness: UploadHarness;

  beforeEach(async () => {
    harness = await startUploadHarness({ sceneCount: 30 });
  });

  afterEach(async () => {
    await harness.close();
  });

  it.skipIf(!existsSync('/dev/full'))('report write failure stops it', async () => {
    const upload = harness.upload(harness.sceneUuids, { totalHint: 30 });
    // Writes to /dev/full fail with ENOSPC, as on a full disk.
    mkdirSync(join(harness.stateDir, 'reports'), { recursive: true });
    const reportFile = join(harness.stateDir, 'reports', `${upload.jobId}.jsonl`);
    symlinkSync('/dev/full', reportFile);

    upload.start();
    const summary = await upload.done;

    expect(summary.status).toBe('failed');
    expect(summary.error).toContain(reportFile);
    expect(summary.error).toContain('ENOSPC');
    expect(summary.counts.total).toBe(30);
  });
});
