/**
 * The JSONL report of one upload: one line per item, in the order the items finished, at
 * `<stateDir>/reports/<jobId>.jsonl`. Unlike the summary, it lists every item.
 */
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';

import { STATE_DIR_MODE, STATE_FILE_MODE } from './journal.js';
import type { ItemReport } from './summary.js';

export function reportPath(stateDir: string, jobId: string): string {
  return join(stateDir, 'reports', `${jobId}.jsonl`);
}

export class ReportFile {
  private constructor(
    readonly path: string,
    private readonly fd: number,
  ) {}

  static open(path: string): ReportFile {
    mkdirSync(join(path, '..'), { recursive: true, mode: STATE_DIR_MODE });
    return new ReportFile(path, openSync(path, 'a', STATE_FILE_MODE));
  }

  /** Appends one item; `index` is the item's position in the request, when it was read. */
  write(report: ItemReport, index: number | undefined): void {
    const line = index === undefined ? report : { index, ...report };
    writeSync(this.fd, `${JSON.stringify(line)}\n`);
  }

  close(): void {
    closeSync(this.fd);
  }
}
