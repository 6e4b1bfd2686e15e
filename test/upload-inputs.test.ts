/**
 * What upload_predictions accepts and rejects through the SDK client: invalid predictions next
 * to a valid one, loosely typed arguments, and the size of a result with many failures.
 */
import path from 'node:path';

import { afterEach, describe, expect, it } from 'vitest';

import { resultText, startHarness, type Harness } from './helpers/mcp-harness.js';
import { indexedUuid, makeBoxPrediction } from './helpers/predictions.js';
import {
  addUploadTarget,
  inlinePredictions,
  makeTempDir,
  predictionRequests,
  removeTempDirs,
  summaryOf,
  writeJsonlFile,
} from './helpers/upload-tools.js';

type BoxDocument = ReturnType<typeof makeBoxPrediction>;

/** Returns the first box of frame 0 of a document built by makeBoxPrediction. */
function firstBox(document: BoxDocument): { val: number[]; attributes: { text: Array<{ val: string }>; num: Array<{ val: number }> } } {
  const frames = document.openlabel.frames as Record<string, { objects: Record<string, { object_data: { bbox: unknown[] } }> }>;
  const object = Object.values(frames['0']!.objects)[0]!;
  return object.object_data.bbox[0] as ReturnType<typeof firstBox>;
}

/** Builds a box prediction and breaks it with `change`. */
function broken(change: (document: BoxDocument) => void): BoxDocument {
  const document = makeBoxPrediction();
  change(document);
  return document;
}

const UNDECLARED_OBJECT_KEY = '99999999-0000-4000-8000-000000000000';

/** JSON pointer of the first box that makeBoxPrediction builds. */
const FIRST_BOX_POINTER = `/openlabel/frames/0/objects/${indexedUuid(0, '0b1ec700')}/object_data/bbox/0`;

/** Invalid predictions, each with the code and JSON pointer of its first finding. */
const BROKEN_PREDICTIONS: Array<{ code: string; pointer: string; openlabel: unknown }> = [
  // The missing wrapper and the broken JSON text concern the whole document, whose pointer is "".
  { code: 'missing_openlabel_wrapper', pointer: '', openlabel: makeBoxPrediction().openlabel },
  {
    code: 'invalid_frame_key',
    pointer: '/openlabel/frames/frame_0',
    openlabel: broken((document) => {
      const frames = document.openlabel.frames as Record<string, unknown>;
      frames.frame_0 = frames['0'];
      delete frames['0'];
    }),
  },
  {
    code: 'missing_required_key',
    pointer: '/openlabel/metadata/schema_version',
    openlabel: broken((document) => {
      document.openlabel.metadata = {};
    }),
  },
  {
    code: 'invalid_frame_interval',
    pointer: '/openlabel/frame_intervals/0',
    openlabel: broken((document) => {
      document.openlabel.frame_intervals = [{ frame_start: 5, frame_end: 2 }];
    }),
  },
  { code: 'invalid_json', pointer: '', openlabel: '{"openlabel":{},}' },
  {
    code: 'undeclared_object',
    pointer: `/openlabel/frames/0/objects/${UNDECLARED_OBJECT_KEY}`,
    openlabel: broken((document) => {
      const frames = document.openlabel.frames as Record<string, { objects: Record<string, unknown> }>;
      const objects = frames['0']!.objects;
      objects[UNDECLARED_OBJECT_KEY] = Object.values(objects)[0];
    }),
  },
  {
    code: 'invalid_schema_version',
    pointer: '/openlabel/metadata/schema_version',
    openlabel: broken((document) => {
      document.openlabel.metadata = { schema_version: '2.0.0' };
    }),
  },
  {
    code: 'no_frames',
    pointer: '/openlabel/frames',
    openlabel: broken((document) => {
      document.openlabel.frames = {};
    }),
  },
  {
    code: 'invalid_bbox',
    pointer: `${FIRST_BOX_POINTER}/val`,
    openlabel: broken((document) => {
      firstBox(document).val[2] = -4;
    }),
  },
  {
    code: 'invalid_confidence',
    pointer: `${FIRST_BOX_POINTER}/attributes/num/0/val`,
    openlabel: broken((document) => {
      firstBox(document).attributes.num[0]!.val = 2;
    }),
  },
  {
    code: 'unknown_stream',
    pointer: `${FIRST_BOX_POINTER}/attributes/text/0/val`,
    openlabel: broken((document) => {
      firstBox(document).attributes.text[0]!.val = 'NO_SUCH_CAMERA';
    }),
  },
  {
    code: 'unknown_key',
    pointer: '/openlabel/extra',
    openlabel: broken((document) => {
      document.openlabel.extra = 1;
    }),
  },
];

describe('upload_predictions with invalid items', () => {
  let harness: Harness | undefined;

  afterEach(async () => {
    await harness?.close();
    removeTempDirs(harness?.stateDir);
    harness = undefined;
  });

  it('sends only the valid item', async () => {
    harness = await startHarness();
    const target = addUploadTarget(harness.sandbox, 7);
    const brokenItems = BROKEN_PREDICTIONS.slice(0, 6);
    const predictions = [
      { sceneUuid: target.sceneUuids[0], openlabel: makeBoxPrediction() },
      ...brokenItems.map((entry, index) => ({ sceneUuid: target.sceneUuids[index + 1], openlabel: entry.openlabel })),
    ];

    const summary = summaryOf(await harness.call('upload_predictions', { predictionGroupUuid: target.groupUuid, predictions }));
    const bySource = new Map(summary.items.map((item) => [item.source, item]));
    const requests = predictionRequests(harness.sandbox);

    expect(summary.counts.created).toBe(1);
    expect(summary.counts.invalid).toBe(6);
    expect(bySource.get('predictions[0]')?.outcome).toBe('created');
    expect(requests).toHaveLength(1);
    expect(requests[0]?.sceneUuid).toBe(target.sceneUuids[0]);

    for (const [index, entry] of brokenItems.entries()) {
      const source = `predictions[${index + 1}]`;
      const item = bySource.get(source);
      expect(item?.outcome, `${source} outcome`).toBe('invalid');
      expect(item?.reason, `${source} reason`).toBe(entry.code);
      expect(item?.findings?.[0]?.pointer, `${source} pointer`).toBe(entry.pointer);
      expect(item?.findings?.[0]?.message, `${source} message`).toBeTruthy();
    }
  });
});

describe('upload_predictions arguments', () => {
  let harness: Harness | undefined;

  afterEach(async () => {
    await harness?.close();
    removeTempDirs(harness?.stateDir);
    harness = undefined;
  });

  it('reads force from strings', async () => {
    harness = await startHarness();
    const target = addUploadTarget(harness.sandbox, 1);
    const predictions = inlinePredictions(target.sceneUuids);

    const first = await harness.call('upload_predictions', { predictionGroupUuid: target.groupUuid, predictions, force: 'false' });
    const notForced = await harness.call('upload_predictions', { predictionGroupUuid: target.groupUuid, predictions, force: 'false' });
    const forced = await harness.call('upload_predictions', { predictionGroupUuid: target.groupUuid, predictions, force: 'true' });

    expect(first.isError).toBeFalsy();
    expect(summaryOf(first).counts.created).toBe(1);
    expect(summaryOf(notForced).counts.skipped).toBe(1);
    expect(summaryOf(forced).counts.created).toBe(1);
    expect(harness.sandbox.predictions(target.groupUuid)).toHaveLength(2);
  });

  it('keeps created scenes with resendUnknown', async () => {
    harness = await startHarness();
    const target = addUploadTarget(harness.sandbox, 1);
    const predictions = inlinePredictions(target.sceneUuids);

    await harness.call('upload_predictions', { predictionGroupUuid: target.groupUuid, predictions });
    const rerun = await harness.call('upload_predictions', { predictionGroupUuid: target.groupUuid, predictions, resendUnknown: 'true' });

    expect(rerun.isError).toBeFalsy();
    expect(summaryOf(rerun).counts.skipped).toBe(1);
    expect(harness.sandbox.predictions(target.groupUuid)).toHaveLength(1);
  });

  it('reads maxConnections from a string', async () => {
    harness = await startHarness({ sandbox: { latencyMs: 200 } });
    const target = addUploadTarget(harness.sandbox, 20);

    const result = await harness.call('upload_predictions', {
      predictionGroupUuid: target.groupUuid,
      predictions: inlinePredictions(target.sceneUuids),
      maxConnections: '5',
    });

    expect(result.isError).toBeFalsy();
    expect(summaryOf(result).counts.created).toBe(20);
    expect(harness.sandbox.stats.peakInFlight).toBe(5);
  });

  it('rejects 11 connections', async () => {
    harness = await startHarness();
    const target = addUploadTarget(harness.sandbox, 1);

    const result = await harness.call('upload_predictions', {
      predictionGroupUuid: target.groupUuid,
      predictions: inlinePredictions(target.sceneUuids),
      maxConnections: 11,
    });
    const text = resultText(result);

    expect(result.isError).toBe(true);
    expect(text).toContain('maxConnections');
    expect(text).toContain('at most 10');
    expect(text).toContain('concurrent connections');
    expect(text).toContain('got 11');
    expect(predictionRequests(harness.sandbox)).toHaveLength(0);
  });

  it('rejects an unknown argument', async () => {
    harness = await startHarness();
    const target = addUploadTarget(harness.sandbox, 1);

    const result = await harness.call('upload_predictions', {
      predictionGroupUuid: target.groupUuid,
      predictions: inlinePredictions(target.sceneUuids),
      dryRun: true,
    });
    const text = resultText(result);

    expect(result.isError).toBe(true);
    expect(text).toContain('unknown argument "dryRun"');
    expect(text).toContain('Nothing was done');
    expect(predictionRequests(harness.sandbox)).toHaveLength(0);
  });

  it('cuts a long job id in errors', async () => {
    harness = await startHarness();

    const result = await harness.call('get_upload_job', { jobId: 'x'.repeat(60_000) });
    const text = resultText(result);

    expect(result.isError).toBe(true);
    expect(text).toContain('(60000 characters)');
    expect(text.length).toBeLessThan(1_000);
  });

  it('reports items without sceneUuid', async () => {
    harness = await startHarness();
    const target = addUploadTarget(harness.sandbox, 1);
    const openlabel = inlinePredictions(target.sceneUuids)[0]?.openlabel;

    const result = await harness.call('upload_predictions', {
      predictionGroupUuid: target.groupUuid,
      predictions: Array.from({ length: 3_000 }, () => ({ openlabel })),
    });
    const summary = summaryOf(result);

    expect(result.isError).toBeFalsy();
    expect(summary.counts.invalid).toBe(3_000);
    expect(summary.failureReasons[0]).toMatchObject({ reason: 'invalid_scene_uuid', count: 3_000 });
    expect(summary.failureReasons[0]?.examples[0]?.error ?? summary.failureReasons[0]?.examples[0]?.findings?.[0]?.message).toContain(
      'The scene UUID is missing',
    );
    expect(JSON.stringify(result).length).toBeLessThan(40_000);
    expect(predictionRequests(harness.sandbox)).toHaveLength(0);
  });

  it('rejects a non-numeric waitSeconds', async () => {
    harness = await startHarness();
    const target = addUploadTarget(harness.sandbox, 1);

    const result = await harness.call('upload_predictions', {
      predictionGroupUuid: target.groupUuid,
      predictions: inlinePredictions(target.sceneUuids),
      waitSeconds: 'abc',
    });
    const text = resultText(result);

    expect(result.isError).toBe(true);
    expect(text).toContain('waitSeconds');
    expect(text).toContain('"abc"');
    expect(predictionRequests(harness.sandbox)).toHaveLength(0);
  });

  it('reads predictions from JSON text', async () => {
    harness = await startHarness();
    const target = addUploadTarget(harness.sandbox, 3);

    const result = await harness.call('upload_predictions', {
      predictionGroupUuid: target.groupUuid,
      predictions: JSON.stringify(inlinePredictions(target.sceneUuids)),
    });

    expect(result.isError).toBeFalsy();
    expect(summaryOf(result).counts.created).toBe(3);
  });

  it('rejects a call without items', async () => {
    harness = await startHarness();
    const target = addUploadTarget(harness.sandbox, 1);

    const result = await harness.call('upload_predictions', { predictionGroupUuid: target.groupUuid });
    const text = resultText(result);

    expect(result.isError).toBe(true);
    expect(text).toContain('predictions');
    expect(text).toContain('paths');
    expect(predictionRequests(harness.sandbox)).toHaveLength(0);
  });
});

/** Statuses the uploader neither retries nor renews a token for, each its own failure reason. */
const FINAL_STATUSES = [
  400, 402, 403, 405, 406, 409, 410, 411, 412, 413, 414, 415, 416, 417, 418, 422, 423, 424, 425, 426, 428, 431, 451,
  500, 501, 505, 506, 507, 508, 510, 511,
];

describe('upload_predictions result size', () => {
  let harness: Harness | undefined;

  afterEach(async () => {
    await harness?.close();
    removeTempDirs(harness?.stateDir);
    harness = undefined;
  });

  it('stays under 40,000 characters', { timeout: 120_000 }, async () => {
    const root = makeTempDir('upload-inputs-');
    harness = await startHarness({ config: { roots: [root] } });
    const target = addUploadTarget(harness.sandbox, 2_000);
    writeJsonlFile(path.join(root, 'rejected.jsonl'), target.sceneUuids);
    const rejections = target.sceneUuids.map((scene, index) => ({
      status: FINAL_STATUSES[index % FINAL_STATUSES.length] as number,
      body: { message: `Prediction ${index} for scene ${scene} was rejected: ${'a long explanation '.repeat(100)}` },
    }));
    harness.sandbox.enqueueResponses('createPrediction', ...rejections);

    // 300 invalid items: each broken prediction kind, plus scene UUIDs that are not UUIDs.
    const invalidPredictions = Array.from({ length: 300 }, (_, index) => {
      const kind = index % (BROKEN_PREDICTIONS.length + 1);
      const entry = BROKEN_PREDICTIONS[kind];
      return entry === undefined
        ? { sceneUuid: `scene-${index}-${'x'.repeat(200)}`, openlabel: makeBoxPrediction() }
        : { sceneUuid: target.sceneUuids[index], openlabel: entry.openlabel };
    });

    const result = await harness.call('upload_predictions', {
      predictionGroupUuid: target.groupUuid,
      predictions: invalidPredictions,
      paths: [path.join(root, 'rejected.jsonl')],
      waitSeconds: 55,
    });
    const summary = summaryOf(result);

    expect(summary.status).toBe('completed');
    expect(summary.counts.failed).toBe(2_000);
    expect(summary.counts.invalid).toBe(300);
    expect(new Set(summary.failureReasons.map((group) => group.reason)).size).toBe(summary.failureReasons.length);
    expect(summary.failureReasons.length).toBeGreaterThanOrEqual(10);
    expect(JSON.stringify(result).length).toBeLessThan(40_000);
  });
});
