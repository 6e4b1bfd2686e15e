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

/**
 * Lines are buffered and written together once per turn of the event loop, so that the items
 * that finish in one burst of responses cost one write. A crash can lose the lines of the last
 * turn, but the journal, which is written at once, still has their outcomes.
 */
export class ReportFile {
  private pendingLines: string[] = [];
  private flushScheduled = false;
  private closed = false;

  private constructor(
    readonly path: string,
    private readonly fd: number,
    private readonly onWriteError: (error: unknown) => void,
  ) {}

  /** Opens the report for appending; `onWriteError` receives the error of a failed buffered write. */
  static open(path: string, onWriteError: (error: unknown) => void): ReportFile {
    mkdirSync(join(path, '..'), { recursive: true, mode: STATE_DIR_MODE });
    return new ReportFile(path, openSync(path, 'a', STATE_FILE_MODE), onWriteError);
  }

  /** Adds one item; `index` is the item's position in the request, when it was read. */
  write(report: ItemReport, index: number | undefined): void {
    const line = index === undefined ? report : { index, ...report };
    this.pendingLines.push(`${JSON.stringify(line)}\n`);

    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => {
        this.flushScheduled = false;
        try {
          this.flush();
        } catch (error) {
          this.onWriteError(error);
        }
      });
    }
  }

  /** Writes the buffered lines; throws when the write fails. */
  flush(): void {
    if (this.closed || this.pendingLines.length === 0) {
      return;
    }
    const text = this.pendingLines.join('');
    this.pendingLines = [];
    writeSync(this.fd, text);
  }

  /** Writes the buffered lines and closes the file; throws when either fails. */
  close(): void {
    try {
      this.flush();
    } finally {
      this.closed = true;
      closeSync(this.fd);
    }
  }
}
