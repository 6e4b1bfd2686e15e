import { afterEach, describe, expect, it } from 'vitest';

import type { UploadSummary } from '../src/predictions/summary.js';
import { resultText, startHarness, type Harness } from './helpers/mcp-harness.js';
import { makeBoxPrediction } from './helpers/predictions.js';

const MISSING_GROUP = '00000000-0000-4000-8000-000000000000';

describe('upload to an unknown group', () => {
  let harness: Harness | undefined;

  afterEach(async () => {
    await harness?.close();
    harness = undefined;
  });

  it('stops at the first 404', async () => {
    harness = await startHarness();
    const { sceneUuids } = harness.sandbox.addDataset({ name: 'unknown group', sceneCount: 200 });
    const predictions = sceneUuids.map((sceneUuid) => ({ sceneUuid, openlabel: makeBoxPrediction() }));

    const result = await harness.call('upload_predictions', { predictionGroupUuid: MISSING_GROUP, predictions, maxConnections: 2 });
    const summary = result.structuredContent as unknown as UploadSummary;

    expect(summary.status).toBe('failed');
    expect(summary.error).toContain('404');
    expect(summary.error).toContain('list_prediction_groups');
    expect(summary.counts.created).toBe(0);
    expect(summary.counts.total).toBe(200);
    expect(summary.counts.pending).toBeGreaterThan(190);
    expect(resultText(result)).toContain('list_prediction_groups');
    const posts = harness.sandbox.requests.filter((request) => request.route === 'createPrediction');
    expect(posts.length).toBeLessThanOrEqual(2);
    expect(summary.counts.failed).toBe(posts.length);
    expect(summary.counts.pending).toBe(200 - posts.length);
    expect(summary.failureReasons[0]).toMatchObject({ reason: 'group_not_found', count: posts.length });
    expect(summary.failureReasons[0]?.examples[0]).toMatchObject({ outcome: 'failed', httpStatus: 404, attempts: 1 });
  });
});
