import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { UserInputError } from '../src/errors.js';
import { journalPath } from '../src/predictions/journal.js';
import { MAX_RESULT_CHARS, uploadSummarySchema } from '../src/predictions/summary.js';
import type { SourceEntry } from '../src/predictions/types.js';
import type { RequestOptions } from '../src/kognic/http-client.js';
import {
  MAX_UPLOAD_CONNECTIONS,
  READ_AHEAD_ITEMS_PER_CONNECTION,
  Upload,
  type UploadDependencies,
  type UploadProgress,
} from '../src/predictions/uploader.js';
import { validatePrediction } from '../src/predictions/validation.js';
import { boxEntries, startUploadHarness, type UploadHarness } from './helpers/upload-harness.js';
import { makeBoxPrediction } from './helpers/predictions.js';

describe('upload of 500 predictions', () => {
  let harness: UploadHarness;

  beforeEach(async () => {
    harness = await startUploadHarness({ sceneCount: 500, sandbox: { latencyMs: 15 } });
  });

  afterEach(async () => {
    await harness.close();
  });

  it('creates all within the limits', async () => {
    const upload = harness.upload(harness.sceneUuids, { totalHint: 500 });
    upload.start();
    const summary = await upload.done;

    const requests = harness.predictionRequests();
    const connectionIds = new Set(requests.map((request) => request.connectionId));

    expect(summary.status).toBe('completed');
    expect(summary.counts).toEqual({ created: 500, skipped: 0, invalid: 0, failed: 0, unknown: 0, pending: 0, total: 500 });
    expect(harness.sandbox.predictions(harness.groupUuid)).toHaveLength(500);
    expect(requests).toHaveLength(500);
    expect(harness.sandbox.stats.peakInFlight).toBeLessThanOrEqual(MAX_UPLOAD_CONNECTIONS);
    expect(harness.sandbox.stats.peakInFlight).toBeGreaterThanOrEqual(5);
    expect(connectionIds.size).toBeLessThanOrEqual(MAX_UPLOAD_CONNECTIONS);
    expect(harness.sandbox.stats.peakApiConnections).toBeLessThanOrEqual(MAX_UPLOAD_CONNECTIONS);
    expect(harness.reportLines(upload.jobId)).toHaveLength(500);
    expect(JSON.stringify(summary).length).toBeLessThan(MAX_RESULT_CHARS);
    expect(uploadSummarySchema.safeParse(summary).success).toBe(true);
  });

  it('skips on rerun, resends with force', async () => {
    const first = await harness.run(harness.sceneUuids);
    const second = await harness.run(harness.sceneUuids);

    expect(first.counts.created).toBe(500);
    expect(second.counts.skipped).toBe(500);
    expect(second.items[0]?.predictionUuid).toMatch(/^[0-9a-f-]{36}$/);
    expect(harness.sandbox.predictions(harness.groupUuid)).toHaveLength(500);

    const forced = await harness.run(harness.sceneUuids, { force: true });

    expect(forced.counts.created).toBe(500);
    expect(harness.sandbox.predictions(harness.groupUuid)).toHaveLength(1_000);
  });

  it('writes a request before reading on', async () => {
    // The events of one connection: each response starts the next request, and frees room for
    // the reader to validate one more item. The request must be written first.
    const events: Array<'responded' | 'written' | 'validated'> = [];
    const deps: UploadDependencies = {
      ...harness.deps,
      createHttpClient: (maxConnections) => {
        const client = harness.deps.createHttpClient(maxConnections);
        return {
          request: async <T>(options: RequestOptions) => {
            try {
              return await client.request<T>({
                ...options,
                onWrite: () => {
                  events.push('written');
                  options.onWrite?.();
                },
              });
            } finally {
              events.push('responded');
            }
          },
          destroy: () => client.destroy(),
        };
      },
      validate: (item) => {
        events.push('validated');
        return validatePrediction(item);
      },
    };

    const upload = new Upload(
      { jobId: 'upl_order', groupUuid: harness.groupUuid, entries: boxEntries(harness.sceneUuids.slice(0, 40)), maxConnections: 1 },
      deps,
    );
    upload.start();
    const summary = await upload.done;

    expect(summary.counts.created).toBe(40);
    const pairs = events.flatMap((event, index) => {
      if (event !== 'responded') {
        return [];
      }
      const nextWrite = events.indexOf('written', index);
      const nextValidation = events.indexOf('validated', index);
      return nextWrite === -1 || nextValidation === -1 ? [] : [{ response: index, nextWrite, nextValidation }];
    });
    expect(pairs.length).toBeGreaterThan(30);
    expect(pairs.filter((pair) => pair.nextValidation < pair.nextWrite)).toEqual([]);
  });

  it('respects a lower connection limit', async () => {
    const summary = await harness.run(harness.sceneUuids.slice(0, 60), { maxConnections: 3 });

    expect(summary.counts.created).toBe(60);
    expect(harness.sandbox.stats.peakInFlight).toBeLessThanOrEqual(3);
    expect(new Set(harness.predictionRequests().map((request) => request.connectionId)).size).toBeLessThanOrEqual(3);
  });
});

describe('upload item outcomes', () => {
  let harness: UploadHarness;

  beforeEach(async () => {
    harness = await startUploadHarness({ sceneCount: 10 });
  });

  afterEach(async () => {
    await harness.close();
  });

  it('rejects more than 10 connections', () => {
    const build = () => harness.upload(harness.sceneUuids, { maxConnections: 11 });

    expect(build).toThrow(UserInputError);
    expect(build).toThrow(/from 1 to 10/);
  });

  it('rejects a group UUID with slashes', () => {
    expect(() => harness.upload(harness.sceneUuids, { groupUuid: '../etc' })).toThrow(UserInputError);
  });

  it('reports invalid entries without sending', async () => {
    const [sceneA, sceneB] = harness.sceneUuids;
    const document = makeBoxPrediction();
    const entries: SourceEntry[] = [
      { kind: 'problem', problem: { index: 0, source: '/data/broken.json', code: 'invalid_json', message: 'Unexpected token' } },
      { kind: 'item', item: { index: 1, source: 'predictions[1]', sceneUuid: 'not-a-uuid', openlabel: document } },
      { kind: 'item', item: { index: 2, source: 'predictions[2]', sceneUuid: sceneA, openlabel: document } },
      { kind: 'item', item: { index: 3, source: 'predictions[3]', sceneUuid: sceneA?.toUpperCase(), openlabel: document } },
      { kind: 'item', item: { index: 4, source: 'predictions[4]', sceneUuid: sceneB, openlabel: { openlabel: 'nope' } } },
    ];

    const upload = new Upload({ jobId: 'upl_invalid', groupUuid: harness.groupUuid, entries: fromArray(entries) }, harness.deps);
    upload.start();
    const summary = await upload.done;
    const lines = harness.reportLines('upl_invalid');
    const byIndex = new Map(lines.map((line) => [line.index, line]));

    expect(summary.counts).toMatchObject({ created: 1, invalid: 4, total: 5 });
    expect(harness.predictionRequests()).toHaveLength(1);
    expect(byIndex.get(0)).toMatchObject({ outcome: 'invalid', reason: 'invalid_json', error: 'Unexpected token', attempts: 0 });
    expect(byIndex.get(1)).toMatchObject({ outcome: 'invalid', reason: 'invalid_scene_uuid' });
    expect(byIndex.get(1)?.findings?.[0]?.pointer).toBe('/sceneUuid');
    expect(byIndex.get(3)).toMatchObject({ outcome: 'invalid', reason: 'duplicate_scene' });
    expect(byIndex.get(3)?.error).toContain('item index 2');
    expect(byIndex.get(4)?.outcome).toBe('invalid');
    expect(summary.items[0]?.outcome).toBe('invalid');
  });

  it('fails at once on a 400', async () => {
    const outsider = '99999999-9999-4999-8999-999999999999';
    const summary = await harness.run([outsider, ...harness.sceneUuids.slice(0, 2)]);
    const failure = summary.failureReasons[0];

    expect(summary.counts).toMatchObject({ created: 2, failed: 1 });
    expect(failure).toMatchObject({ reason: 'http_400', outcome: 'failed', count: 1 });
    expect(failure?.examples[0]).toMatchObject({ httpStatus: 400, attempts: 1, sceneUuid: outsider });
    expect(failure?.examples[0]?.error).toContain('is not part of dataset');
  });

  it('reports progress up to the total', async () => {
    const progress: UploadProgress[] = [];
    const upload = harness.upload(harness.sceneUuids, { totalHint: 10 });
    upload.onProgress((update) => progress.push(update));
    upload.start();
    await upload.done;

    const finished = progress.map((update) => update.finished);

    expect(progress.length).toBeGreaterThan(1);
    expect(finished).toEqual([...finished].sort((a, b) => a - b));
    expect(progress.every((update) => update.total === 10)).toBe(true);
    expect(progress.at(-1)).toMatchObject({ finished: 10, total: 10 });
    expect(progress.at(-1)?.message).toContain('10 created');
  });

  it('journals before counting', async () => {
    const upload = harness.upload(harness.sceneUuids);
    const path = journalPath(harness.stateDir, harness.sandbox.url, harness.groupUuid);
    const shortfalls: number[] = [];
    upload.onProgress(() => {
      const journaled = readFileSync(path, 'utf8').split('\n').filter((line) => line.includes('"e":"created"')).length;
      shortfalls.push(upload.summary().counts.created - journaled);
    });
    upload.start();
    await upload.done;

    expect(shortfalls.length).toBeGreaterThan(0);
    expect(Math.max(...shortfalls)).toBeLessThanOrEqual(0);
  });

  it('logs start and end', async () => {
    await harness.run(harness.sceneUuids.slice(0, 2));

    expect(harness.logLines.some((line) => line.includes('INFO Upload started') && line.includes('maxConnections=10'))).toBe(true);
    expect(harness.logLines.some((line) => line.includes('INFO Upload finished') && line.includes('created=2'))).toBe(true);
  });

  it('summarises a running upload', async () => {
    harness.sandbox.setLatency(300);
    const upload = harness.upload(harness.sceneUuids, { totalHint: 10 });
    upload.start();
    await waitFor(() => harness.sandbox.stats.inFlight > 0);

    const snapshot = upload.summary();

    expect(snapshot.status).toBe('running');
    expect(snapshot.counts.pending).toBe(10);
    expect(snapshot.counts.total).toBe(10);
    await upload.done;
  });
});

describe('upload reading', () => {
  let harness: UploadHarness;

  beforeEach(async () => {
    harness = await startUploadHarness({ sceneCount: 5, sandbox: { latencyMs: 50 } });
  });

  afterEach(async () => {
    await harness.close();
  });

  it('reads entries lazily', async () => {
    let pulled = 0;
    const scene = harness.sceneUuids[0] ?? '';
    const document = JSON.stringify(makeBoxPrediction());
    async function* endless(): AsyncGenerator<SourceEntry> {
      for (let index = 0; index < 100_000; index += 1) {
        pulled += 1;
        // Scene UUIDs that the dataset does not contain: each item fails at once with a 400.
        const sceneUuid = `${scene.slice(0, 24)}${index.toString(16).padStart(12, '0')}`;
        yield { kind: 'item', item: { index, source: `big.jsonl:${index + 1}`, sceneUuid, openlabel: document } };
      }
    }

    const upload = new Upload({ jobId: 'upl_lazy', groupUuid: harness.groupUuid, entries: endless(), maxConnections: 2 }, harness.deps);
    upload.start();
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const finished = upload.summary().counts.total - upload.summary().counts.pending;
    upload.cancel();
    await upload.done;

    expect(finished).toBeGreaterThan(0);
    expect(pulled - finished).toBeLessThanOrEqual(2 * READ_AHEAD_ITEMS_PER_CONNECTION + 2 + 1);
    expect(pulled).toBeLessThan(1_000);
  });

  it('fails when state is unwritable', async () => {
    const blocker = join(harness.stateDir, 'not-a-folder');
    writeFileSync(blocker, '');
    const upload = new Upload(
      { jobId: 'upl_nostate', groupUuid: harness.groupUuid, entries: boxEntries(harness.sceneUuids) },
      { ...harness.deps, stateDir: blocker },
    );
    upload.start();
    const summary = await upload.done;

    expect(summary.status).toBe('failed');
    expect(summary.error).toContain('not-a-folder');
    expect(summary.counts.pending).toBe(0);
    expect(harness.predictionRequests()).toHaveLength(0);
  });

  it('stops on a source error', async () => {
    async function* broken(): AsyncGenerator<SourceEntry> {
      yield* fromArray([{ kind: 'problem', problem: { index: 0, source: 'a.json', code: 'path_not_found', message: 'missing' } }]);
      throw new Error('disk on fire');
    }

    const upload = new Upload({ jobId: 'upl_broken', groupUuid: harness.groupUuid, entries: broken() }, harness.deps);
    upload.start();
    const summary = await upload.done;

    expect(summary.status).toBe('failed');
    expect(summary.error).toContain('disk on fire');
    expect(summary.counts.invalid).toBe(1);
  });
});

async function* fromArray(entries: SourceEntry[]): AsyncGenerator<SourceEntry> {
  for (const entry of entries) {
    yield entry;
  }
}

async function waitFor(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) {
      throw new Error('condition not met in time');
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
