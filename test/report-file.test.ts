import { existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';

import { describe, expect, it } from 'vitest';

import { ReportFile } from '../src/predictions/report-file.js';
import type { ItemReport } from '../src/predictions/summary.js';

function createdReport(sceneUuid: string): ItemReport {
  return { source: `predictions.jsonl:${sceneUuid}`, sceneUuid, outcome: 'created', attempts: 1 };
}

function readLines(file: string): unknown[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as unknown);
}

describe('ReportFile', () => {
  it('writes buffered lines on the next turn', async () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'kognic-report-')), 'reports', 'job.jsonl');
    const report = ReportFile.open(file, () => {});

    report.write(createdReport('a'), 0);
    report.write(createdReport('b'), 1);
    const linesBefore = readLines(file);
    await nextTurn();
    const linesAfter = readLines(file);
    report.close();

    expect(linesBefore).toEqual([]);
    expect(linesAfter).toEqual([
      { index: 0, ...createdReport('a') },
      { index: 1, ...createdReport('b') },
    ]);
  });

  it('close writes pending lines', () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'kognic-report-')), 'job.jsonl');
    const report = ReportFile.open(file, () => {});

    report.write(createdReport('a'), undefined);
    report.close();

    expect(readLines(file)).toEqual([createdReport('a')]);
  });

  it.skipIf(!existsSync('/dev/full'))('reports a failed buffered write', async () => {
    // Writes to /dev/full fail with ENOSPC, as on a full disk.
    const folder = mkdtempSync(path.join(tmpdir(), 'kognic-report-'));
    mkdirSync(path.join(folder, 'reports'));
    const file = path.join(folder, 'reports', 'job.jsonl');
    symlinkSync('/dev/full', file);
    const errors: unknown[] = [];
    const report = ReportFile.open(file, (error) => errors.push(error));

    report.write(createdReport('a'), 0);
    await nextTurn();

    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ code: 'ENOSPC' });
    expect(() => report.close()).not.toThrow();
  });
});
