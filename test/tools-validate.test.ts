import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, realpathSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { afterEach, describe, expect, it } from 'vitest';

import { MAX_RESULT_CHARS } from '../src/predictions/summary.js';
import type { ValidationReport } from '../src/predictions/validation-report.js';
import { resultText, startHarness, type Harness } from './helpers/mcp-harness.js';
import { makeBoxPrediction, sceneUuidFor } from './helpers/predictions.js';

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'openlabel');
const SYNTHETIC = readdirSync(path.join(FIXTURES, 'synthetic')).filter((name) => name.endsWith('.json'));
const THIRD_PARTY = readdirSync(path.join(FIXTURES, 'third-party')).filter((name) => name.endsWith('.json'));

/** Copies fixtures into a new root, each named `<sceneUuid>.json` as bare documents must be. */
function rootWithFixtures(folder: 'synthetic' | 'third-party', names: string[], firstIndex: number): string {
  const root = mkdtempSync(path.join(tmpdir(), `kognic-validate-${folder}-`));
  names.forEach((name, offset) => {
    copyFileSync(path.join(FIXTURES, folder, name), path.join(root, `${sceneUuidFor(firstIndex + offset)}.json`));
  });
  return root;
}

describe('validate_predictions', () => {
  let harness: Harness | undefined;

  afterEach(async () => {
    await harness?.close();
    harness = undefined;
  });

  async function validate(args: Record<string, unknown>, roots: string[] = []): Promise<{ report: ValidationReport; text: string; isError: boolean }> {
    harness = await startHarness({ config: { roots }, env: {} });
    const result = await harness.call('validate_predictions', args);
    return { report: result.structuredContent as unknown as ValidationReport, text: resultText(result), isError: result.isError === true };
  }

  it('passes the synthetic predictions', async () => {
    const root = rootWithFixtures('synthetic', SYNTHETIC, 0);
    const { report, isError } = await validate({ paths: ['.'] }, [root]);
    expect(isError).toBe(false);
    expect(report.counts.total).toBe(SYNTHETIC.length);
    expect(report.counts.invalid).toBe(0);
    expect(report.counts.valid + report.counts.validWithWarnings).toBe(SYNTHETIC.length);
  });

  it('rejects the third-party files with codes', async () => {
    const root = rootWithFixtures('third-party', THIRD_PARTY, 100);
    const { report, text } = await validate({ paths: ['.'] }, [root]);
    expect(report.counts.total).toBe(THIRD_PARTY.length);
    expect(report.counts.invalid).toBeGreaterThan(0);
    const codes = report.findingsByCode.map((group) => group.code);
    expect(codes).toContain('unsupported_geometry');
    expect(codes).toContain('missing_stream');
    expect(text).toContain('invalid');
  });

  it('lists invalid items first', async () => {
    const root = mkdtempSync(path.join(tmpdir(), 'kognic-validate-mixed-'));
    writeFileSync(path.join(root, `${sceneUuidFor(1)}.json`), JSON.stringify(makeBoxPrediction()));
    writeFileSync(path.join(root, `${sceneUuidFor(2)}.json`), JSON.stringify({ openlabel: { metadata: { schema_version: '1.0.0' } } }));
    const { report } = await validate({ paths: ['.'] }, [root]);
    expect(report.items[0]?.valid).toBe(false);
    expect(report.items[1]?.valid).toBe(true);
    expect(report.items[0]?.findings[0]?.code).toBeTruthy();
  });

  it('validates inline items without credentials', async () => {
    const { report, isError } = await validate({
      predictions: [
        { sceneUuid: sceneUuidFor(1), openlabel: makeBoxPrediction() },
        { sceneUuid: 'not-a-uuid', openlabel: JSON.stringify(makeBoxPrediction()) },
        { sceneUuid: sceneUuidFor(3), openlabel: '{"openlabel":{},}' },
      ],
    });
    expect(isError).toBe(false);
    expect(report.counts).toEqual({ valid: 1, validWithWarnings: 0, invalid: 2, total: 3 });
    const codes = report.findingsByCode.map((group) => group.code);
    expect(codes).toContain('invalid_scene_uuid');
    expect(codes).toContain('invalid_json');
  });

  it('reports a missing document per item', async () => {
    const { report, isError } = await validate({ predictions: [{ sceneUuid: sceneUuidFor(1) }] });
    expect(isError).toBe(false);
    expect(report.counts.invalid).toBe(1);
    expect(report.findingsByCode[0]?.code).toBe('missing_openlabel_wrapper');
  });

  it('sends nothing to the API', async () => {
    harness = await startHarness();
    const before = harness.sandbox.stats.requestCount;
    await harness.call('validate_predictions', { predictions: [{ sceneUuid: sceneUuidFor(1), openlabel: makeBoxPrediction() }] });
    expect(harness.sandbox.stats.requestCount).toBe(before);
    expect(harness.sandbox.stats.tokenRequests).toHaveLength(0);
  });

  it('reads sub-folders only when recursive', async () => {
    const root = mkdtempSync(path.join(tmpdir(), 'kognic-validate-recursive-'));
    mkdirSync(path.join(root, 'nested'));
    writeFileSync(path.join(root, 'nested', `${sceneUuidFor(1)}.json`), JSON.stringify(makeBoxPrediction()));
    writeFileSync(path.join(root, `${sceneUuidFor(2)}.json`), JSON.stringify(makeBoxPrediction()));

    const flat = await validate({ paths: ['.'] }, [root]);
    expect(flat.report.counts.total).toBe(1);
    await harness?.close();

    const deep = await validate({ paths: ['.'], recursive: 'true' }, [root]);
    expect(deep.report.counts.total).toBe(2);
  });

  it('rejects a non-boolean recursive', async () => {
    const { isError, text } = await validate({ paths: ['.'], recursive: 'yes' }, [tmpdir()]);
    expect(isError).toBe(true);
    expect(text).toContain('recursive');
  });

  it('reports a path without roots', async () => {
    const { report } = await validate({ paths: ['/etc/hosts.json'] });
    expect(report.counts.invalid).toBe(1);
    expect(report.findingsByCode[0]?.code).toBe('no_roots');
  });

  it('gives client-root advice outside client roots', async () => {
    const clientRoot = realpathSync(mkdtempSync(path.join(tmpdir(), 'kognic-validate-client-root-')));
    const flagRoot = realpathSync(mkdtempSync(path.join(tmpdir(), 'kognic-validate-flag-root-')));
    const outsideFile = path.join(flagRoot, `${sceneUuidFor(0)}.json`);
    writeFileSync(outsideFile, JSON.stringify(makeBoxPrediction()));
    harness = await startHarness({ config: { roots: [flagRoot] }, env: {}, clientRoots: [pathToFileURL(clientRoot).href] });

    const result = await harness.call('validate_predictions', { paths: [outsideFile] });
    const report = result.structuredContent as unknown as ValidationReport;
    const message = report.findingsByCode[0]?.examples[0]?.message;

    expect(report.findingsByCode[0]?.code).toBe('path_outside_roots');
    expect(message).toContain(`${outsideFile} is outside the MCP roots that the client offers`);
    expect(message).toContain('add its folder as a root in the MCP client (host)');
    expect(message).not.toContain('KOGNIC_MCP_ROOTS');
  });

  it('gives --root advice outside --root roots', async () => {
    const flagRoot = realpathSync(mkdtempSync(path.join(tmpdir(), 'kognic-validate-flag-root-')));
    const outsideDir = realpathSync(mkdtempSync(path.join(tmpdir(), 'kognic-validate-outside-')));
    const outsideFile = path.join(outsideDir, `${sceneUuidFor(0)}.json`);
    writeFileSync(outsideFile, JSON.stringify(makeBoxPrediction()));

    const { report } = await validate({ paths: [outsideFile] }, [flagRoot]);
    const message = report.findingsByCode[0]?.examples[0]?.message;

    expect(report.findingsByCode[0]?.code).toBe('path_outside_roots');
    expect(message).toContain(`${outsideFile} is outside the server's allowed roots.`);
    expect(message).toContain('add its folder with --root DIR or KOGNIC_MCP_ROOTS');
  });

  it('requires predictions or paths', async () => {
    const { isError, text } = await validate({});
    expect(isError).toBe(true);
    expect(text).toContain('predictions');
    expect(text).toContain('paths');
  });

  it('stays under the size bound', async () => {
    const root = mkdtempSync(path.join(tmpdir(), 'kognic-validate-many-'));
    const longName = 'x'.repeat(180);
    mkdirSync(path.join(root, longName));
    const lines: string[] = [];
    for (let index = 0; index < 3_000; index++) {
      const document = makeBoxPrediction({ boxCount: 3 });
      const frame = (document.openlabel.frames as Record<string, { objects: Record<string, { object_data: Record<string, unknown> }> }>)['0']!;
      for (const object of Object.values(frame.objects)) {
        object.object_data = { [`geometry_${index % 40}`]: [{ name: 'g', val: [1] }] };
      }
      lines.push(JSON.stringify({ sceneUuid: sceneUuidFor(index), openlabel: document }));
    }
    writeFileSync(path.join(root, longName, 'many.jsonl'), lines.join('\n'));

    harness = await startHarness({ config: { roots: [root] }, env: {} });
    const result = await harness.call('validate_predictions', { paths: [path.join(longName, 'many.jsonl')] });
    const report = result.structuredContent as unknown as ValidationReport;
    expect(report.counts.invalid).toBe(3_000);
    expect(report.items.length).toBeLessThanOrEqual(50);
    for (const group of report.findingsByCode) {
      expect(group.examples.length).toBeLessThanOrEqual(5);
    }
    expect(JSON.stringify(result).length).toBeLessThan(MAX_RESULT_CHARS);
  });
});
