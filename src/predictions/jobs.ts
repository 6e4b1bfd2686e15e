/**
 * The uploads of this process, by job id. An upload outlives the tool call that started it, so a
 * later call can read its summary or cancel it. Jobs live in memory until the process exits;
 * their journals and reports stay on disk.
 */
import { randomBytes } from 'node:crypto';

import { UserInputError } from '../errors.js';
import { journalPath } from './journal.js';
import { JournalLock } from './journal-lock.js';
import type { UploadSummary } from './summary.js';
import { Upload, type UploadDependencies, type UploadRequest } from './uploader.js';

const JOB_ID_PREFIX = 'upl_';

/** Random bytes in a job id, written as twice as many hex digits. */
const JOB_ID_RANDOM_BYTES = 6;

export class UploadJobs {
  private readonly uploads = new Map<string, Upload>();
  /** The running upload of each prediction group, by lower-case group UUID. */
  private readonly runningByGroup = new Map<string, Upload>();

  constructor(private readonly deps: UploadDependencies) {}

  /**
   * Starts an upload under a new job id. Two uploads to one group at a time would race on its
   * journal and could both send a scene, so a second one is rejected while the first runs.
   */
  start(request: Omit<UploadRequest, 'jobId'>): Upload {
    const groupKey = request.groupUuid.toLowerCase();
    const running = this.runningByGroup.get(groupKey);
    if (running !== undefined) {
      throw new UserInputError(
        `Upload job ${running.jobId} is still running for prediction group ${request.groupUuid}. ` +
          `Wait for it with get_upload_job, or stop it with cancel_upload_job, then upload again.`,
      );
    }
    JournalLock.assertFree(journalPath(this.deps.stateDir, this.deps.apiOrigin, groupKey), request.groupUuid);

    const upload = new Upload({ ...request, jobId: this.newJobId() }, this.deps);
    this.uploads.set(upload.jobId, upload);
    this.runningByGroup.set(groupKey, upload);
    void upload.done.then(() => {
      if (this.runningByGroup.get(groupKey) === upload) {
        this.runningByGroup.delete(groupKey);
      }
    });

    upload.start();
    return upload;
  }

  get(jobId: string): Upload | undefined {
    return this.uploads.get(jobId);
  }

  /** Cancels a job and resolves with its final summary once it has stopped. */
  async cancel(jobId: string): Promise<UploadSummary> {
    const upload = this.uploads.get(jobId);
    if (upload === undefined) {
      throw new UserInputError(
        `No upload job ${jobId} exists in this server process. Job ids come from upload_predictions; ` +
          'jobs end when the server restarts, but their reports stay on disk.',
      );
    }

    upload.cancel('cancelled by request');
    return upload.done;
  }

  /**
   * Resolves with the final summary when the upload ends within `waitMs`, else with a `running`
   * snapshot after `waitMs` or as soon as `signal` aborts.
   */
  async wait(upload: Upload, waitMs: number, signal?: AbortSignal): Promise<UploadSummary> {
    if (signal?.aborted === true) {
      return upload.summary();
    }

    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, Math.max(0, waitMs));
      onAbort = resolve;
      signal?.addEventListener('abort', onAbort, { once: true });
    });

    try {
      return await Promise.race([upload.done, timeout.then(() => upload.summary())]);
    } finally {
      clearTimeout(timer);
      if (onAbort !== undefined) {
        signal?.removeEventListener('abort', onAbort);
      }
    }
  }

  /** Cancels every running upload and waits until all have stopped, for server shutdown. */
  async closeAll(): Promise<void> {
    const running = [...this.runningByGroup.values()];
    for (const upload of running) {
      upload.cancel('the server is shutting down');
    }
    await Promise.all(running.map((upload) => upload.done));
  }

  private newJobId(): string {
    let jobId: string;
    do {
      jobId = JOB_ID_PREFIX + randomBytes(JOB_ID_RANDOM_BYTES).toString('hex');
    } while (this.uploads.has(jobId));
    return jobId;
  }
}
