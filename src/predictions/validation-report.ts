/**
 * Validation results of many items folded into one report a model can act on: counts, findings
 * grouped by code with a few examples each, and a short list of items with the invalid ones
 * first. Like the upload summary it keeps only counters, capped lists and one number per scene,
 * and its JSON stays under MAX_STRUCTURED_CHARS for any number of items.
 */
import { z } from 'zod';

import { cutText, MAX_STRUCTURED_CHARS } from './summary.js';
import type { Finding, FindingSeverity, SourceEntry } from './types.js';
import { validatePrediction, type ValidationResult } from './validation.js';

export const MAX_LISTED_VALIDATION_ITEMS = 50;
export const MAX_EXAMPLES_PER_CODE = 5;
export const MAX_LISTED_CODES = 30;
export const MAX_FINDINGS_PER_VALIDATION_ITEM = 5;

const MAX_SOURCE_JSON_CHARS = 240;
const MAX_POINTER_JSON_CHARS = 160;
const MAX_MESSAGE_JSON_CHARS = 240;
const MAX_CODE_JSON_CHARS = 80;

export interface FindingExample {
  source: string;
  sceneUuid?: string;
  pointer: string;
  message: string;
}

export interface FindingGroup {
  code: string;
  severity: FindingSeverity;
  /** Findings with this code over all items, omitted findings of an item not included. */
  count: number;
  /** Items with at least one finding of this code. */
  itemCount: number;
  examples: FindingExample[];
}

export interface ValidatedItem {
  source: string;
  sceneUuid?: string;
  valid: boolean;
  errorCount: number;
  warningCount: number;
  findings: Finding[];
}

export interface ValidationReport {
  counts: { valid: number; validWithWarnings: number; invalid: number; total: number };
  findingsByCode: FindingGroup[];
  items: ValidatedItem[];
  itemsNotListed: number;
  /** Finding codes left out of `findingsByCode` to keep the report small. */
  codesNotListed: number;
}

export interface ValidateEntriesOptions {
  signal?: AbortSignal;
  /**
   * A path that the request lists more than once, as the caller wrote it. Its items are read
   * again, so the duplicate_scene message names it as the likely cause.
   */
  repeatedPath?: string;
}

const findingSchema = z.object({
  pointer: z.string().describe('JSON pointer into the item, such as /openlabel/frames/0'),
  code: z.string(),
  severity: z.enum(['error', 'warning']),
  message: z.string(),
});

export const validationReportSchema = z.object({
  counts: z.object({
    valid: z.number().int().describe('Items with no finding at all'),
    validWithWarnings: z.number().int().describe('Items with warnings only; they upload'),
    invalid: z.number().int().describe('Items with at least one error; upload_predictions would not send them'),
    total: z.number().int(),
  }),
  findingsByCode: z.array(
    z.object({
      code: z.string(),
      severity: z.enum(['error', 'warning']),
      count: z.number().int(),
      itemCount: z.number().int(),
      examples: z.array(
        z.object({ source: z.string(), sceneUuid: z.string().optional(), pointer: z.string(), message: z.string() }),
      ),
    }),
  ),
  items: z
    .array(
      z.object({
        source: z.string(),
        sceneUuid: z.string().optional(),
        valid: z.boolean(),
        errorCount: z.number().int(),
        warningCount: z.number().int(),
        findings: z.array(findingSchema),
      }),
    )
    .describe('Invalid items first, then items with warnings, then valid ones'),
  itemsNotListed: z.number().int(),
  codesNotListed: z.number().int().describe('Finding codes left out of findingsByCode to keep the result small'),
});

interface DetailLevel {
  items: number;
  examplesPerCode: number;
  codes: number;
  findingsPerItem: number;
}

/** Tried in order until the report fits in MAX_STRUCTURED_CHARS. */
const DETAIL_LEVELS: readonly DetailLevel[] = [
  { items: MAX_LISTED_VALIDATION_ITEMS, examplesPerCode: MAX_EXAMPLES_PER_CODE, codes: MAX_LISTED_CODES, findingsPerItem: MAX_FINDINGS_PER_VALIDATION_ITEM },
  { items: MAX_LISTED_VALIDATION_ITEMS, examplesPerCode: 2, codes: MAX_LISTED_CODES, findingsPerItem: 2 },
  { items: 25, examplesPerCode: 1, codes: MAX_LISTED_CODES, findingsPerItem: 1 },
  { items: 10, examplesPerCode: 1, codes: 15, findingsPerItem: 1 },
  { items: 0, examplesPerCode: 0, codes: 10, findingsPerItem: 0 },
];

function compactFinding(finding: Finding): Finding {
  return {
    pointer: cutText(finding.pointer, MAX_POINTER_JSON_CHARS, 'middle'),
    code: cutText(finding.code, MAX_CODE_JSON_CHARS),
    severity: finding.severity,
    message: cutText(finding.message, MAX_MESSAGE_JSON_CHARS),
  };
}

/** Accumulates validation results and renders the capped report. */
export class ValidationReportBuilder {
  private readonly counts = { valid: 0, validWithWarnings: 0, invalid: 0 };
  private readonly groups = new Map<string, FindingGroup>();
  private readonly listed = { invalid: [] as ValidatedItem[], warned: [] as ValidatedItem[], clean: [] as ValidatedItem[] };

  add(source: string, sceneUuid: string | undefined, result: Pick<ValidationResult, 'valid' | 'findings' | 'errorCount' | 'warningCount'>): void {
    if (!result.valid) {
      this.counts.invalid += 1;
    } else if (result.warningCount > 0) {
      this.counts.validWithWarnings += 1;
    } else {
      this.counts.valid += 1;
    }

    const item: ValidatedItem = {
      source: cutText(source, MAX_SOURCE_JSON_CHARS, 'middle'),
      ...(sceneUuid !== undefined ? { sceneUuid: cutText(sceneUuid, MAX_CODE_JSON_CHARS) } : {}),
      valid: result.valid,
      errorCount: result.errorCount,
      warningCount: result.warningCount,
      findings: result.findings.slice(0, MAX_FINDINGS_PER_VALIDATION_ITEM).map(compactFinding),
    };
    let list = this.listed.clean;
    if (!result.valid) {
      list = this.listed.invalid;
    } else if (result.warningCount > 0) {
      list = this.listed.warned;
    }
    if (list.length < MAX_LISTED_VALIDATION_ITEMS) {
      list.push(item);
    }

    const codesSeen = new Set<string>();
    for (const finding of result.findings) {
      this.addFinding(finding, item, !codesSeen.has(finding.code));
      codesSeen.add(finding.code);
    }
  }

  build(): ValidationReport {
    const total = this.counts.valid + this.counts.validWithWarnings + this.counts.invalid;
    // Errors before warnings, then the codes that affect the most items first.
    const severityRank = (group: FindingGroup): number => (group.severity === 'error' ? 0 : 1);
    const groups = [...this.groups.values()].sort(
      (a, b) => severityRank(a) - severityRank(b) || b.itemCount - a.itemCount,
    );
    const allItems = [...this.listed.invalid, ...this.listed.warned, ...this.listed.clean];

    let report: ValidationReport | undefined;
    for (const level of DETAIL_LEVELS) {
      const items = allItems.slice(0, level.items).map((item) => ({ ...item, findings: item.findings.slice(0, level.findingsPerItem) }));
      report = {
        counts: { ...this.counts, total },
        findingsByCode: groups.slice(0, level.codes).map((group) => ({ ...group, examples: group.examples.slice(0, level.examplesPerCode) })),
        items,
        itemsNotListed: total - items.length,
        codesNotListed: Math.max(0, groups.length - level.codes),
      };
      if (JSON.stringify(report).length < MAX_STRUCTURED_CHARS) {
        break;
      }
    }
    return report!;
  }

  private addFinding(finding: Finding, item: ValidatedItem, firstOfItem: boolean): void {
    let group = this.groups.get(finding.code);
    if (group === undefined) {
      group = { code: cutText(finding.code, MAX_CODE_JSON_CHARS), severity: finding.severity, count: 0, itemCount: 0, examples: [] };
      this.groups.set(finding.code, group);
    }

    group.count += 1;
    if (firstOfItem) {
      group.itemCount += 1;
      if (group.examples.length < MAX_EXAMPLES_PER_CODE) {
        const compact = compactFinding(finding);
        group.examples.push({
          source: item.source,
          ...(item.sceneUuid !== undefined ? { sceneUuid: item.sceneUuid } : {}),
          pointer: compact.pointer,
          message: compact.message,
        });
      }
    }
  }
}

/**
 * Validates every entry of a source stream, and reports the second and later valid items of a
 * scene as `duplicate_scene` errors, as an upload does. Stops early when `signal` aborts.
 */
export async function validateEntries(entries: AsyncIterable<SourceEntry>, options: ValidateEntriesOptions = {}): Promise<ValidationReport> {
  const { signal } = options;
  const builder = new ValidationReportBuilder();
  const duplicates = new DuplicateSceneCheck(options.repeatedPath);

  for await (const entry of entries) {
    signal?.throwIfAborted();

    if (entry.kind === 'problem') {
      const { problem } = entry;
      builder.add(problem.source, problem.sceneUuid, {
        valid: false,
        errorCount: 1,
        warningCount: 0,
        findings: [{ pointer: '', code: problem.code, severity: 'error', message: problem.message }],
      });
      continue;
    }

    const result = duplicates.check(entry.item.index, entry.item.source, validatePrediction(entry.item));
    const sceneUuid = typeof entry.item.sceneUuid === 'string' ? entry.item.sceneUuid : undefined;
    builder.add(entry.item.source, sceneUuid, result);
  }

  return builder.build();
}

/** Characters of a repeated path quoted in a duplicate_scene message, so that the message stays whole in the report. */
const MAX_REPEATED_PATH_JSON_CHARS = 60;

/**
 * Finds the scenes that an earlier item of the request already has. It follows the rule of the
 * upload's admission, so the first valid item of a scene keeps it and invalid items claim none.
 */
class DuplicateSceneCheck {
  /**
   * Index of the first valid item of every scene. It keeps a number rather than the item's
   * source, because the map grows by one entry per valid item and requests can have 100,000.
   */
  private readonly firstIndexByScene = new Map<string, number>();

  /**
   * Source of the first valid item of every scene, kept only when a path is listed twice: an item
   * whose source is the same as its scene's first item was read again through that path.
   */
  private readonly firstSourceByScene: Map<string, string> | undefined;

  constructor(private readonly repeatedPath: string | undefined) {
    this.firstSourceByScene = repeatedPath === undefined ? undefined : new Map();
  }

  /** Returns `result` unchanged, or made invalid by a duplicate_scene error when the scene came earlier. */
  check(index: number, source: string, result: ValidationResult): ValidationResult {
    const { sceneUuid } = result;
    if (!result.valid || sceneUuid === undefined) {
      return result;
    }

    const firstIndex = this.firstIndexByScene.get(sceneUuid);
    if (firstIndex === undefined) {
      this.firstIndexByScene.set(sceneUuid, index);
      this.firstSourceByScene?.set(sceneUuid, source);
      return result;
    }

    const readAgain = this.firstSourceByScene?.get(sceneUuid) === source;
    const duplicate: Finding = {
      pointer: '/sceneUuid',
      code: 'duplicate_scene',
      severity: 'error',
      message: this.message(sceneUuid, firstIndex, readAgain),
    };
    return { ...result, valid: false, errorCount: result.errorCount + 1, findings: [duplicate, ...result.findings] };
  }

  private message(sceneUuid: string, firstIndex: number, readAgain: boolean): string {
    const earlier = `Scene ${sceneUuid} already has a prediction at item index ${firstIndex}`;
    if (this.repeatedPath === undefined || !readAgain) {
      return `${earlier} of this request, counting from 0. upload_predictions takes one prediction per scene and rejects the later ones, so remove one of them.`;
    }
    const quoted = JSON.stringify(cutText(this.repeatedPath, MAX_REPEATED_PATH_JSON_CHARS, 'middle'));
    return `${earlier}. paths lists ${quoted} more than once, which reads its items again, so list each path once.`;
  }
}
