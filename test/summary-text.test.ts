/**
 * The text results of upload_predictions and validate_predictions when there are more failure
 * reasons or finding codes than the text describes: a last line counts the rest and names where
 * to find them.
 */
import { afterEach, describe, expect, it } from 'vitest';

import { MAX_LISTED_REASONS, UploadSummaryBuilder } from '../src/predictions/summary.js';
import { MAX_LISTED_CODES, ValidationReportBuilder, type ValidationReport } from '../src/predictions/validation-report.js';
import { describeUploadSummary } from '../src/tools/upload-summary-text.js';
import { describeValidationReport } from '../src/tools/validate-predictions.js';
import { resultText, startHarness, type Harness } from './helpers/mcp-harness.js';
import { makeBoxPrediction, sceneUuidFor } from './helpers/predictions.js';
import { addUploadTarget, removeTempDirs, summaryOf } from './helpers/upload-tools.js';

type BoxDocument = ReturnType<typeof makeBoxPrediction>;

/** Builds a box prediction and breaks it with `change`. */
function broken(change: (document: BoxDocument) => void): BoxDocument {
  const document = makeBoxPrediction();
  change(document);
  return document;
}

/** Inline predictions with seven first error codes: three items with the first code and two with each other one. */
function sevenReasonPredictions(): Array<{ sceneUuid: string; openlabel: unknown }> {
  const scene = sceneUuidFor(1);
  const kinds: Array<{ sceneUuid: string; openlabel: unknown }> = [
    { sceneUuid: 'not-a-uuid', openlabel: makeBoxPrediction() },
    { sceneUuid: scene, openlabel: '{"openlabel":{},}' },
    { sceneUuid: scene, openlabel: makeBoxPrediction().openlabel },
    {
      sceneUuid: scene,
      openlabel: broken((document) => {
        document.openlabel.metadata = {};
      }),
    },
    {
      sceneUuid: scene,
      openlabel: broken((document) => {
        document.openlabel.frame_intervals = [{ frame_start: 5, frame_end: 2 }];
      }),
    },
    {
      sceneUuid: scene,
      openlabel: broken((document) => {
        document.openlabel.metadata = { schema_version: '2.0.0' };
      }),
    },
    {
      sceneUuid: scene,
      openlabel: broken((document) => {
        const frames = document.openlabel.frames as Record<string, unknown>;
        frames.frame_0 = frames['0'];
        delete frames['0'];
      }),
    },
  ];
  return [kinds[0]!, ...kinds, ...kinds];
}

function failedReport(index: number, reason: string): Parameters<UploadSummaryBuilder['add']>[0] {
  return { source: `predictions[${index}]`, outcome: 'failed', httpStatus: 400, reason, error: 'rejected', attempts: 1 };
}

describe('summary text over five reasons', () => {
  let harness: Harness | undefined;

  afterEach(async () => {
    await harness?.close();
    removeTempDirs(harness?.stateDir);
    harness = undefined;
  });

  it('counts upload reasons left out', async () => {
    harness = await startHarness();
    const target = addUploadTarget(harness.sandbox, 1);

    const result = await harness.call('upload_predictions', {
      predictionGroupUuid: target.groupUuid,
      predictions: sevenReasonPredictions(),
      waitSeconds: 30,
    });
    const summary = summaryOf(result);
    const text = resultText(result);

    expect(summary.counts.invalid).toBe(15);
    expect(summary.failureReasons).toHaveLength(7);
    expect(summary.reasonsNotListed).toBe(0);
    expect(text).toContain('- 2 more failure reason(s) with 4 item(s) in all. See failureReasons in the structured result');
    expect(text).toContain(`Every item is listed in ${summary.reportPath}.`);
  });

  it('counts validation codes left out', async () => {
    harness = await startHarness({ env: {} });

    const result = await harness.call('validate_predictions', { predictions: sevenReasonPredictions() });
    const report = result.structuredContent as unknown as ValidationReport;
    const text = resultText(result);

    expect(report.findingsByCode.length).toBeGreaterThan(5);
    expect(report.codesNotListed).toBe(0);
    expect(text).toContain(
      `- ${report.findingsByCode.length - 5} more finding code(s) not shown here. findingsByCode in the structured result lists them`,
    );
  });

  it('keeps five reasons without note', async () => {
    harness = await startHarness();
    const target = addUploadTarget(harness.sandbox, 1);

    const result = await harness.call('upload_predictions', {
      predictionGroupUuid: target.groupUuid,
      predictions: sevenReasonPredictions().slice(1, 6),
      waitSeconds: 30,
    });

    expect(summaryOf(result).failureReasons).toHaveLength(5);
    expect(resultText(result)).not.toContain('more failure reason');
  });

  it('points past the structured reasons', () => {
    const builder = new UploadSummaryBuilder('upl_1', 'group-1', '/state/reports/upl_1.jsonl');
    const reasonCount = MAX_LISTED_REASONS + 5;
    for (let index = 0; index < reasonCount; index += 1) {
      builder.add(failedReport(index, `reason_${index}`));
    }

    const summary = builder.build({ status: 'completed', startedAt: new Date(0), finishedAt: new Date(1_000), now: 1_000, unreportedPending: 0 });
    const text = describeUploadSummary(summary);

    expect(summary.failureReasons).toHaveLength(MAX_LISTED_REASONS);
    expect(summary.reasonsNotListed).toBe(5);
    expect(text).toContain(`- ${reasonCount - 5} more failure reason(s) with ${reasonCount - 5} item(s) in all.`);
    expect(text).toContain(`failureReasons in the structured result lists ${MAX_LISTED_REASONS - 5} of them`);
  });

  it('points past the structured codes', () => {
    const builder = new ValidationReportBuilder();
    const codeCount = MAX_LISTED_CODES + 4;
    for (let index = 0; index < codeCount; index += 1) {
      const finding = { pointer: '', code: `code_${index}`, severity: 'error' as const, message: 'broken' };
      builder.add(`predictions[${index}]`, undefined, { valid: false, errorCount: 1, warningCount: 0, findings: [finding] });
    }

    const report = builder.build();
    const text = describeValidationReport(report, undefined);

    expect(report.findingsByCode).toHaveLength(MAX_LISTED_CODES);
    expect(report.codesNotListed).toBe(4);
    expect(text).toContain(`- ${codeCount - 5} more finding code(s) not shown here.`);
    expect(text).toContain(`findingsByCode in the structured result lists ${MAX_LISTED_CODES - 5} of them`);
  });
});
