/**
 * The decision for one source entry before anything is sent: a source problem or a prediction
 * that fails validation is `invalid`, a scene given twice is `invalid`, a scene the journal shows
 * as created is `skipped`, a scene sent earlier without a response is `unknown`, and anything
 * else is queued for its request.
 */
import type { Logger } from '../log.js';
import type { UploadJournal } from './journal.js';
import type { RetryCounters } from './retry-policy.js';
import type { ItemReport } from './summary.js';
import type { Finding, PredictionItem, SourceEntry } from './types.js';
import type { ValidationResult } from './validation.js';

/** A valid item waiting for its request, in its backoff, or in flight. */
export interface QueuedItem {
  index: number;
  source: string;
  sceneUuid: string;
  /** The `{"openlabel": {...}}` document as JSON text, sent as is. */
  documentJson: string;
  /** Size of the document, for the read-ahead limit. */
  bytes: number;
  /** Requests sent so far. */
  attempts: number;
  retries: RetryCounters;
  /** Validation warnings, reported with the outcome. */
  findings: Finding[];
  warningCount: number;
  lastHttpStatus?: number;
}

export type Admission =
  | { kind: 'report'; index: number; report: ItemReport }
  | { kind: 'send'; item: QueuedItem };

export interface ItemAdmissionOptions {
  validate: (item: Pick<PredictionItem, 'sceneUuid' | 'openlabel' | 'sizeBytes'>) => ValidationResult;
  journal: UploadJournal;
  /** Send scenes that the journal shows as created or as sent without a response. */
  force: boolean;
  /** Send scenes that the journal shows as sent without a response, but not created ones. */
  resendUnknown: boolean;
  logger: Logger;
}

export class ItemAdmission {
  /**
   * Index of the first item of every scene in this upload, to name it when the scene comes
   * again. It grows by one entry per valid item, so it keeps a number rather than the source
   * text: at 100,000 items that saves several MB of strings.
   */
  private readonly firstIndexByScene = new Map<string, number>();

  constructor(private readonly options: ItemAdmissionOptions) {}

  admit(entry: SourceEntry): Admission {
    if (entry.kind === 'problem') {
      const { problem } = entry;
      return this.report(problem.index, {
        source: problem.source,
        ...(problem.sceneUuid !== undefined ? { sceneUuid: problem.sceneUuid } : {}),
        outcome: 'invalid',
        reason: problem.code,
        error: problem.message,
        attempts: 0,
      });
    }

    const { item } = entry;
    const validation = this.validate(item);
    const findings = { findings: validation.findings, warningCount: validation.warningCount };
    const { sceneUuid, documentJson } = validation;

    if (!validation.valid || sceneUuid === undefined || documentJson === undefined) {
      const firstError = validation.findings.find((finding) => finding.severity === 'error');
      return this.report(item.index, {
        source: item.source,
        ...(typeof item.sceneUuid === 'string' ? { sceneUuid: item.sceneUuid } : {}),
        outcome: 'invalid',
        reason: firstError?.code ?? 'invalid_prediction',
        ...(firstError === undefined ? { error: 'The prediction could not be validated.' } : {}),
        attempts: 0,
        ...withFindings(findings),
      });
    }

    const firstIndex = this.firstIndexByScene.get(sceneUuid);
    if (firstIndex !== undefined) {
      return this.report(item.index, {
        source: item.source,
        sceneUuid,
        outcome: 'invalid',
        reason: 'duplicate_scene',
        error:
          `Scene ${sceneUuid} already has a prediction earlier in this upload, at item index ${firstIndex} ` +
          '(the report file lists every item with its index and source). A scene takes one prediction per upload, so remove one of them.',
        attempts: 0,
      });
    }
    this.firstIndexByScene.set(sceneUuid, item.index);

    const earlier = this.options.force ? undefined : this.options.journal.lookup(sceneUuid);
    if (earlier?.state === 'created') {
      return this.report(item.index, {
        source: item.source,
        sceneUuid,
        outcome: 'skipped',
        ...(earlier.predictionUuid !== undefined ? { predictionUuid: earlier.predictionUuid } : {}),
        reason: 'already_created',
        attempts: 0,
        ...withFindings(findings),
      });
    }
    if (earlier?.state === 'unconfirmed' && !this.options.resendUnknown) {
      return this.report(item.index, {
        source: item.source,
        sceneUuid,
        outcome: 'unknown',
        reason: 'unconfirmed_earlier_send',
        error:
          'An earlier upload sent this prediction and got no answer, so it may already exist; it was not resent. ' +
          'Check in Kognic, then rerun with resendUnknown: true if it is missing. (force: true resends every scene, also the created ones.)',
        attempts: 0,
        ...withFindings(findings),
      });
    }

    return {
      kind: 'send',
      item: {
        index: item.index,
        source: item.source,
        sceneUuid,
        documentJson,
        bytes: item.sizeBytes ?? documentJson.length,
        attempts: 0,
        retries: { rateLimited: 0, serverError: 0, network: 0 },
        findings: validation.findings,
        warningCount: validation.warningCount,
      },
    };
  }

  private report(index: number, report: ItemReport): Admission {
    return { kind: 'report', index, report };
  }

  private validate(item: PredictionItem): ValidationResult {
    try {
      return this.options.validate(item);
    } catch (error) {
      // A crash of the validation is a bug; it costs this item, not the whole upload.
      const message = error instanceof Error ? error.message : String(error);
      this.options.logger.error('Validation threw an error', { source: item.source, error: message });
      return {
        valid: false,
        findings: [{ pointer: '', code: 'validation_error', severity: 'error', message: `Validation failed with an internal error: ${message}` }],
        omittedFindings: 0,
        errorCount: 1,
        warningCount: 0,
      };
    }
  }
}

/** Returns the findings fields of an item report, leaving out empty ones. */
export function withFindings(source: { findings: Finding[]; warningCount: number }): Pick<ItemReport, 'findings' | 'warningCount'> {
  return {
    ...(source.findings.length > 0 ? { findings: source.findings } : {}),
    ...(source.warningCount > 0 ? { warningCount: source.warningCount } : {}),
  };
}
