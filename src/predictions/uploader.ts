/**
 * The bulk upload engine: reads prediction items lazily, validates each, skips the ones an
 * earlier upload created, and posts the rest to a prediction group with at most
 * `maxConnections` requests in flight. Every item ends with a known outcome in the journal, the
 * report file and the summary.
 */
import { setMaxListeners } from 'node:events';
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';

import pLimit, { type LimitFunction } from 'p-limit';

import { UserInputError } from '../errors.js';
import { predictionRequest } from '../kognic/dataset-api.js';
import { KognicAuthError, KognicNetworkError } from '../kognic/errors.js';
import type { KognicHttpClient } from '../kognic/http-client.js';
import type { Logger } from '../log.js';
import { ItemAdmission, type QueuedItem, withFindings } from './admission.js';
import { type JournalEvent, UploadJournal } from './journal.js';
import { ReportFile, reportPath } from './report-file.js';
import { DEFAULT_RETRY_LIMITS, type FailureDecision, type RetryLimits, decideAfterFailure } from './retry-policy.js';
import { type ItemReport, type UploadStatus, type UploadSummary, UploadSummaryBuilder } from './summary.js';
import type { PredictionItem, SourceEntry } from './types.js';
import { type ValidationResult, validatePrediction } from './validation.js';

export { DEFAULT_RETRY_LIMITS, type RetryLimits } from './retry-policy.js';

/** The dataset API's documented limit of concurrent connections; more is rejected. */
export const MAX_UPLOAD_CONNECTIONS = 10;

/** Items read ahead of the requests, per connection: enough to keep every connection busy. */
export const READ_AHEAD_ITEMS_PER_CONNECTION = 4;

/**
 * Bytes of prediction text read ahead of the requests. Beyond it the reader waits, unless fewer
 * items than connections are waiting, so that large predictions still use every connection.
 */
export const MAX_READ_AHEAD_BYTES = 64 * 1024 * 1024;

/**
 * Turns of the event loop that the reader waits at most, before each item, for requests to be
 * written. It bounds the delay when a request waits for a new connection.
 */
const MAX_READER_YIELD_TURNS = 4;

/** Failed or unknown items logged one by one; the rest are counted in one line at the end. */
export const MAX_LOGGED_ITEM_WARNINGS = 20;

/** Job ids become file names, so they are limited to a safe alphabet and length. */
export const MAX_JOB_ID_LENGTH = 64;
const JOB_ID_PATTERN = new RegExp(`^[A-Za-z0-9_-]{1,${MAX_JOB_ID_LENGTH}}$`);

/** Group UUIDs become file names and URL segments. */
const GROUP_UUID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;

export interface UploadRequest {
  jobId: string;
  groupUuid: string;
  entries: AsyncIterable<SourceEntry>;
  /** Item count when known up front, for the progress `total` and the pending count. */
  totalHint?: number;
  /** 1 to MAX_UPLOAD_CONNECTIONS, default MAX_UPLOAD_CONNECTIONS. */
  maxConnections?: number;
  /** Upload again the scenes that the journal shows as created or as sent without a response. */
  force?: boolean;
  /** Upload again only the scenes that the journal shows as sent without a response. */
  resendUnknown?: boolean;
}

/** The part of an HTTP client that an upload uses. */
export type UploadHttpClient = Pick<KognicHttpClient, 'request' | 'destroy'>;

export interface UploadDependencies {
  /**
   * Returns the client of one upload, which sends at most `maxConnections` requests at once. The
   * upload calls destroy() when it ends or is cancelled. A client shared with other work may make
   * that a no-op, because cancel() also aborts each request in flight.
   */
  createHttpClient(maxConnections: number): UploadHttpClient;
  /** Folder of the journals and the reports. */
  stateDir: string;
  /** Dataset API URL, such as `https://dataset.app.kognic.com`; its origin is part of the journal key. */
  apiOrigin: string;
  logger: Logger;
  retryLimits?: Partial<RetryLimits>;
  validate?: (item: Pick<PredictionItem, 'sceneUuid' | 'openlabel' | 'sizeBytes'>) => ValidationResult;
}

export interface UploadProgress {
  /** Items with a final outcome. */
  finished: number;
  total?: number;
  message: string;
}

/** The result of one turn through the limiter. */
type AttemptStep =
  | { kind: 'finished'; report: ItemReport; event?: JournalEvent }
  | { kind: 'retry'; delayMs: number }
  /** A rate-limit pause began while the item was queued; it waits outside the limiter. */
  | { kind: 'paused' }
  /** The upload is stopping and the item was not sent this turn; it stays pending. */
  | { kind: 'not_sent' };

export class Upload {
  readonly jobId: string;
  readonly groupUuid: string;
  readonly done: Promise<UploadSummary>;

  private readonly request: UploadRequest;
  private readonly deps: UploadDependencies;
  private readonly logger: Logger;
  private readonly limits: RetryLimits;
  private readonly maxConnections: number;
  private readonly summaryBuilder: UploadSummaryBuilder;
  private readonly limit: LimitFunction;

  private phase: 'new' | 'running' | 'finished' = 'new';
  private startedAt = new Date();
  private finishedAt: Date | undefined;
  private finalSummary: UploadSummary | undefined;
  private resolveDone: (summary: UploadSummary) => void = () => {};

  /** Set once, by the first of cancel() or a fatal error. */
  private stopStatus: 'cancelled' | 'failed' | undefined;
  private stopError: string | undefined;
  private cancelRequested = false;
  /** Aborts waits and the reader; in-flight requests are aborted only by cancel(). */
  private readonly stopController = new AbortController();
  /**
   * One abort controller per request in flight, which cancel() aborts. A shared signal kept newer
   * requests alive, because Node leaves each removed listener pointing at its neighbours.
   */
  private readonly inFlightRequests = new Set<AbortController>();

  private client: UploadHttpClient | undefined;
  private journal: UploadJournal | undefined;
  private report: ReportFile | undefined;

  private readonly outstanding = new Set<QueuedItem>();
  private outstandingBytes = 0;
  private readonly deliveries = new Set<Promise<void>>();
  /** Valid items that were read but not sent when the upload stopped. */
  private readonly unsentItems: QueuedItem[] = [];
  private wakeReader: (() => void) | undefined;
  private readCount = 0;
  /** Requests passed to the HTTP client that it has not started to write yet. */
  private unwrittenRequests = 0;
  private totalHint: number | undefined;
  private sourceExhausted = false;
  private admission: ItemAdmission | undefined;

  /** Until this time (ms since the epoch) no worker sends, after a 429. */
  private pauseUntil = 0;

  private readonly progressListeners = new Set<(progress: UploadProgress) => void>();
  private loggedItemWarnings = 0;

  constructor(request: UploadRequest, deps: UploadDependencies) {
    this.totalHint = request.totalHint;
    const maxConnections = request.maxConnections ?? MAX_UPLOAD_CONNECTIONS;
    if (!Number.isInteger(maxConnections) || maxConnections < 1 || maxConnections > MAX_UPLOAD_CONNECTIONS) {
      throw new UserInputError(
        `maxConnections must be an integer from 1 to ${MAX_UPLOAD_CONNECTIONS}, the Kognic dataset API's documented ` +
          `limit of concurrent connections; got ${String(maxConnections)}.`,
      );
    }
    if (!GROUP_UUID_PATTERN.test(request.groupUuid)) {
      throw new UserInputError(
        `The prediction group UUID "${request.groupUuid.slice(0, 100)}" is not valid; pass the UUID returned by ` +
          'create_prediction_group or listed by list_prediction_groups.',
      );
    }
    if (!JOB_ID_PATTERN.test(request.jobId)) {
      throw new UserInputError(`The job id "${request.jobId.slice(0, 100)}" must be 1 to 64 letters, digits, "_" or "-".`);
    }

    this.request = request;
    this.deps = deps;
    this.jobId = request.jobId;
    this.groupUuid = request.groupUuid;
    this.maxConnections = maxConnections;
    // Each read item waiting out a backoff or a 429 pause listens on the stop signal. Node warns
    // of a leak above 10 listeners, which a 429 pause with all connections busy exceeds.
    const maxSignalListeners = maxConnections * READ_AHEAD_ITEMS_PER_CONNECTION + 2;
    setMaxListeners(maxSignalListeners, this.stopController.signal);
    this.limits = { ...DEFAULT_RETRY_LIMITS, ...deps.retryLimits };
    this.logger = deps.logger.child({ jobId: request.jobId, group: request.groupUuid });
    this.limit = pLimit({ concurrency: maxConnections, rejectOnClear: true });
    this.summaryBuilder = new UploadSummaryBuilder(request.jobId, request.groupUuid, reportPath(deps.stateDir, request.jobId));
    this.done = new Promise((resolve) => {
      this.resolveDone = resolve;
    });
  }

  /** Starts the upload; later calls do nothing. */
  start(): void {
    if (this.phase !== 'new') {
      return;
    }
    this.phase = 'running';
    this.startedAt = new Date();
    void this.run();
  }

  /**
   * Stops the upload: nothing new is read or sent, in-flight requests are aborted (their items
   * become `unknown`, since the API may have received them), and items not sent stay `pending`.
   * Calls after the first, or after the end, do nothing.
   */
  cancel(reason = 'cancelled by request'): void {
    if (this.phase === 'finished' || this.cancelRequested) {
      return;
    }
    this.cancelRequested = true;
    this.logger.info('Cancelling upload', { reason });

    this.stop('cancelled');
    for (const controller of this.inFlightRequests) {
      controller.abort();
    }
    this.client?.destroy().catch((error: unknown) => {
      this.logger.debug('Closing the upload connections failed', { error: String(error) });
    });

    if (this.phase === 'new') {
      this.start();
    }
  }

  /** Returns the summary as of now; the final one once the upload has ended. */
  summary(): UploadSummary {
    return this.finalSummary ?? this.buildSummary();
  }

  /** Adds a progress listener; returns its removal. */
  onProgress(listener: (progress: UploadProgress) => void): () => void {
    this.progressListeners.add(listener);
    return () => this.progressListeners.delete(listener);
  }

  private get stopping(): boolean {
    return this.stopStatus !== undefined;
  }

  /** Stops reading and sending; the first call decides the final status. */
  private stop(status: 'cancelled' | 'failed', error?: string): void {
    if (this.stopStatus !== undefined) {
      return;
    }
    this.stopStatus = status;
    this.stopError = error;

    this.stopController.abort();
    this.limit.clearQueue();
    this.wakeReader?.();
  }

  private async run(): Promise<void> {
    this.logger.info('Upload started', {
      maxConnections: this.maxConnections,
      force: this.request.force === true,
      resendUnknown: this.request.resendUnknown === true,
    });

    try {
      const reportPath = this.summaryBuilder.reportPath;
      this.report = ReportFile.open(reportPath, (error) => this.stopOnWriteError(reportPath, error));
      this.journal = await UploadJournal.open({
        stateDir: this.deps.stateDir,
        apiOrigin: this.deps.apiOrigin,
        groupUuid: this.groupUuid,
        logger: this.logger,
      });
      this.admission = new ItemAdmission({
        validate: this.deps.validate ?? validatePrediction,
        journal: this.journal,
        force: this.request.force === true,
        resendUnknown: this.request.resendUnknown === true,
        logger: this.logger,
      });
      this.client = this.deps.createHttpClient(this.maxConnections);
      if (this.cancelRequested) {
        // cancel() ran before the client existed.
        await this.client.destroy();
      }

      await this.readEntries();
    } catch (error) {
      this.stop('failed', `The upload stopped: ${describeError(error)}`);
      this.logger.error('Upload stopped by an error', { error: describeError(error) });
    }

    await this.settleDeliveries();
    await this.finish();
  }

  /** Pulls entries while there is room for them, until the source ends or the upload stops. */
  private async readEntries(): Promise<void> {
    const iterator = this.request.entries[Symbol.asyncIterator]();

    try {
      while (!this.stopping) {
        await this.waitForReadAheadRoom();
        // Each item takes a turn of the event loop or more, so that a response that arrives
        // while items are read and validated waits for one item, not for a whole read-ahead.
        await this.yieldToRequests();
        if (this.stopping) {
          break;
        }

        const next = await this.unlessStopped(iterator.next());
        if (next === undefined) {
          break;
        }
        if (next.done === true) {
          this.sourceExhausted = true;
          break;
        }

        this.readCount += 1;
        this.handleEntry(next.value);
      }
    } finally {
      if (!this.sourceExhausted) {
        // Closes open files of the source; not awaited, because a pending read delays it.
        Promise.resolve(iterator.return?.()).catch(() => {});
      }
    }
  }

  /** Resolves with the promise's value, or with undefined as soon as the upload stops. */
  private async unlessStopped<T>(promise: Promise<T>): Promise<T | undefined> {
    if (this.stopping) {
      promise.catch(() => {});
      return undefined;
    }

    const signal = this.stopController.signal;
    let onAbort: () => void = () => {};
    const stopped = new Promise<undefined>((resolve) => {
      onAbort = () => resolve(undefined);
      signal.addEventListener('abort', onAbort, { once: true });
    });

    try {
      return await Promise.race([promise, stopped]);
    } finally {
      signal.removeEventListener('abort', onAbort);
      // A read that finishes after the stop is dropped; its error must not go unhandled.
      promise.catch(() => {});
    }
  }

  private async waitForReadAheadRoom(): Promise<void> {
    const maxItems = this.maxConnections * READ_AHEAD_ITEMS_PER_CONNECTION;
    const isFull = () =>
      this.outstanding.size >= maxItems ||
      (this.outstandingBytes >= MAX_READ_AHEAD_BYTES && this.outstanding.size >= this.maxConnections);

    while (!this.stopping && isFull()) {
      await new Promise<void>((resolve) => {
        this.wakeReader = resolve;
      });
      this.wakeReader = undefined;
    }
  }

  /**
   * Waits one turn of the event loop, and more while a request of this upload waits to be
   * written, up to MAX_READER_YIELD_TURNS. A response wakes the reader and starts the next
   * request at the same time, but undici (7.30) writes that request to its keep-alive connection
   * only in a setImmediate callback of the next turn or the one after. Without the wait, reading
   * and validating an item would delay the request.
   */
  private async yieldToRequests(): Promise<void> {
    await nextTurn();
    for (let turn = 1; turn < MAX_READER_YIELD_TURNS && this.unwrittenRequests > 0; turn++) {
      await nextTurn();
    }
  }

  /** Records the outcome of an entry that needs no request, or starts sending it. */
  private handleEntry(entry: SourceEntry): void {
    const admission = (this.admission as ItemAdmission).admit(entry);
    if (admission.kind === 'report') {
      this.recordOutcome(admission.index, admission.report);
      return;
    }

    const queued = admission.item;
    this.outstanding.add(queued);
    this.outstandingBytes += queued.bytes;

    const delivery = this.deliver(queued);
    this.deliveries.add(delivery);
    void delivery.finally(() => this.deliveries.delete(delivery));
  }

  /**
   * Sends one item until it has a final outcome. Between attempts it waits outside the limiter,
   * so a waiting item never occupies one of the `maxConnections` slots.
   */
  private async deliver(item: QueuedItem): Promise<void> {
    try {
      for (;;) {
        await this.waitWhilePaused();

        const step = await this.limit(() => this.attemptAndJournal(item));
        if (step.kind === 'finished') {
          // Released first, so that the item is never counted both as pending and as finished.
          this.releaseOutstanding(item);
          this.recordOutcome(item.index, step.report);
          return;
        }
        if (step.kind === 'not_sent') {
          this.unsentItems.push(item);
          return;
        }
        if (step.kind === 'retry') {
          await sleep(step.delayMs, undefined, { signal: this.stopController.signal });
        }
      }
    } catch (error) {
      // An abort of a wait or of the limiter queue means the upload is stopping.
      if (!(this.stopping && isAbortError(error))) {
        this.stop('failed', `The upload stopped after an internal error: ${describeError(error)}`);
        this.logger.error('Upload stopped by an internal error', { scene: item.sceneUuid, error: describeError(error) });
      }
      this.unsentItems.push(item);
    } finally {
      this.releaseOutstanding(item);
    }
  }

  private releaseOutstanding(item: QueuedItem): void {
    if (this.outstanding.delete(item)) {
      this.outstandingBytes -= item.bytes;
      this.wakeReader?.();
    }
  }

  /** Waits until no rate-limit pause is active; a pause may be extended while it waits. */
  private async waitWhilePaused(): Promise<void> {
    for (;;) {
      const remainingMs = this.pauseUntil - Date.now();
      if (remainingMs <= 0) {
        return;
      }
      await sleep(remainingMs, undefined, { signal: this.stopController.signal });
    }
  }

  /**
   * Runs one attempt and journals its final outcome before the limiter slot is released, so that
   * the journal never has more than `maxConnections` requests without an outcome.
   */
  private async attemptAndJournal(item: QueuedItem): Promise<AttemptStep> {
    const step = await this.attempt(item);
    if (step.kind === 'finished' && step.event !== undefined) {
      this.writeJournal(step.event);
      return { kind: 'finished', report: step.report };
    }
    return step;
  }

  /** Sends at most one request for the item; runs inside the limiter. */
  private async attempt(item: QueuedItem): Promise<AttemptStep> {
    if (this.stopping) {
      return { kind: 'not_sent' };
    }
    if (Date.now() < this.pauseUntil) {
      return { kind: 'paused' };
    }

    const client = this.client;
    if (client === undefined) {
      throw new Error('attempt() ran before the upload created its HTTP client');
    }

    if (!this.writeJournal({ e: 'sent', scene: item.sceneUuid, job: this.jobId, at: Date.now() })) {
      return { kind: 'not_sent' };
    }
    item.attempts += 1;

    const controller = new AbortController();
    this.inFlightRequests.add(controller);
    let written = false;
    const countWritten = (): void => {
      if (!written) {
        written = true;
        this.unwrittenRequests -= 1;
      }
    };
    this.unwrittenRequests += 1;
    try {
      const response = await client.request<unknown>({
        ...predictionRequest(this.groupUuid, item.sceneUuid, item.documentJson, controller.signal),
        retry: 'none',
        onWrite: countWritten,
      });

      // The client resends once after a 401, which counts as a request too.
      item.attempts += Math.max(0, response.attempts - 1);
      const predictionUuid = readPredictionUuid(response.data);
      return {
        kind: 'finished',
        report: this.itemReport(item, 'created', {
          ...(predictionUuid !== undefined ? { predictionUuid } : {}),
          httpStatus: response.status,
        }),
        event: { e: 'created', scene: item.sceneUuid, job: this.jobId, prediction: predictionUuid ?? '', at: Date.now() },
      };
    } catch (error) {
      // NOTE: the client's errors do not say how many requests they took, so the resend after a
      // 401 is not counted in `attempts` when the resend fails too.
      return this.afterFailure(item, error, written);
    } finally {
      countWritten();
      this.inFlightRequests.delete(controller);
    }
  }

  /** Decides what follows a failed attempt. `requestWritten` is true when any of its requests was written. */
  private afterFailure(item: QueuedItem, error: unknown, requestWritten: boolean): AttemptStep {
    const notCreated = (reason: string, status?: number): JournalEvent => ({
      e: 'failed',
      scene: item.sceneUuid,
      job: this.jobId,
      reason,
      ...(status !== undefined ? { status } : {}),
      at: Date.now(),
    });

    if (this.cancelRequested && !isCertainlyUnsent(error)) {
      return {
        kind: 'finished',
        report: this.itemReport(item, 'unknown', {
          reason: 'cancelled_in_flight',
          error:
            'The upload was cancelled while this request was in flight, so the prediction may or may not exist. A rerun holds it back; ' +
            'check in Kognic, then rerun with resendUnknown: true if it is missing.',
        }),
        event: { e: 'unknown', scene: item.sceneUuid, job: this.jobId, reason: 'cancelled_in_flight', at: Date.now() },
      };
    }
    if (this.stopping && isCertainlyUnsent(error)) {
      this.writeJournal(notCreated('not_sent'));
      return { kind: 'not_sent' };
    }

    const decision: FailureDecision = decideAfterFailure(error, item.retries, this.limits);
    switch (decision.action) {
      case 'retry': {
        if (decision.httpStatus !== undefined) {
          item.lastHttpStatus = decision.httpStatus;
        }
        this.writeJournal(notCreated(decision.cause, decision.httpStatus));
        if (decision.cause === 'rate_limited') {
          this.pauseAll(decision.delayMs, item);
        }
        this.logger.debug('Retrying prediction upload', {
          scene: item.sceneUuid,
          cause: decision.cause,
          httpStatus: decision.httpStatus,
          attempt: item.attempts,
          delayMs: decision.delayMs,
          error: decision.error,
        });
        return { kind: 'retry', delayMs: decision.delayMs };
      }

      case 'failed':
        return {
          kind: 'finished',
          report: this.itemReport(item, 'failed', {
            ...(decision.httpStatus !== undefined ? { httpStatus: decision.httpStatus } : {}),
            reason: decision.reason,
            error: decision.error,
          }),
          event: notCreated(decision.reason, decision.httpStatus),
        };

      case 'unknown':
        return {
          kind: 'finished',
          report: this.itemReport(item, 'unknown', { reason: decision.reason, error: decision.error }),
          event: { e: 'unknown', scene: item.sceneUuid, job: this.jobId, reason: decision.reason, at: Date.now() },
        };

      case 'stop': {
        this.stop(
          'failed',
          `${decision.error} The upload stopped: items not sent yet stay pending, and a rerun after the fix skips the ones already created.`,
        );
        this.logger.error('Upload stopped', { error: decision.error });
        if (decision.httpStatus === undefined || decision.reason === undefined) {
          this.writeJournal(notCreated('not_sent'));
          if (!requestWritten) {
            item.attempts -= 1;
          }
          return { kind: 'not_sent' };
        }

        // The API rejected this request, so the item failed rather than waiting to be sent.
        return {
          kind: 'finished',
          report: this.itemReport(item, 'failed', { httpStatus: decision.httpStatus, reason: decision.reason, error: decision.error }),
          event: notCreated(decision.reason, decision.httpStatus),
        };
      }
    }
  }

  /** Makes every worker wait `delayMs` before its next request, after a 429. */
  private pauseAll(delayMs: number, item: QueuedItem): void {
    const until = Date.now() + delayMs;
    if (until <= this.pauseUntil) {
      return;
    }
    this.pauseUntil = until;
    this.logger.info('Kognic API rate limit reached; pausing all requests', { scene: item.sceneUuid, delayMs });
  }

  private itemReport(item: QueuedItem, outcome: ItemReport['outcome'], fields: Partial<ItemReport>): ItemReport {
    const httpStatus = fields.httpStatus ?? item.lastHttpStatus;
    return {
      source: item.source,
      sceneUuid: item.sceneUuid,
      outcome,
      ...fields,
      ...(httpStatus !== undefined ? { httpStatus } : {}),
      attempts: item.attempts,
      ...withFindings(item),
    };
  }

  /**
   * Records a final outcome: the journal first (so that a crash right after cannot lose a created
   * prediction), then the report file, then the counters. A failed write stops the upload, but
   * the item is still counted, because its outcome is known.
   */
  private recordOutcome(index: number | undefined, report: ItemReport, event?: JournalEvent): void {
    if (event !== undefined) {
      this.writeJournal(event);
    }
    try {
      this.report?.write(report, index);
    } catch (error) {
      this.stopOnWriteError(this.report?.path, error);
    }

    this.summaryBuilder.add(report);
    if (report.outcome === 'failed' || report.outcome === 'unknown') {
      this.logItemWarning(report);
    }
    this.emitProgress();
  }

  /** Appends a journal event; on a failed write it stops the upload and returns false. */
  private writeJournal(event: JournalEvent): boolean {
    try {
      this.journal?.append(event);
      return true;
    } catch (error) {
      this.stopOnWriteError(this.journal?.path, error);
      return false;
    }
  }

  private stopOnWriteError(path: string | undefined, error: unknown): void {
    this.logger.error('Could not write an upload state file', { path, error: describeError(error) });
    this.stop(
      'failed',
      `The upload stopped because ${path ?? 'a state file'} could not be written (${describeError(error)}). ` +
        'Free disk space or fix the folder permissions, then upload again: the journal skips what was created.',
    );
  }

  private logItemWarning(report: ItemReport): void {
    this.loggedItemWarnings += 1;
    if (this.loggedItemWarnings > MAX_LOGGED_ITEM_WARNINGS) {
      return;
    }
    this.logger.warn(report.outcome === 'failed' ? 'Prediction upload failed' : 'Prediction upload outcome unknown', {
      scene: report.sceneUuid,
      status: report.outcome,
      reason: report.reason,
      httpStatus: report.httpStatus,
      source: report.source,
      error: report.error,
    });
  }

  /** Waits for every delivery to settle; after a cancel, in-flight requests end within moments. */
  private async settleDeliveries(): Promise<void> {
    while (this.deliveries.size > 0) {
      await Promise.allSettled([...this.deliveries]);
    }
  }

  private async finish(): Promise<void> {
    const pendingReason = this.stopStatus === 'cancelled' ? 'cancelled' : 'upload_stopped';
    const pendingError =
      this.stopStatus === 'cancelled'
        ? 'Not sent: the upload was cancelled first.'
        : 'Not sent: the upload stopped first; a rerun uploads it.';
    // Taken off the list one at a time, so that the pending count stays right while they are recorded.
    for (let item = this.unsentItems.shift(); item !== undefined; item = this.unsentItems.shift()) {
      this.recordOutcome(item.index, this.itemReport(item, 'pending', { reason: pendingReason, error: pendingError }));
    }

    this.phase = 'finished';
    this.finishedAt = new Date();
    const summary = this.buildSummary();
    this.finalSummary = summary;

    const { counts } = summary;
    this.logger.info('Upload finished', {
      status: summary.status,
      created: counts.created,
      skipped: counts.skipped,
      invalid: counts.invalid,
      failed: counts.failed,
      unknown: counts.unknown,
      pending: counts.pending,
      durationMs: summary.durationMs,
    });
    if (this.loggedItemWarnings > MAX_LOGGED_ITEM_WARNINGS) {
      this.logger.warn('More items failed or have an unknown outcome than were logged; see the report', {
        notLogged: this.loggedItemWarnings - MAX_LOGGED_ITEM_WARNINGS,
        reportPath: summary.reportPath,
      });
    }

    await this.closeResources();
    this.emitProgress();
    this.resolveDone(summary);
  }

  private async closeResources(): Promise<void> {
    for (const resource of [this.journal, this.report]) {
      try {
        resource?.close();
      } catch (error) {
        this.logger.warn('Closing an upload state file failed', { error: describeError(error) });
      }
    }

    try {
      await this.client?.destroy();
    } catch (error) {
      this.logger.debug('Closing the upload connections failed', { error: describeError(error) });
    }

    // A finished job stays in memory for its summary; its per-scene maps are dropped.
    this.journal = undefined;
    this.report = undefined;
    this.admission = undefined;
    this.client = undefined;
  }

  private buildSummary(): UploadSummary {
    const status: UploadStatus = this.phase === 'finished' ? (this.stopStatus ?? 'completed') : 'running';
    return this.summaryBuilder.build({
      status,
      startedAt: this.startedAt,
      ...(this.finishedAt !== undefined ? { finishedAt: this.finishedAt } : {}),
      now: Date.now(),
      unreportedPending: this.unreportedPending(),
      ...(this.stopStatus === 'failed' && this.stopError !== undefined ? { error: this.stopError } : {}),
    });
  }

  /**
   * Sets the item count once it is known, for progress totals and the pending count. Counting a
   * large file runs beside the upload, so the first request does not wait for it.
   */
  setTotalHint(total: number): void {
    if (!this.sourceExhausted) {
      this.totalHint = total;
    }
  }

  /** Items without a report yet: queued or in flight, stopped unsent, or known from `totalHint` but not read. */
  private unreportedPending(): number {
    const unread =
      this.sourceExhausted || this.totalHint === undefined ? 0 : Math.max(0, this.totalHint - this.readCount);
    return this.outstanding.size + this.unsentItems.length + unread;
  }

  /** Sends the counts to the progress listeners; cheap enough to run after every item. */
  private emitProgress(): void {
    if (this.progressListeners.size === 0) {
      return;
    }

    const counts = this.summaryBuilder.counts(this.unreportedPending());
    const finished = counts.total - counts.pending;
    const totalKnown = this.sourceExhausted || this.phase === 'finished' || this.totalHint !== undefined;
    const done = (['created', 'skipped', 'invalid', 'failed', 'unknown'] as const)
      .filter((outcome) => counts[outcome] > 0)
      .map((outcome) => `${counts[outcome]} ${outcome}`);
    const progress: UploadProgress = {
      finished,
      ...(totalKnown ? { total: counts.total } : {}),
      message: `${finished}${totalKnown ? ` of ${counts.total}` : ''} predictions done${done.length > 0 ? `: ${done.join(', ')}` : ''}`,
    };

    for (const listener of this.progressListeners) {
      try {
        listener(progress);
      } catch (error) {
        this.logger.debug('A progress listener threw an error', { error: describeError(error) });
      }
    }
  }
}

/**
 * Reads the new prediction's UUID from the unwrapped `data` of the response.
 * NOTE: the API documents `{"data": "<uuid>"}`; an object with `uuid` or `id` is accepted too.
 */
function readPredictionUuid(data: unknown): string | undefined {
  if (typeof data === 'string' && data !== '') {
    return data;
  }
  if (typeof data === 'object' && data !== null) {
    const record = data as Record<string, unknown>;
    const id = record.uuid ?? record.id;
    if (typeof id === 'string' || typeof id === 'number') {
      return String(id);
    }
  }
  return undefined;
}

function isAbortError(error: unknown): boolean {
  return error instanceof Error && error.name === 'AbortError';
}

/** Returns whether the error certainly came before any byte of the request was written. */
function isCertainlyUnsent(error: unknown): boolean {
  return (error instanceof KognicNetworkError && !error.requestSent) || error instanceof KognicAuthError;
}

function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
