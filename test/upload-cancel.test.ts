/**
 * Cancelling an upload through the SDK client, by aborting the tool call or with
 * cancel_upload_job: nothing new is sent, in-flight sockets close, the server stays responsive,
 * and a later upload sends what the cancelled one did not.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { afterEach, describe, expect, it } from 'vitest';

import type { UploadSummary } from '../src/predictions/summary.js';
import type { RecordedRequest } from '../src/sandbox/types.js';
import { startHarness, type Harness } from './helpers/mcp-harness.js';
import {
  addUploadTarget,
  inlinePredictions,
  predictionRequests,
  readReport,
  removeTempDirs,
  summaryOf,
  type UploadTarget,
  waitFor,
} from './helpers/upload-tools.js';

/** Latency of the prediction route: every request is still in flight when the test cancels. */
const SLOW_PREDICTION_MS = 5_000;

/** Time after the cancel within which a new request would count as sent after it. */
const NO_NEW_REQUEST_AFTER_MS = 200;

/** Time after the cancel within which the in-flight sockets must close. */
const SOCKETS_CLOSED_WITHIN_MS = 1_000;

/** Time after the cancel for late sockets and requests to reach the sandbox before checking. */
const SETTLE_MS = 1_500;

/** The cancel path of the two tests, checked the same way. */
interface CancelledRun {
  harness: Harness;
  target: UploadTarget;
  cancelledAt: number;
  inFlightAtCancel: RecordedRequest[];
}

/** Checks the sandbox after a cancel, with one expect per condition. */
function expectStoppedAtCancel(run: CancelledRun): void {
  const requests = predictionRequests(run.harness.sandbox);
  const lateRequests = requests.filter((request) => request.receivedAt > run.cancelledAt + NO_NEW_REQUEST_AFTER_MS);
  const closedAt = run.inFlightAtCancel.map((request) => request.abortedAt ?? request.finishedAt ?? Infinity);

  expect(run.inFlightAtCancel).toHaveLength(10);
  expect(lateRequests).toHaveLength(0);
  expect(requests).toHaveLength(10);
  expect(run.inFlightAtCancel.every((request) => request.abortedAt !== undefined)).toBe(true);
  expect(Math.max(...closedAt)).toBeLessThanOrEqual(run.cancelledAt + SOCKETS_CLOSED_WITHIN_MS);
  expect(run.harness.sandbox.stats.inFlight).toBe(0);
  expect(run.harness.sandbox.predictions(run.target.groupUuid)).toHaveLength(0);
}

/** Checks that list_datasets returns within 500 ms, then reruns the upload with a fast sandbox. */
async function expectResponsiveAndResumable(run: CancelledRun): Promise<void> {
  const listStartedAt = Date.now();
  const listed = await run.harness.call('list_datasets', { limit: 1 });
  const listMs = Date.now() - listStartedAt;

  expect(listed.isError).toBeFalsy();
  expect(listMs).toBeLessThan(500);

  run.harness.sandbox.setLatency(0, 'createPrediction');
  const rerun = summaryOf(
    await run.harness.call('upload_predictions', {
      predictionGroupUuid: run.target.groupUuid,
      predictions: inlinePredictions(run.target.sceneUuids),
    }),
  );
  const perScene = [...run.harness.sandbox.predictionCountByScene(run.target.groupUuid).values()];

  // The server cannot tell whether the 10 items in flight at the cancel were created, so it does not resend them.
  expect(rerun.status).toBe('completed');
  expect(rerun.counts.created).toBe(90);
  expect(rerun.counts.unknown).toBe(10);
  expect(rerun.failureReasons[0]?.reason).toBe('unconfirmed_earlier_send');
  expect(perScene).toHaveLength(90);
  expect(perScene.every((count) => count === 1)).toBe(true);
}

describe('upload_predictions cancelled by the client', () => {
  let harness: Harness | undefined;

  afterEach(async () => {
    await harness?.close();
    removeTempDirs(harness?.stateDir);
    harness = undefined;
  });

  it('stops and resumes cleanly', { timeout: 60_000 }, async () => {
    harness = await startHarness();
    harness.sandbox.setLatency(SLOW_PREDICTION_MS, 'createPrediction');
    const target = addUploadTarget(harness.sandbox, 100);
    const controller = new AbortController();

    const calledAt = Date.now();
    const call = harness.call(
      'upload_predictions',
      { predictionGroupUuid: target.groupUuid, predictions: inlinePredictions(target.sceneUuids) },
      { signal: controller.signal },
    );
    const outcome = call.then(
      () => 'returned',
      (error: unknown) => error,
    );
    await waitFor(() => harness!.sandbox.stats.inFlight === 10, '10 requests are in flight');
    await sleep(Math.max(0, calledAt + 1_000 - Date.now()));

    const inFlightAtCancel = predictionRequests(harness.sandbox).filter((request) => request.finishedAt === undefined);
    const cancelledAt = Date.now();
    controller.abort('test cancel');
    const callError = await outcome;
    await sleep(SETTLE_MS);

    const reports = readdirSync(path.join(harness.stateDir, 'reports'));
    const reportLines = readReport(path.join(harness.stateDir, 'reports', reports[0] ?? 'missing'));

    expect(callError).toBeInstanceOf(Error);
    expect((callError as Error).message).toContain('test cancel');
    // The job's report: the 10 in-flight items are unknown and nothing was created.
    expect(reports).toHaveLength(1);
    expect(reportLines.filter((line) => line.outcome === 'unknown' && line.reason === 'cancelled_in_flight')).toHaveLength(10);
    expect(reportLines.filter((line) => line.outcome === 'created')).toHaveLength(0);
    expectStoppedAtCancel({ harness, target, cancelledAt, inFlightAtCancel });
    await expectResponsiveAndResumable({ harness, target, cancelledAt, inFlightAtCancel });
  });
});

describe('cancel_upload_job', () => {
  let harness: Harness | undefined;

  afterEach(async () => {
    await harness?.close();
    removeTempDirs(harness?.stateDir);
    harness = undefined;
  });

  it('stops a running job and resumes', { timeout: 60_000 }, async () => {
    harness = await startHarness();
    harness.sandbox.setLatency(SLOW_PREDICTION_MS, 'createPrediction');
    const target = addUploadTarget(harness.sandbox, 100);

    const running = summaryOf(
      await harness.call('upload_predictions', {
        predictionGroupUuid: target.groupUuid,
        predictions: inlinePredictions(target.sceneUuids),
        waitSeconds: 1,
      }),
    );
    await waitFor(() => harness!.sandbox.stats.inFlight === 10, '10 requests are in flight');

    const inFlightAtCancel = predictionRequests(harness.sandbox).filter((request) => request.finishedAt === undefined);
    const cancelledAt = Date.now();
    const cancelled = summaryOf(await harness.call('cancel_upload_job', { jobId: running.jobId }));
    const cancelMs = Date.now() - cancelledAt;
    await sleep(SETTLE_MS);
    const later: UploadSummary = summaryOf(await harness.call('get_upload_job', { jobId: running.jobId }));

    expect(running.status).toBe('running');
    expect(cancelled.status).toBe('cancelled');
    expect(cancelled.jobId).toBe(running.jobId);
    expect(cancelled.counts.created).toBe(0);
    expect(cancelled.counts.unknown).toBe(10);
    expect(cancelled.counts.pending).toBe(90);
    expect(cancelled.counts.total).toBe(100);
    expect(cancelled.failureReasons[0]?.reason).toBe('cancelled_in_flight');
    expect(cancelMs).toBeLessThan(SOCKETS_CLOSED_WITHIN_MS);
    expect(later.status).toBe('cancelled');
    expect(later.counts).toEqual(cancelled.counts);
    expectStoppedAtCancel({ harness, target, cancelledAt, inFlightAtCancel });
    await expectResponsiveAndResumable({ harness, target, cancelledAt, inFlightAtCancel });
  });
});
