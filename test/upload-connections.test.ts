/**
 * The dataset API's limit of 10 connections holds for the whole server process: uploads share
 * one pool with the other tools, so a listing before an upload or two uploads at once stay
 * within it.
 */
import path from 'node:path';

import { afterEach, describe, expect, it } from 'vitest';

import { startHarness, type Harness } from './helpers/mcp-harness.js';
import { addUploadTarget, makeTempDir, removeTempDirs, summaryOf, writeJsonlFile } from './helpers/upload-tools.js';

describe('upload connections', () => {
  let harness: Harness | undefined;

  afterEach(async () => {
    await harness?.close();
    removeTempDirs(harness?.stateDir);
    harness = undefined;
  });

  it('listing before an upload', { timeout: 60_000 }, async () => {
    const root = makeTempDir('upload-connections-');
    harness = await startHarness({ config: { roots: [root] }, sandbox: { latencyMs: 20, seed: true } });
    const target = addUploadTarget(harness.sandbox, 200);
    const file = writeJsonlFile(path.join(root, 'predictions.jsonl'), target.sceneUuids);

    const listing = await harness.call('list_datasets');
    const summary = summaryOf(await harness.call('upload_predictions', { predictionGroupUuid: target.groupUuid, paths: [file], waitSeconds: 55 }));

    expect(listing.isError).not.toBe(true);
    expect(summary.status).toBe('completed');
    expect(summary.counts.created).toBe(200);
    expect(harness.sandbox.stats.peakInFlight).toBe(10);
    expect(harness.sandbox.stats.peakApiConnections).toBeLessThanOrEqual(10);
  });

  it('two uploads at once', { timeout: 60_000 }, async () => {
    const root = makeTempDir('upload-connections-');
    harness = await startHarness({ config: { roots: [root] }, sandbox: { latencyMs: 20 } });
    const first = addUploadTarget(harness.sandbox, 200, 'first');
    const second = addUploadTarget(harness.sandbox, 200, 'second');
    const firstFile = writeJsonlFile(path.join(root, 'first.jsonl'), first.sceneUuids);
    const secondFile = writeJsonlFile(path.join(root, 'second.jsonl'), second.sceneUuids);

    const [firstSummary, secondSummary] = (
      await Promise.all([
        harness.call('upload_predictions', { predictionGroupUuid: first.groupUuid, paths: [firstFile], waitSeconds: 55 }),
        harness.call('upload_predictions', { predictionGroupUuid: second.groupUuid, paths: [secondFile], waitSeconds: 55 }),
      ])
    ).map(summaryOf);

    expect(firstSummary?.status).toBe('completed');
    expect(firstSummary?.counts.created).toBe(200);
    expect(secondSummary?.status).toBe('completed');
    expect(secondSummary?.counts.created).toBe(200);
    expect(harness.sandbox.stats.peakInFlight).toBe(10);
    expect(harness.sandbox.stats.peakApiConnections).toBeLessThanOrEqual(10);
  });
});
