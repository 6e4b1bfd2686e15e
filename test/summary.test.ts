import { describe, expect, it } from 'vitest';

import {
  MAX_EXAMPLES_PER_REASON,
  MAX_LISTED_ITEMS,
  MAX_LISTED_REASONS,
  MAX_RESULT_CHARS,
  MAX_TRACKED_REASONS,
  UploadSummaryBuilder,
  cutText,
  uploadSummarySchema,
  type ItemReport,
  type SummaryState,
} from '../src/predictions/summary.js';

const STARTED_AT = new Date('2026-01-01T00:00:00.000Z');

function runningState(overrides: Partial<SummaryState> = {}): SummaryState {
  return { status: 'running', startedAt: STARTED_AT, now: STARTED_AT.getTime() + 2_000, unreportedPending: 0, ...overrides };
}

function created(i: number): ItemReport {
  return { source: `predictions[${i}]`, sceneUuid: `scene-${i}`, outcome: 'created', predictionUuid: `prediction-${i}`, httpStatus: 200, attempts: 1 };
}

function failed(i: number, reason = 'http_400'): ItemReport {
  return { source: `predictions[${i}]`, sceneUuid: `scene-${i}`, outcome: 'failed', httpStatus: 400, reason, error: 'rejected', attempts: 1 };
}

describe('UploadSummaryBuilder', () => {
  it('counts add up to total', () => {
    const builder = new UploadSummaryBuilder('upl_1', 'group-1', '/state/reports/upl_1.jsonl');
    builder.add(created(0));
    builder.add(failed(1));
    builder.add({ source: 'a.json', outcome: 'invalid', reason: 'invalid_json', attempts: 0 });
    builder.add({ source: 'b.json', outcome: 'skipped', attempts: 0 });
    builder.add({ source: 'c.json', outcome: 'unknown', reason: 'no_response', attempts: 1 });

    const summary = builder.build(runningState({ unreportedPending: 3 }));

    expect(summary.counts).toEqual({ created: 1, skipped: 1, invalid: 1, failed: 1, unknown: 1, pending: 3, total: 8 });
  });

  it('lists failures first', () => {
    const builder = new UploadSummaryBuilder('upl_1', 'group-1', '/r.jsonl');
    for (let i = 0; i < 60; i += 1) {
      builder.add(created(i));
    }
    builder.add(failed(60));

    const summary = builder.build(runningState());

    expect(summary.items).toHaveLength(MAX_LISTED_ITEMS);
    expect(summary.items[0]?.outcome).toBe('failed');
    expect(summary.itemsNotListed).toBe(61 - MAX_LISTED_ITEMS);
  });

  it('groups failures by reason', () => {
    const builder = new UploadSummaryBuilder('upl_1', 'group-1', '/r.jsonl');
    for (let i = 0; i < 12; i += 1) {
      builder.add(failed(i, 'http_400'));
    }
    builder.add(failed(12, 'rate_limited'));

    const [first, second] = builder.build(runningState()).failureReasons;

    expect(first).toMatchObject({ reason: 'http_400', outcome: 'failed', count: 12 });
    expect(first?.examples).toHaveLength(MAX_EXAMPLES_PER_REASON);
    expect(second).toMatchObject({ reason: 'rate_limited', count: 1 });
  });

  it('folds rare reasons into other', () => {
    const builder = new UploadSummaryBuilder('upl_1', 'group-1', '/r.jsonl');
    for (let i = 0; i < MAX_TRACKED_REASONS + 30; i += 1) {
      builder.add(failed(i, `reason_${i}`));
    }

    const summary = builder.build(runningState());
    const total = summary.failureReasons.reduce((sum, group) => sum + group.count, 0);

    expect(summary.failureReasons).toHaveLength(MAX_LISTED_REASONS);
    expect(summary.counts.failed).toBe(MAX_TRACKED_REASONS + 30);
    expect(total).toBeLessThan(MAX_TRACKED_REASONS + 30);
  });

  it('computes duration and rate', () => {
    const builder = new UploadSummaryBuilder('upl_1', 'group-1', '/r.jsonl');
    for (let i = 0; i < 10; i += 1) {
      builder.add(created(i));
    }

    const finishedAt = new Date(STARTED_AT.getTime() + 4_000);
    const summary = builder.build(runningState({ status: 'completed', finishedAt }));

    expect(summary.durationMs).toBe(4_000);
    expect(summary.itemsPerSecond).toBe(2.5);
    expect(summary.finishedAt).toBe(finishedAt.toISOString());
  });

  it('matches the output schema', () => {
    const builder = new UploadSummaryBuilder('upl_1', 'group-1', '/r.jsonl');
    builder.add(created(0));
    builder.add({ ...failed(1), findings: [{ pointer: '/openlabel', code: 'x', severity: 'error', message: 'm' }], warningCount: 2 });

    const summary = builder.build(runningState({ status: 'failed', error: 'stopped' }));

    expect(uploadSummarySchema.safeParse(summary).success).toBe(true);
  });

  it('stays under the size bound', () => {
    const OUTCOMES = ['created', 'failed', 'invalid'] as const;
    const longPath = `/data/${'very-long-folder-name/'.repeat(200)}predictions.jsonl`;
    const longError = `"quoted" \\ \u0001 ${'x'.repeat(5_000)}`;
    const builder = new UploadSummaryBuilder(`upl_${'j'.repeat(5_000)}`, `g${'"'.repeat(5_000)}`, `${longPath}${'\u0002'.repeat(10_000)}`);

    for (let i = 0; i < 100_000; i += 1) {
      const report: ItemReport = {
        source: `${longPath}:${i}`,
        sceneUuid: `${'s'.repeat(500)}${i}`,
        outcome: OUTCOMES[i % OUTCOMES.length] ?? 'created',
        predictionUuid: 'p'.repeat(500),
        httpStatus: 400,
        reason: `reason_${i % 1_000}_${'r'.repeat(300)}`,
        error: longError,
        attempts: 3,
        findings: Array.from({ length: 20 }, () => ({ pointer: `/openlabel/${'~1'.repeat(500)}`, code: 'c'.repeat(300), severity: 'error' as const, message: longError })),
        warningCount: 7,
      };
      builder.add(report);
    }

    const summary = builder.build(runningState({ status: 'failed', error: `${longError}${'\n'.repeat(20_000)}`, unreportedPending: 5 }));
    const json = JSON.stringify(summary);

    expect(json.length).toBeLessThan(MAX_RESULT_CHARS);
    expect(summary.counts.total).toBe(100_005);
    expect(summary.items.length).toBeGreaterThan(0);
    expect(summary.failureReasons.length).toBeGreaterThan(0);
    expect(uploadSummarySchema.safeParse(summary).success).toBe(true);
  });

  it('keeps full detail when small', () => {
    const builder = new UploadSummaryBuilder('upl_1', 'group-1', '/r.jsonl');
    for (let i = 0; i < 100; i += 1) {
      builder.add(failed(i, `reason_${i % 10}`));
    }

    const summary = builder.build(runningState());

    expect(summary.items).toHaveLength(MAX_LISTED_ITEMS);
    expect(summary.failureReasons).toHaveLength(10);
    expect(summary.failureReasons.every((group) => group.examples.length === MAX_EXAMPLES_PER_REASON)).toBe(true);
  });
});

describe('cutText', () => {
  it('keeps short text unchanged', () => {
    expect(cutText('short', 100)).toBe('short');
  });

  it('bounds the JSON length', () => {
    const text = '"\\\u0001'.repeat(1_000);
    expect(JSON.stringify(cutText(text, 100)).length).toBeLessThanOrEqual(100);
  });

  it('marks the cut', () => {
    expect(cutText('a'.repeat(50), 20)).toBe(`${'a'.repeat(17)}…`);
  });

  it('keeps both ends in the middle mode', () => {
    const cut = cutText(`/start/${'m'.repeat(100)}/file.json`, 40, 'middle');
    expect(cut.startsWith('/start')).toBe(true);
    expect(cut.endsWith('/file.json')).toBe(true);
    expect(JSON.stringify(cut).length).toBeLessThanOrEqual(40);
  });

  it('never splits a surrogate pair', () => {
    const cut = cutText('😀'.repeat(100), 21);
    expect(/[\uD800-\uDBFF]$/.test(cut.slice(0, -1))).toBe(false);
  });
});
