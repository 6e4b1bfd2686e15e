/**
 * upload_predictions and get_upload_job through the SDK client against the sandbox: a folder of
 * 500 items, reruns, progress notifications and the wait budget.
 */
import path from 'node:path';

import type { Progress } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, it } from 'vitest';

import { startHarness, type Harness } from './helpers/mcp-harness.js';
import {
  addUploadTarget,
  inlinePredictions,
  makeTempDir,
  predictionRequests,
  progressNotifications,
  readReport,
  removeTempDirs,
  summaryOf,
  tapIncomingMessages,
  writeJsonlFile,
  writeSceneFiles,
} from './helpers/upload-tools.js';

describe('upload_predictions from a folder', () => {
  let harness: Harness | undefined;

  afterEach(async () => {
    await harness?.close();
    removeTempDirs(harness?.stateDir);
    harness = undefined;
  });

  it('uploads, skips and forces 500 items', { timeout: 120_000 }, async () => {
    const root = makeTempDir('upload-basics-');
    harness = await startHarness({ config: { roots: [root] }, sandbox: { latencyMs: 50 } });
    const { sandbox } = harness;
    const target = addUploadTarget(sandbox, 500);
    // 400 single-prediction files and one JSONL file with the other 100.
    writeSceneFiles(root, target.sceneUuids.slice(0, 400));
    writeJsonlFile(path.join(root, 'batch.jsonl'), target.sceneUuids.slice(400));
    const args = { predictionGroupUuid: target.groupUuid, paths: [root], waitSeconds: 55 };

    const first = summaryOf(await harness.call('upload_predictions', args));
    const { counts } = first;
    const report = readReport(first.reportPath);
    const reportedScenes = new Set(report.map((line) => line.sceneUuid));

    expect(first.status).toBe('completed');
    expect(counts.created).toBe(500);
    expect(counts.total).toBe(500);
    expect(counts.created + counts.skipped + counts.invalid + counts.failed + counts.unknown + counts.pending).toBe(counts.total);
    expect(sandbox.stats.peakInFlight).toBeLessThanOrEqual(10);
    expect(sandbox.stats.peakInFlight).toBe(10);
    // Connections that carried dataset-API requests: the token connection goes to a separate
    // auth host in production, but to the same sandbox here.
    expect(sandbox.stats.peakApiConnections).toBeLessThanOrEqual(10);
    expect(report).toHaveLength(500);
    expect(report.every((line) => line.outcome === 'created')).toBe(true);
    expect(reportedScenes.size).toBe(500);
    expect(sandbox.predictions(target.groupUuid)).toHaveLength(500);

    const postsBeforeRerun = predictionRequests(sandbox).length;
    const rerun = summaryOf(await harness.call('upload_predictions', args));

    expect(rerun.counts.skipped).toBe(500);
    expect(rerun.counts.total).toBe(500);
    expect(predictionRequests(sandbox).length).toBe(postsBeforeRerun);

    const forced = summaryOf(await harness.call('upload_predictions', { ...args, force: true }));
    const perScene = [...sandbox.predictionCountByScene(target.groupUuid).values()];

    expect(forced.counts.created).toBe(500);
    expect(predictionRequests(sandbox).length).toBe(postsBeforeRerun + 500);
    expect(perScene).toHaveLength(500);
    expect(perScene.every((count) => count === 2)).toBe(true);
  });
});

describe('upload_predictions progress', () => {
  let harness: Harness | undefined;

  afterEach(async () => {
    await harness?.close();
    removeTempDirs(harness?.stateDir);
    harness = undefined;
  });

  it('notifies only with a progress token', { timeout: 60_000 }, async () => {
    harness = await startHarness({ sandbox: { latencyMs: 1_500 } });
    const incoming = tapIncomingMessages(harness.client);
    const withToken = addUploadTarget(harness.sandbox, 40, 'with token');
    const withoutToken = addUploadTarget(harness.sandbox, 40, 'without token');
    const received: Progress[] = [];

    const tracked = summaryOf(
      await harness.call(
        'upload_predictions',
        { predictionGroupUuid: withToken.groupUuid, predictions: inlinePredictions(withToken.sceneUuids) },
        { onprogress: (progress) => received.push(progress) },
      ),
    );
    const progressValues = received.map((progress) => progress.progress);
    const sentWithToken = progressNotifications(incoming).length;

    expect(tracked.counts.created).toBe(40);
    expect(received.length).toBeGreaterThanOrEqual(4);
    expect(progressValues.every((value, index) => index === 0 || value > (progressValues[index - 1] ?? Infinity))).toBe(true);
    expect(progressValues.at(-1)).toBe(40);
    expect(received.at(-1)?.total).toBe(40);
    expect(sentWithToken).toBe(received.length);

    const untracked = summaryOf(
      await harness.call('upload_predictions', {
        predictionGroupUuid: withoutToken.groupUuid,
        predictions: inlinePredictions(withoutToken.sceneUuids),
      }),
    );

    expect(untracked.counts.created).toBe(40);
    expect(progressNotifications(incoming).length).toBe(sentWithToken);
  });
});

describe('upload_predictions wait budget', () => {
  let harness: Harness | undefined;

  afterEach(async () => {
    await harness?.close();
    removeTempDirs(harness?.stateDir);
    harness = undefined;
  });

  it('returns running, then completes', { timeout: 60_000 }, async () => {
    harness = await startHarness({ sandbox: { latencyMs: 1_000 } });
    const target = addUploadTarget(harness.sandbox, 30);

    const startedAt = Date.now();
    const running = summaryOf(
      await harness.call('upload_predictions', {
        predictionGroupUuid: target.groupUuid,
        predictions: inlinePredictions(target.sceneUuids),
        maxConnections: 5,
        waitSeconds: 2,
      }),
    );
    const returnedAfterMs = Date.now() - startedAt;

    expect(running.status).toBe('running');
    expect(running.jobId).toMatch(/^upl_/);
    expect(running.counts.total).toBe(30);
    expect(running.counts.pending).toBeGreaterThan(0);
    expect(returnedAfterMs).toBeGreaterThanOrEqual(1_900);
    expect(returnedAfterMs).toBeLessThan(5_000);

    const finished = summaryOf(await harness.call('get_upload_job', { jobId: running.jobId, waitSeconds: 30 }));

    expect(finished.status).toBe('completed');
    expect(finished.jobId).toBe(running.jobId);
    expect(finished.counts.total).toBe(30);
    expect(finished.counts.created).toBe(30);
    expect(finished.reportPath).toBe(running.reportPath);
    expect(harness.sandbox.stats.peakInFlight).toBeLessThanOrEqual(5);
  });
});
