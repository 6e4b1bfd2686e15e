/**
 * Per-item outcomes folded into an upload summary a model can act on: counts by outcome,
 * failures grouped by reason with a few examples each, a short list of items with failures
 * first, and the path of the full JSONL report. Memory stays constant per item: only counters
 * and capped lists are kept.
 */
import { z } from 'zod';

import type { Finding, ItemOutcome } from './types.js';

/** Items listed in a summary; the report file has every item. */
export const MAX_LISTED_ITEMS = 50;

/** Example items per failure reason. */
export const MAX_EXAMPLES_PER_REASON = 5;

/** Upper bound of the JSON length of a whole tool result, structured content and text together, so that it stays readable. */
export const MAX_RESULT_CHARS = 40_000;

/**
 * Characters of a tool result kept for its text block and the JSON around it. The upload text
 * repeats the job id, group UUID, error, top reasons and report path, whose caps add up to about 4,700.
 */
const TEXT_RESERVE_CHARS = 5_000;

/** Upper bound of `JSON.stringify(summary).length`: the result's bound less the text's reserve. */
export const MAX_STRUCTURED_CHARS = MAX_RESULT_CHARS - TEXT_RESERVE_CHARS;

/**
 * Upper bound of the JSON length of a result's text block; every tool's text is cut to it. The
 * rest of the reserve covers the JSON around the text and the structured content.
 */
export const MAX_TEXT_JSON_CHARS = TEXT_RESERVE_CHARS - 200;

/** Failure reasons listed in a summary, the most frequent first. */
export const MAX_LISTED_REASONS = 20;

/** Distinct failure reasons counted separately; further ones are counted under `other`. */
export const MAX_TRACKED_REASONS = 200;

/** Findings kept per item in the summary (the report file keeps all the validation returned). */
export const MAX_FINDINGS_PER_LISTED_ITEM = 3;

const OVERFLOW_REASON = 'other';

/** JSON lengths of the strings of one listed item; chosen so that 50 typical items fit easily. */
const MAX_SOURCE_JSON_CHARS = 240;
const MAX_ERROR_JSON_CHARS = 300;
const MAX_SHORT_JSON_CHARS = 80;
const MAX_POINTER_JSON_CHARS = 160;
const MAX_FINDING_MESSAGE_JSON_CHARS = 240;

/** JSON lengths of the summary's own strings. */
const MAX_REPORT_PATH_JSON_CHARS = 2_000;
const MAX_SUMMARY_ERROR_JSON_CHARS = 1_000;
const MAX_IDENTIFIER_JSON_CHARS = 200;

const ELLIPSIS = '…';

export interface ItemReport {
  /** Origin of the item: `predictions[3]`, `/data/a.json` or `/data/b.jsonl:17`. */
  source: string;
  sceneUuid?: string;
  outcome: ItemOutcome;
  /** The new prediction (`created`) or the one an earlier upload created (`skipped`). */
  predictionUuid?: string;
  /** Status of the last HTTP response for the item, when one arrived. */
  httpStatus?: number;
  /** Stable snake_case cause, such as `rate_limited`, `no_response` or a validation code. */
  reason?: string;
  /** Description of the failure, in a sentence or two. */
  error?: string;
  /** HTTP requests sent for the item, retries included. */
  attempts: number;
  /** The first validation findings (errors first). */
  findings?: Finding[];
  warningCount?: number;
}

export interface OutcomeCounts {
  created: number;
  skipped: number;
  invalid: number;
  failed: number;
  unknown: number;
  pending: number;
  /** The sum of the other counts. */
  total: number;
}

export interface FailureReason {
  reason: string;
  outcome: ItemOutcome;
  count: number;
  examples: ItemReport[];
}

export type UploadStatus = 'completed' | 'running' | 'cancelled' | 'failed';

export interface UploadSummary {
  jobId: string;
  status: UploadStatus;
  predictionGroupUuid: string;
  counts: OutcomeCounts;
  startedAt: string;
  finishedAt?: string;
  durationMs: number;
  itemsPerSecond: number;
  failureReasons: FailureReason[];
  /** Failure reasons left out of `failureReasons` to keep the summary small. The report file has every item. */
  reasonsNotListed: number;
  /** At most MAX_LISTED_ITEMS items, failures (invalid, failed, unknown) first. */
  items: ItemReport[];
  itemsNotListed: number;
  reportPath: string;
  /** Reason a failed upload stopped. */
  error?: string;
}

const outcomeSchema = z.enum(['created', 'skipped', 'invalid', 'failed', 'unknown', 'pending']);

const findingSchema = z.object({
  pointer: z.string().describe('JSON pointer into the item, such as /openlabel/frames/0'),
  code: z.string(),
  severity: z.enum(['error', 'warning']),
  message: z.string(),
});

export const itemReportSchema = z.object({
  source: z.string().describe('Where the item came from: predictions[i], a file, or file:line'),
  sceneUuid: z.string().optional(),
  outcome: outcomeSchema,
  predictionUuid: z.string().optional().describe('The prediction created now (created) or by an earlier upload (skipped)'),
  httpStatus: z.number().int().optional(),
  reason: z.string().optional(),
  error: z.string().optional(),
  attempts: z.number().int().describe('HTTP requests sent for the item, retries included'),
  findings: z.array(findingSchema).optional(),
  warningCount: z.number().int().optional(),
});

export const uploadSummarySchema = z.object({
  jobId: z.string(),
  status: z.enum(['completed', 'running', 'cancelled', 'failed']),
  predictionGroupUuid: z.string(),
  counts: z.object({
    created: z.number().int(),
    skipped: z.number().int(),
    invalid: z.number().int(),
    failed: z.number().int(),
    unknown: z.number().int(),
    pending: z.number().int(),
    total: z.number().int(),
  }),
  startedAt: z.string(),
  finishedAt: z.string().optional(),
  durationMs: z.number(),
  itemsPerSecond: z.number(),
  failureReasons: z.array(
    z.object({ reason: z.string(), outcome: outcomeSchema, count: z.number().int(), examples: z.array(itemReportSchema) }),
  ),
  reasonsNotListed: z.number().int().describe('Failure reasons left out of failureReasons to keep the result small. The report file lists every item.'),
  items: z.array(itemReportSchema).describe('Failures first; the report file lists every item'),
  itemsNotListed: z.number().int(),
  reportPath: z.string().describe('JSONL file with one line per item'),
  error: z.string().optional(),
});

// A compile-time check that the schema and the interface describe the same object.
type Same<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const schemaMatchesInterface: Same<z.infer<typeof uploadSummarySchema>, UploadSummary> = true;
void schemaMatchesInterface;

export function isFailureOutcome(outcome: ItemOutcome): boolean {
  return outcome === 'invalid' || outcome === 'failed' || outcome === 'unknown';
}

/** How much of the collected detail one rendering of the summary includes. */
interface DetailLevel {
  items: number;
  examplesPerReason: number;
  reasons: number;
}

/** Tried in order until the summary fits in MAX_STRUCTURED_CHARS. */
const DETAIL_LEVELS: readonly DetailLevel[] = [
  { items: MAX_LISTED_ITEMS, examplesPerReason: MAX_EXAMPLES_PER_REASON, reasons: MAX_LISTED_REASONS },
  { items: MAX_LISTED_ITEMS, examplesPerReason: 2, reasons: MAX_LISTED_REASONS },
  { items: 25, examplesPerReason: 1, reasons: MAX_LISTED_REASONS },
  { items: 10, examplesPerReason: 1, reasons: 10 },
  { items: 5, examplesPerReason: 0, reasons: 10 },
  { items: 0, examplesPerReason: 0, reasons: 5 },
  { items: 0, examplesPerReason: 0, reasons: 0 },
];

export interface SummaryState {
  status: UploadStatus;
  startedAt: Date;
  finishedAt?: Date;
  /** Time of the snapshot, in ms since the epoch. */
  now: number;
  /** Items counted as pending that were never passed to `add` (not read, or still in progress). */
  unreportedPending: number;
  error?: string;
}

/** Accumulates item reports and renders summaries from them at any moment. */
export class UploadSummaryBuilder {
  private readonly reportedCounts: Omit<OutcomeCounts, 'total'> = { created: 0, skipped: 0, invalid: 0, failed: 0, unknown: 0, pending: 0 };
  private readonly reasons = new Map<string, FailureReason>();
  private readonly listedFailures: ItemReport[] = [];
  private readonly listedOthers: ItemReport[] = [];

  constructor(
    readonly jobId: string,
    readonly predictionGroupUuid: string,
    readonly reportPath: string,
  ) {}

  /** Items passed to `add` so far. */
  get reportedCount(): number {
    const { created, skipped, invalid, failed, unknown, pending } = this.reportedCounts;
    return created + skipped + invalid + failed + unknown + pending;
  }

  add(report: ItemReport): void {
    this.reportedCounts[report.outcome] += 1;

    if (!isFailureOutcome(report.outcome)) {
      if (this.listedOthers.length < MAX_LISTED_ITEMS) {
        this.listedOthers.push(compactItemReport(report));
      }
      return;
    }

    if (this.listedFailures.length < MAX_LISTED_ITEMS) {
      this.listedFailures.push(compactItemReport(report));
    }

    const group = this.reasonGroup(report.outcome, report.reason ?? report.outcome);
    group.count += 1;
    if (group.examples.length < MAX_EXAMPLES_PER_REASON) {
      group.examples.push(compactItemReport(report));
    }
  }

  /** Returns the counts, with `unreportedPending` more items pending than were added. */
  counts(unreportedPending: number): OutcomeCounts {
    const counts: OutcomeCounts = { ...this.reportedCounts, total: 0 };
    counts.pending += unreportedPending;
    counts.total = counts.created + counts.skipped + counts.invalid + counts.failed + counts.unknown + counts.pending;
    return counts;
  }

  build(state: SummaryState): UploadSummary {
    const counts = this.counts(state.unreportedPending);

    const end = state.finishedAt?.getTime() ?? state.now;
    const durationMs = Math.max(0, end - state.startedAt.getTime());
    const finishedItems = counts.total - counts.pending;
    const itemsPerSecond = durationMs > 0 ? Math.round((finishedItems / durationMs) * 10_000) / 10 : 0;

    const base: UploadSummary = {
      jobId: cutText(this.jobId, MAX_IDENTIFIER_JSON_CHARS),
      status: state.status,
      predictionGroupUuid: cutText(this.predictionGroupUuid, MAX_IDENTIFIER_JSON_CHARS),
      counts,
      startedAt: state.startedAt.toISOString(),
      ...(state.finishedAt !== undefined ? { finishedAt: state.finishedAt.toISOString() } : {}),
      durationMs,
      itemsPerSecond,
      failureReasons: [],
      reasonsNotListed: this.reasons.size,
      items: [],
      itemsNotListed: counts.total,
      reportPath: cutText(this.reportPath, MAX_REPORT_PATH_JSON_CHARS, 'middle'),
      ...(state.error !== undefined ? { error: cutText(state.error, MAX_SUMMARY_ERROR_JSON_CHARS) } : {}),
    };

    const reasons = [...this.reasons.values()].sort((a, b) => b.count - a.count);
    for (const level of DETAIL_LEVELS) {
      const summary = this.withDetail(base, reasons, level);
      if (JSON.stringify(summary).length < MAX_STRUCTURED_CHARS) {
        return summary;
      }
    }

    // Unreachable with the caps above: the strings of `base` are cut to a few thousand characters.
    return base;
  }

  private withDetail(base: UploadSummary, reasons: FailureReason[], level: DetailLevel): UploadSummary {
    const items = [...this.listedFailures, ...this.listedOthers].slice(0, level.items);
    const listedReasons = reasons.slice(0, level.reasons);
    return {
      ...base,
      failureReasons: listedReasons.map((group) => ({
        ...group,
        examples: group.examples.slice(0, level.examplesPerReason),
      })),
      reasonsNotListed: reasons.length - listedReasons.length,
      items,
      itemsNotListed: base.counts.total - items.length,
    };
  }

  private reasonGroup(outcome: ItemOutcome, reason: string): FailureReason {
    const cutReason = cutText(reason, MAX_SHORT_JSON_CHARS);
    let key = `${outcome}\u0000${cutReason}`;
    let group = this.reasons.get(key);
    if (group !== undefined) {
      return group;
    }

    if (this.reasons.size >= MAX_TRACKED_REASONS) {
      key = `${outcome}\u0000\u0000${OVERFLOW_REASON}`;
      group = this.reasons.get(key);
      if (group !== undefined) {
        return group;
      }
      group = { reason: OVERFLOW_REASON, outcome, count: 0, examples: [] };
    } else {
      group = { reason: cutReason, outcome, count: 0, examples: [] };
    }

    this.reasons.set(key, group);
    return group;
  }
}

/** Returns a copy of a report with every string and list cut to the sizes a summary lists. */
export function compactItemReport(report: ItemReport): ItemReport {
  const compact: ItemReport = {
    source: cutText(report.source, MAX_SOURCE_JSON_CHARS, 'middle'),
    outcome: report.outcome,
    attempts: report.attempts,
  };

  if (report.sceneUuid !== undefined) compact.sceneUuid = cutText(report.sceneUuid, MAX_SHORT_JSON_CHARS);
  if (report.predictionUuid !== undefined) compact.predictionUuid = cutText(report.predictionUuid, MAX_SHORT_JSON_CHARS);
  if (report.httpStatus !== undefined) compact.httpStatus = report.httpStatus;
  if (report.reason !== undefined) compact.reason = cutText(report.reason, MAX_SHORT_JSON_CHARS);
  if (report.error !== undefined) compact.error = cutText(report.error, MAX_ERROR_JSON_CHARS);
  if (report.findings !== undefined && report.findings.length > 0) {
    compact.findings = report.findings.slice(0, MAX_FINDINGS_PER_LISTED_ITEM).map((finding) => ({
      pointer: cutText(finding.pointer, MAX_POINTER_JSON_CHARS, 'middle'),
      code: cutText(finding.code, MAX_SHORT_JSON_CHARS),
      severity: finding.severity,
      message: cutText(finding.message, MAX_FINDING_MESSAGE_JSON_CHARS),
    }));
  }
  if (report.warningCount !== undefined) compact.warningCount = report.warningCount;

  return compact;
}

/**
 * Cuts `text` so that its JSON encoding, quotes included, is at most `maxJsonChars` long, and
 * marks the cut with an ellipsis. `middle` keeps the start and the longer end (for paths, whose
 * end names the file).
 */
export function cutText(text: string, maxJsonChars: number, keep: 'start' | 'middle' = 'start'): string {
  if (text.length + 2 <= maxJsonChars && JSON.stringify(text).length <= maxJsonChars) {
    return text;
  }

  const budget = Math.max(0, maxJsonChars - 2 - ELLIPSIS.length);
  if (keep === 'start') {
    return takeStart(text, budget) + ELLIPSIS;
  }

  const headBudget = Math.floor(budget / 4);
  return takeStart(text, headBudget) + ELLIPSIS + takeEnd(text, budget - headBudget);
}

/**
 * Length of one UTF-16 unit inside a JSON string. Surrogates count as an escape (6) so that a
 * lone one can never push the result over its budget.
 */
function jsonUnitLength(code: number): number {
  if (code === 0x22 || code === 0x5c || code === 0x0a || code === 0x0d || code === 0x09 || code === 0x08 || code === 0x0c) {
    return 2;
  }
  if (code < 0x20 || (code >= 0xd800 && code <= 0xdfff)) {
    return 6;
  }
  return 1;
}

function takeStart(text: string, budget: number): string {
  let used = 0;
  let end = 0;
  while (end < text.length) {
    const length = jsonUnitLength(text.charCodeAt(end));
    if (used + length > budget) {
      break;
    }
    used += length;
    end += 1;
  }

  // Do not end on the first half of a surrogate pair.
  if (end > 0 && isHighSurrogate(text.charCodeAt(end - 1))) {
    end -= 1;
  }
  return text.slice(0, end);
}

function takeEnd(text: string, budget: number): string {
  let used = 0;
  let start = text.length;
  while (start > 0) {
    const length = jsonUnitLength(text.charCodeAt(start - 1));
    if (used + length > budget) {
      break;
    }
    used += length;
    start -= 1;
  }

  // Do not start on the second half of a surrogate pair.
  if (start < text.length && isLowSurrogate(text.charCodeAt(start))) {
    start += 1;
  }
  return text.slice(start);
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}
