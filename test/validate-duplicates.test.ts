/**
 * validate_predictions against scenes given twice, through the SDK client: it reports the later
 * items as duplicate_scene errors, as upload_predictions does, and names a repeated path.
 */
import path from 'node:path';

import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, it } from 'vitest';

import type { ValidationReport } from '../src/predictions/validation-report.js';
import { resultText, startHarness, type Harness } from './helpers/mcp-harness.js';
import { makeBoxPrediction, sceneUuidFor } from './helpers/predictions.js';
import { addUploadTarget, makeTempDir, removeTempDirs, summaryOf, writeJsonlFile, writeSceneFiles } from './helpers/upload-tools.js';

function reportOf(result: CallToolResult): ValidationReport {
  return result.structuredContent as unknown as ValidationReport;
}

describe('validate_predictions duplicate scenes', () => {
  let harness: Harness | undefined;

  afterEach(async () => {
    await harness?.close();
    removeTempDirs(harness?.stateDir);
    harness = undefined;
  });

  async function validate(args: Record<string, unknown>, roots: string[] = []): Promise<{ report: ValidationReport; text: string }> {
    harness = await startHarness({ config: { roots }, env: {} });
    const result = await harness.call('validate_predictions', args);
    expect(result.isError).not.toBe(true);
    return { report: reportOf(result), text: resultText(result) };
  }

  it('reports a repeated JSONL line', async () => {
    const root = makeTempDir('validate-duplicates-');
    const scene = sceneUuidFor(1);
    writeJsonlFile(path.join(root, 'twice.jsonl'), [scene, scene]);

    const { report, text } = await validate({ paths: ['twice.jsonl'] }, [root]);
    const duplicate = report.findingsByCode.find((group) => group.code === 'duplicate_scene');
    const message = duplicate?.examples[0]?.message ?? '';

    expect(report.counts).toEqual({ valid: 1, validWithWarnings: 0, invalid: 1, total: 2 });
    expect(duplicate?.severity).toBe('error');
    expect(duplicate?.itemCount).toBe(1);
    expect(duplicate?.examples[0]?.source).toBe(`${path.join(root, 'twice.jsonl')}:2`);
    expect(message).toContain(scene);
    expect(message).toContain('item index 0');
    expect(message).toContain('remove one of them');
    expect(report.items[0]?.valid).toBe(false);
    expect(report.items[0]?.findings[0]?.code).toBe('duplicate_scene');
    expect(text).toContain('1 valid, 0 valid with warnings, 1 invalid.');
    expect(text).toContain('- duplicate_scene (error): 1 item(s).');
  });

  it('matches the upload counts', async () => {
    const root = makeTempDir('validate-duplicates-upload-');
    harness = await startHarness({ config: { roots: [root] } });
    const target = addUploadTarget(harness.sandbox, 2);
    const [first, second] = target.sceneUuids as [string, string];
    writeJsonlFile(path.join(root, 'batch.jsonl'), [first, second, first]);

    const validation = reportOf(await harness.call('validate_predictions', { paths: ['batch.jsonl'] }));
    const upload = summaryOf(
      await harness.call('upload_predictions', { predictionGroupUuid: target.groupUuid, paths: ['batch.jsonl'], waitSeconds: 30 }),
    );

    expect(upload.counts.created).toBe(2);
    expect(upload.counts.invalid).toBe(1);
    expect(upload.failureReasons[0]?.reason).toBe('duplicate_scene');
    expect(validation.counts.valid).toBe(upload.counts.created);
    expect(validation.counts.invalid).toBe(upload.counts.invalid);
    expect(validation.findingsByCode.map((group) => group.code)).toEqual(['duplicate_scene']);
  });

  it('matches scene UUIDs in any case', async () => {
    const scene = sceneUuidFor(10);
    const { report } = await validate({
      predictions: [
        { sceneUuid: scene, openlabel: makeBoxPrediction() },
        { sceneUuid: scene.toUpperCase(), openlabel: makeBoxPrediction() },
      ],
    });

    expect(report.counts.invalid).toBe(1);
    expect(report.items[0]?.source).toBe('predictions[1]');
    expect(report.items[0]?.findings[0]?.code).toBe('duplicate_scene');
  });

  it('lets an invalid item claim nothing', async () => {
    const scene = sceneUuidFor(11);
    const { report } = await validate({
      predictions: [
        { sceneUuid: scene, openlabel: '{"openlabel":{},}' },
        { sceneUuid: scene, openlabel: makeBoxPrediction() },
        { sceneUuid: scene, openlabel: makeBoxPrediction() },
      ],
    });
    const duplicate = report.findingsByCode.find((group) => group.code === 'duplicate_scene');

    expect(report.counts).toEqual({ valid: 1, validWithWarnings: 0, invalid: 2, total: 3 });
    expect(duplicate?.itemCount).toBe(1);
    expect(duplicate?.examples[0]?.source).toBe('predictions[2]');
    expect(duplicate?.examples[0]?.message).toContain('item index 1');
  });

  it('names a path listed twice', async () => {
    const root = makeTempDir('validate-duplicates-paths-');
    writeSceneFiles(root, [sceneUuidFor(20), sceneUuidFor(21)]);

    const { report, text } = await validate({ paths: ['.', './'] }, [root]);
    const duplicate = report.findingsByCode.find((group) => group.code === 'duplicate_scene');

    expect(report.counts).toEqual({ valid: 2, validWithWarnings: 0, invalid: 2, total: 4 });
    expect(duplicate?.itemCount).toBe(2);
    expect(duplicate?.examples[0]?.message).toContain('item index 0');
    expect(duplicate?.examples[0]?.message).toContain('paths lists "./" more than once');
    expect(text).toContain('paths lists "./" more than once, so its items are read again and reported as duplicate_scene.');
  });

  it('blames the path only for its items', async () => {
    const root = makeTempDir('validate-duplicates-mixed-');
    writeJsonlFile(path.join(root, 'a.jsonl'), [sceneUuidFor(40)]);
    writeJsonlFile(path.join(root, 'b.jsonl'), [sceneUuidFor(41), sceneUuidFor(41)]);

    const { report } = await validate({ paths: ['a.jsonl', 'b.jsonl', './a.jsonl'] }, [root]);
    const examples = report.findingsByCode.find((group) => group.code === 'duplicate_scene')?.examples ?? [];
    const fromB = examples.find((example) => example.source.includes('b.jsonl'));
    const fromA = examples.find((example) => example.source.includes('a.jsonl'));

    expect(examples).toHaveLength(2);
    expect(fromB?.message).not.toContain('paths lists');
    expect(fromB?.message).toContain('remove one of them');
    expect(fromA?.message).toContain('paths lists "./a.jsonl" more than once');
  });

  it('skips the path note otherwise', async () => {
    const root = makeTempDir('validate-duplicates-distinct-');
    writeJsonlFile(path.join(root, 'a.jsonl'), [sceneUuidFor(30)]);
    writeJsonlFile(path.join(root, 'b.jsonl'), [sceneUuidFor(30)]);

    const { report, text } = await validate({ paths: ['a.jsonl', 'b.jsonl'] }, [root]);

    expect(report.counts.invalid).toBe(1);
    expect(report.findingsByCode[0]?.examples[0]?.message).not.toContain('paths lists');
    expect(text).not.toContain('paths lists');
  });
});
