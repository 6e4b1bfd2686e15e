/**
 * upload_predictions through the SDK client while the sandbox misbehaves: closed and dropped
 * sockets, 429 with each form of Retry-After, endless 429 and 503, and a token revoked mid-run.
 */
import { afterEach, describe, expect, it } from 'vitest';

import type { RetryLimits } from '../src/predictions/uploader.js';
import type { RecordedRequest } from '../src/sandbox/types.js';
import { startHarness, type Harness } from './helpers/mcp-harness.js';
import {
  addUploadTarget,
  inlinePredictions,
  predictionRequests,
  removeTempDirs,
  summaryOf,
  waitFor,
} from './helpers/upload-tools.js';

/** Allowed early arrival against a requested delay, for timer and clock granularity. */
const EARLY_SLACK_MS = 50;

/** Allowed lateness against a requested delay on a loaded machine. */
const LATE_SLACK_MS = 1_500;

/**
 * Backoff of at most 500 ms (full jitter), well below every Retry-After value tested, so a
 * fallback to backoff cannot pass for an honoured header and the other way round.
 */
const SHORT_BACKOFF: Partial<RetryLimits> = { backoffBaseMs: 500, backoffMaxMs: 500 };

/** Returns the gap between the 429 response to `first` and the next request for the same scene. */
function gapToRetry(requests: readonly RecordedRequest[], first: RecordedRequest): number {
  const retry = requests.find((request) => request.id > first.id && request.sceneUuid === first.sceneUuid);
  if (retry === undefined || first.finishedAt === undefined) {
    throw new Error(`No retry recorded after request ${first.id} for scene ${first.sceneUuid ?? '(none)'}`);
  }
  return retry.receivedAt - first.finishedAt;
}

describe('upload_predictions over unreliable sockets', () => {
  let harness: Harness | undefined;

  afterEach(async () => {
    await harness?.close();
    removeTempDirs(harness?.stateDir);
    harness = undefined;
  });

  it('creates all with closed connections', async () => {
    harness = await startHarness();
    harness.sandbox.setCloseAfterResponse(true);
    const target = addUploadTarget(harness.sandbox, 30);

    const summary = summaryOf(
      await harness.call('upload_predictions', { predictionGroupUuid: target.groupUuid, predictions: inlinePredictions(target.sceneUuids) }),
    );

    expect(summary.counts.created).toBe(30);
    expect(summary.counts.total).toBe(30);
    expect(harness.sandbox.predictions(target.groupUuid)).toHaveLength(30);
    expect(harness.sandbox.stats.totalConnections).toBeGreaterThanOrEqual(30);
  });

  it('reports a dropped socket as unknown', async () => {
    harness = await startHarness();
    harness.sandbox.destroySocketAfterBody('createPrediction', 1);
    const target = addUploadTarget(harness.sandbox, 30);

    const summary = summaryOf(
      await harness.call('upload_predictions', { predictionGroupUuid: target.groupUuid, predictions: inlinePredictions(target.sceneUuids) }),
    );
    const unknown = summary.items.filter((item) => item.outcome === 'unknown');
    const dropped = predictionRequests(harness.sandbox).find((request) => request.destroyedAt !== undefined);

    expect(summary.counts.created).toBe(29);
    expect(summary.counts.unknown).toBe(1);
    expect(unknown).toHaveLength(1);
    expect(unknown[0]?.sceneUuid).toBe(dropped?.sceneUuid);
    expect(unknown[0]?.reason).toBe('no_response');
    expect(unknown[0]?.error).not.toBe('fetch failed');
    expect(unknown[0]?.error).toMatch(/socket|connection/i);
    expect(unknown[0]?.error).toContain('may or may not exist');
    // Not resent: the sandbox created it before dropping the socket, and nothing else was doubled.
    expect(predictionRequests(harness.sandbox)).toHaveLength(30);
    expect(harness.sandbox.predictions(target.groupUuid)).toHaveLength(30);
  });
});

describe('upload_predictions after a 429', () => {
  let harness: Harness | undefined;

  afterEach(async () => {
    await harness?.close();
    removeTempDirs(harness?.stateDir);
    harness = undefined;
  });

  /** Uploads one item whose first response is a 429 with `retryAfter`, and returns the wait before its retry. */
  async function waitAfterRateLimit(retryAfter: string | undefined): Promise<number> {
    harness = await startHarness({ context: { uploadRetryLimits: SHORT_BACKOFF } });
    const target = addUploadTarget(harness.sandbox, 1);
    const headers: Record<string, string> = retryAfter === undefined ? {} : { 'retry-after': retryAfter };
    harness.sandbox.enqueueResponses('createPrediction', { status: 429, headers, body: { message: 'Too many requests' } });

    const summary = summaryOf(
      await harness.call('upload_predictions', { predictionGroupUuid: target.groupUuid, predictions: inlinePredictions(target.sceneUuids) }),
    );
    const requests = predictionRequests(harness.sandbox);

    expect(summary.counts.created).toBe(1);
    expect(summary.items[0]?.attempts).toBe(2);
    expect(requests[0]?.status).toBe(429);
    return gapToRetry(requests, requests[0] as RecordedRequest);
  }

  it('waits Retry-After seconds', async () => {
    const gap = await waitAfterRateLimit('2');

    expect(gap).toBeGreaterThanOrEqual(2_000 - EARLY_SLACK_MS);
    expect(gap).toBeLessThan(2_000 + LATE_SLACK_MS);
  });

  it('waits until a Retry-After date', async () => {
    // An HTTP date has whole seconds, so the date is the next full second plus 3 s: 3 to 4 s ahead.
    const retryAt = Math.ceil(Date.now() / 1_000) * 1_000 + 3_000;
    const gap = await waitAfterRateLimit(new Date(retryAt).toUTCString());
    const answeredAt = predictionRequests(harness!.sandbox)[0]?.finishedAt ?? 0;

    expect(gap).toBeGreaterThanOrEqual(retryAt - answeredAt - EARLY_SLACK_MS);
    expect(gap).toBeGreaterThanOrEqual(2_500);
    expect(gap).toBeLessThan(4_000 + LATE_SLACK_MS);
  });

  it('waits a decimal Retry-After', async () => {
    const gap = await waitAfterRateLimit('1.5');

    expect(gap).toBeGreaterThanOrEqual(1_500 - EARLY_SLACK_MS);
    expect(gap).toBeLessThan(1_500 + LATE_SLACK_MS);
  });

  it('backs off on a negative Retry-After', async () => {
    const gap = await waitAfterRateLimit('-3');

    // Read as 3 s, the wait would be at least 2,950 ms.
    expect(gap).toBeLessThan(500 + LATE_SLACK_MS);
  });

  it('backs off without Retry-After', async () => {
    const gap = await waitAfterRateLimit(undefined);

    expect(gap).toBeLessThan(500 + LATE_SLACK_MS);
  });

  it('pauses every item without warnings', { timeout: 60_000 }, async () => {
    harness = await startHarness({ sandbox: { latencyMs: 200 } });
    const target = addUploadTarget(harness.sandbox, 60);
    const rateLimited = Array.from({ length: 10 }, () => ({ status: 429, headers: { 'retry-after': '1' } }));
    harness.sandbox.enqueueResponses('createPrediction', ...rateLimited);
    const warnings: Error[] = [];
    const onWarning = (warning: Error): void => {
      warnings.push(warning);
    };
    process.on('warning', onWarning);

    try {
      const summary = summaryOf(
        await harness.call('upload_predictions', { predictionGroupUuid: target.groupUuid, predictions: inlinePredictions(target.sceneUuids) }),
      );
      const requests = predictionRequests(harness.sandbox);
      const firstAnswer = Math.min(...requests.filter((request) => request.status === 429).map((request) => request.finishedAt ?? Infinity));
      const duringPause = requests.filter((request) => request.receivedAt > firstAnswer + 100 && request.receivedAt < firstAnswer + 1_000 - EARLY_SLACK_MS);

      expect(summary.counts.created).toBe(60);
      expect(duringPause).toHaveLength(0);
      expect(harness.sandbox.stats.peakInFlight).toBeLessThanOrEqual(10);
      // Up to 40 read items wait out the pause, each listening on the upload's stop signal.
      expect(warnings.map((warning) => warning.name)).not.toContain('MaxListenersExceededWarning');
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('gives up on endless 429', { timeout: 60_000 }, async () => {
    harness = await startHarness({ context: { uploadRetryLimits: { backoffBaseMs: 100, backoffMaxMs: 400 } } });
    harness.sandbox.setAlwaysResponse('createPrediction', { status: 429, body: { message: 'slow down' } });
    const target = addUploadTarget(harness.sandbox, 5);

    const startedAt = Date.now();
    const summary = summaryOf(
      await harness.call('upload_predictions', { predictionGroupUuid: target.groupUuid, predictions: inlinePredictions(target.sceneUuids) }),
    );
    const elapsedMs = Date.now() - startedAt;
    const reason = summary.failureReasons[0];

    expect(summary.status).toBe('completed');
    expect(summary.counts.failed).toBe(5);
    expect(reason?.reason).toBe('rate_limited');
    expect(reason?.count).toBe(5);
    expect(reason?.examples[0]?.httpStatus).toBe(429);
    // The default limit: 8 attempts per item, each getting a 429 response.
    expect(reason?.examples[0]?.attempts).toBe(8);
    expect(predictionRequests(harness.sandbox)).toHaveLength(5 * 8);
    // Each item waits at most 7 backoffs of 400 ms, and a 429 pauses every item at once.
    expect(elapsedMs).toBeLessThan(20_000);
  });

  it('gives up on endless 503', { timeout: 60_000 }, async () => {
    harness = await startHarness({ context: { uploadRetryLimits: { backoffBaseMs: 100, backoffMaxMs: 400 } } });
    harness.sandbox.setAlwaysResponse('createPrediction', { status: 503, body: { message: 'maintenance' } });
    const target = addUploadTarget(harness.sandbox, 5);

    const summary = summaryOf(
      await harness.call('upload_predictions', { predictionGroupUuid: target.groupUuid, predictions: inlinePredictions(target.sceneUuids) }),
    );
    const reason = summary.failureReasons[0];

    expect(summary.counts.failed).toBe(5);
    expect(reason?.reason).toBe('server_error');
    expect(reason?.outcome).toBe('failed');
    expect(reason?.examples[0]?.httpStatus).toBe(503);
    // The default limit: 4 attempts per item.
    expect(reason?.examples[0]?.attempts).toBe(4);
    expect(reason?.examples[0]?.error).toContain('maintenance');
    expect(predictionRequests(harness.sandbox)).toHaveLength(5 * 4);
  });
});

describe('upload_predictions with a revoked token', () => {
  let harness: Harness | undefined;

  afterEach(async () => {
    await harness?.close();
    removeTempDirs(harness?.stateDir);
    harness = undefined;
  });

  it('renews once and retries each item once', { timeout: 60_000 }, async () => {
    harness = await startHarness({ sandbox: { latencyMs: 300 } });
    const { sandbox } = harness;
    const target = addUploadTarget(sandbox, 60);

    const call = harness.call('upload_predictions', {
      predictionGroupUuid: target.groupUuid,
      predictions: inlinePredictions(target.sceneUuids),
    });
    // Revoke while the second wave of requests is in flight, after the first one was created.
    await waitFor(() => sandbox.predictions(target.groupUuid).length >= 10 && sandbox.stats.inFlight >= 5, 'items are created and more are in flight');
    const tokenRequestsBefore = sandbox.stats.tokenRequests.length;
    sandbox.revokeTokens();
    const summary = summaryOf(await call);

    const requests = predictionRequests(sandbox);
    const rejected = requests.filter((request) => request.status === 401);
    const rejectedScenes = new Set(rejected.map((request) => request.sceneUuid));
    const requestsOfRejectedScenes = requests.filter((request) => rejectedScenes.has(request.sceneUuid));

    expect(summary.counts.created).toBe(60);
    expect(summary.counts.failed).toBe(0);
    expect(tokenRequestsBefore).toBe(1);
    expect(sandbox.stats.tokenRequests).toHaveLength(2);
    expect(rejected.length).toBeGreaterThan(0);
    expect(rejectedScenes.size).toBe(rejected.length);
    // Each affected scene: one 401, then one success, in that order.
    expect(requestsOfRejectedScenes).toHaveLength(2 * rejected.length);
    for (const scene of rejectedScenes) {
      const statuses = requests.filter((request) => request.sceneUuid === scene).map((request) => request.status);
      expect(statuses, `requests for scene ${scene ?? '(none)'}`).toEqual([401, 200]);
    }
    expect(requests).toHaveLength(60 + rejected.length);
    expect(Math.max(...sandbox.predictionCountByScene(target.groupUuid).values())).toBe(1);
  });
});
