/**
 * upload_predictions with file paths through the SDK client: each path that cannot be used is
 * reported as an invalid item naming the path, and the good items are still uploaded.
 */
import { mkdirSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { ItemReport, UploadSummary } from '../src/predictions/summary.js';
import { startHarness, type Harness } from './helpers/mcp-harness.js';
import {
  addUploadTarget,
  boxDocumentJson,
  makeTempDir,
  predictionRequests,
  readReport,
  removeTempDirs,
  summaryOf,
  type UploadTarget,
  writeJsonlFile,
  writeSceneFiles,
} from './helpers/upload-tools.js';

describe('upload_predictions with bad paths', () => {
  let harness: Harness;
  let target: UploadTarget;
  let root: string;
  let outside: string;
  let summary: UploadSummary;
  let report: ItemReport[];

  /** The paths of the call, by what is wrong with them. */
  const paths: Record<string, string> = {};

  beforeAll(async () => {
    root = realpathSync(makeTempDir('upload-paths-root-'));
    outside = realpathSync(makeTempDir('upload-paths-outside-'));
    harness = await startHarness({ config: { roots: [root] } });
    target = addUploadTarget(harness.sandbox, 10);
    const scenes = target.sceneUuids;

    // Good: three files in a folder and three of the four lines of a JSONL file.
    mkdirSync(path.join(root, 'good'));
    writeSceneFiles(path.join(root, 'good'), scenes.slice(0, 3));
    writeJsonlFile(path.join(root, 'batch.jsonl'), scenes.slice(3, 5));
    writeFileSync(path.join(root, 'batch.jsonl'), `{"sceneUuid": "${scenes[5]}", "openlabel": {"openlabel": \n`, { flag: 'a' });
    writeFileSync(path.join(root, 'batch.jsonl'), `{"sceneUuid":"${scenes[6]}","openlabel":${boxDocumentJson()}}\n`, { flag: 'a' });

    // Bad: outside the root, reached through a link, reached through "..", missing, not JSON.
    const [outsideFile] = writeSceneFiles(outside, scenes.slice(7, 8));
    symlinkSync(outsideFile as string, path.join(root, `${scenes[8]}.json`));
    writeFileSync(path.join(root, `${scenes[9]}.json`), 'this is not JSON');
    writeFileSync(path.join(root, 'notes.txt'), 'not a prediction file');

    paths.folder = path.join(root, 'good');
    paths.jsonl = path.join(root, 'batch.jsonl');
    paths.outside = outsideFile as string;
    paths.link = path.join(root, `${scenes[8]}.json`);
    paths.dotDot = `${root}/../${path.basename(outside)}/${scenes[7]}.json`;
    paths.missing = path.join(root, 'missing.json');
    paths.notJson = path.join(root, `${scenes[9]}.json`);
    paths.textFile = path.join(root, 'notes.txt');

    summary = summaryOf(
      await harness.call('upload_predictions', { predictionGroupUuid: target.groupUuid, paths: Object.values(paths) }),
    );
    report = readReport(summary.reportPath);
  });

  afterAll(async () => {
    await harness.close();
    removeTempDirs(harness.stateDir);
  });

  function reportOf(source: string): ItemReport | undefined {
    return report.find((line) => line.source === source);
  }

  it('uploads the good items', () => {
    const sentScenes = new Set(predictionRequests(harness.sandbox).map((request) => request.sceneUuid));

    expect(summary.status).toBe('completed');
    expect(summary.counts.created).toBe(6);
    expect(summary.counts.invalid).toBe(7);
    expect(summary.counts.total).toBe(13);
    expect(sentScenes).toEqual(new Set(target.sceneUuids.slice(0, 5).concat(target.sceneUuids[6] as string)));
    expect(report).toHaveLength(13);
  });

  it('rejects a file outside the roots', () => {
    const line = reportOf(paths.outside as string);

    expect(line?.outcome).toBe('invalid');
    expect(line?.reason).toBe('path_outside_roots');
    expect(line?.error).toContain(paths.outside);
  });

  it('rejects a link leading out', () => {
    const line = reportOf(paths.link as string);

    expect(line?.outcome).toBe('invalid');
    expect(line?.reason).toBe('path_outside_roots');
    expect(line?.error).toContain(paths.link);
  });

  it('rejects ".." leading out', () => {
    const line = reportOf(paths.dotDot as string);

    expect(line?.outcome).toBe('invalid');
    expect(line?.reason).toBe('path_outside_roots');
    // The message names the resolved path, and the source keeps the path as given.
    expect(line?.error).toContain(paths.outside);
  });

  it('reports a missing file', () => {
    const line = reportOf(paths.missing as string);

    expect(line?.outcome).toBe('invalid');
    expect(line?.reason).toBe('path_not_found');
    expect(line?.error).toContain(paths.missing);
  });

  it('reports a file that is not JSON', () => {
    const line = reportOf(paths.notJson as string);

    expect(line?.outcome).toBe('invalid');
    expect(line?.reason).toBe('invalid_json');
    expect(line?.sceneUuid).toBe(target.sceneUuids[9]);
    expect(line?.error).toContain('not valid JSON');
  });

  it('reports a file of another type', () => {
    const line = reportOf(paths.textFile as string);

    expect(line?.outcome).toBe('invalid');
    expect(line?.reason).toBe('unsupported_file_type');
    expect(line?.error).toContain('.txt');
  });

  it('reports the broken JSONL line', () => {
    const line = reportOf(`${paths.jsonl}:3`);
    const jsonlLines = report.filter((entry) => entry.source.startsWith(`${paths.jsonl}:`));

    expect(line?.outcome).toBe('invalid');
    expect(line?.reason).toBe('invalid_json');
    expect(line?.error).toMatch(/line 3/i);
    expect(jsonlLines.map((entry) => entry.outcome).sort()).toEqual(['created', 'created', 'created', 'invalid']);
  });
});
