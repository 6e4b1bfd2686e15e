/**
 * Checks one prediction before it is uploaded: the scene UUID, the size, the JSON syntax, the
 * official OpenLABEL 1.0.0 schema and Kognic's own prediction rules. Each finding carries a JSON
 * pointer, a stable code from FINDING_CODES and one sentence a model can fix the prediction from.
 */
import type { Finding, PredictionItem } from './types.js';
import { FindingList, isPlainObject, quote } from './validation/findings.js';
import { addKognicFindings } from './validation/rules.js';
import { addSchemaFindings } from './validation/schema.js';

export { FINDING_CODES, type FindingCode } from './validation/codes.js';

/**
 * Maximum size of one prediction, in bytes of UTF-8 JSON text. 32 MiB fits a short sequence of
 * full-resolution segmentation bitmaps (an 8-bit 3840x2160 PNG is at most about 8.3 MB, 11 MB as
 * base64), and ten uploads in flight keep at most 320 MiB of text in memory. Files on disk may be
 * larger than the 10 MiB that one MCP stdio message can carry, so the limit is above that.
 */
// NOTE: Kognic does not document a size limit for predictions; it may reject smaller ones.
export const MAX_PREDICTION_BYTES = 32 * 1024 * 1024;

/** Findings kept per item; the rest are only counted, in `omittedFindings`. */
export const MAX_FINDINGS_PER_ITEM = 20;

export interface ValidationResult {
  /** True when no finding has severity `error`. */
  valid: boolean;
  /** At most MAX_FINDINGS_PER_ITEM findings, errors first. */
  findings: Finding[];
  /** Number of findings left out of `findings` by the cap. */
  omittedFindings: number;
  /** Number of errors, including omitted ones. */
  errorCount: number;
  /** Number of warnings, including omitted ones. */
  warningCount: number;
  /** The scene UUID in lower case, present whenever the scene UUID itself is valid. */
  sceneUuid?: string;
  /** The parsed document, present whenever it parsed into `{"openlabel": {...}}`. */
  document?: { openlabel: Record<string, unknown> };
  /** The JSON text to send with `document`: the original text when the input was text, else `JSON.stringify` of it. */
  documentJson?: string;
}

/** Any UUID version; Kognic's scene UUIDs are not restricted to one. */
const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Characters shown on each side of the position of a JSON syntax error. */
const JSON_CONTEXT_CHARS = 15;

interface ParsedDocument {
  document: { openlabel: Record<string, unknown> };
  /** Undefined when it is to be written out on first use. */
  documentJson: string | undefined;
}

/**
 * Validates one prediction without sending anything. Bad input of any shape becomes findings;
 * the only exception is a ConfigurationError when the bundled schema file cannot be read.
 */
export function validatePrediction(item: Pick<PredictionItem, 'sceneUuid' | 'openlabel' | 'sizeBytes'>): ValidationResult {
  const findings = new FindingList();

  const sceneUuid = checkSceneUuid(item.sceneUuid, findings);
  const parsed = parseDocument(item, findings);
  if (parsed !== undefined) {
    addKognicFindings(parsed.document.openlabel, findings);
    addSchemaFindings(parsed.document, findings);
  }

  return buildResult(findings, sceneUuid, parsed);
}

function checkSceneUuid(value: unknown, findings: FindingList): string | undefined {
  if (typeof value === 'string' && UUID_PATTERN.test(value)) {
    return value.toLowerCase();
  }

  const problem = value === undefined ? 'is missing' : `${quote(value)} is not a UUID`;
  findings.error('/sceneUuid', 'invalid_scene_uuid', `The scene UUID ${problem}; pass the Kognic scene UUID (8-4-4-4-12 hex digits).`);
  return undefined;
}

function tooLargeMessage(bytes: number): string {
  return `The prediction is ${bytes} bytes, above the limit of ${MAX_PREDICTION_BYTES} bytes; split its frames over smaller predictions.`;
}

/** Parses text input once, checks the size and the `{"openlabel": {...}}` wrapper. */
function parseDocument(item: Pick<PredictionItem, 'openlabel' | 'sizeBytes'>, findings: FindingList): ParsedDocument | undefined {
  const input = item.openlabel;

  let value: unknown = input;
  let documentJson: string | undefined;
  if (typeof input === 'string') {
    const bytes = item.sizeBytes ?? Buffer.byteLength(input, 'utf8');
    if (bytes > MAX_PREDICTION_BYTES) {
      findings.error('', 'prediction_too_large', tooLargeMessage(bytes));
      return undefined;
    }

    try {
      value = JSON.parse(input);
    } catch (error) {
      findings.error('', 'invalid_json', describeJsonError(input, error as Error));
      return undefined;
    }
    documentJson = input;
  } else if (item.sizeBytes !== undefined && item.sizeBytes > MAX_PREDICTION_BYTES) {
    findings.error('', 'prediction_too_large', tooLargeMessage(item.sizeBytes));
    return undefined;
  }

  if (!isPlainObject(value) || !isPlainObject(value.openlabel)) {
    const found = isPlainObject(value) ? `an object with keys ${quote(Object.keys(value).join(', '))}` : quote(value);
    const message =
      value === undefined
        ? 'The item has no prediction; give the document as {"openlabel": {...}} in the item\'s openlabel field.'
        : `The prediction is ${found}; give the document as {"openlabel": {...}}.`;
    findings.error('', 'missing_openlabel_wrapper', message);
    return undefined;
  }

  // An object whose size the source already measured (a JSONL line) is written out only when
  // the result's documentJson is read, so validation alone does not pay for JSON.stringify.
  if (documentJson === undefined && item.sizeBytes === undefined) {
    try {
      documentJson = JSON.stringify(value);
    } catch (error) {
      findings.error('', 'invalid_json', `The prediction cannot be written as JSON: ${(error as Error).message}; pass plain JSON data.`);
      return undefined;
    }

    const bytes = Buffer.byteLength(documentJson, 'utf8');
    if (bytes > MAX_PREDICTION_BYTES) {
      findings.error('', 'prediction_too_large', tooLargeMessage(bytes));
      return undefined;
    }
  }

  return { document: value as ParsedDocument['document'], documentJson };
}

/** Describes a JSON.parse failure with the text around the position the engine reports. */
function describeJsonError(text: string, error: Error): string {
  const reason = error.message.replace(/\s*\(line \d+ column \d+\)/, '');
  const position = /at position (\d+)/.exec(reason);
  if (position === null) {
    return `The prediction is not valid JSON (${reason}); send strict JSON with no comments or trailing commas.`;
  }

  const offset = Number(position[1]);
  const context = text.slice(Math.max(0, offset - JSON_CONTEXT_CHARS), offset + JSON_CONTEXT_CHARS);
  return `The prediction is not valid JSON (${reason}, near ${JSON.stringify(context)}); remove comments and trailing commas.`;
}

function buildResult(findings: FindingList, sceneUuid: string | undefined, parsed: ParsedDocument | undefined): ValidationResult {
  const sorted = findings.sorted();
  let errorCount = 0;
  for (const finding of sorted) {
    if (finding.severity === 'error') {
      errorCount++;
    }
  }

  const result = new PredictionValidation(
    errorCount === 0,
    sorted.slice(0, MAX_FINDINGS_PER_ITEM),
    Math.max(0, sorted.length - MAX_FINDINGS_PER_ITEM),
    errorCount,
    sorted.length - errorCount,
    parsed?.documentJson,
  );
  if (sceneUuid !== undefined) {
    result.sceneUuid = sceneUuid;
  }
  if (parsed !== undefined) {
    result.document = parsed.document;
  }
  return result;
}

/**
 * A validation result whose `documentJson` is written out from `document` on first read. The
 * getter is defined on the class, because a getter closure defined on each result gives each one
 * a hidden class of its own. That kept every parsed document alive until the next full garbage
 * collection, and a third of an upload's allocations then survived into the old generation.
 */
class PredictionValidation implements ValidationResult {
  declare sceneUuid?: string;
  declare document?: { openlabel: Record<string, unknown> };
  #documentJson: string | undefined;

  constructor(
    readonly valid: boolean,
    readonly findings: Finding[],
    readonly omittedFindings: number,
    readonly errorCount: number,
    readonly warningCount: number,
    documentJson: string | undefined,
  ) {
    this.#documentJson = documentJson;
  }

  get documentJson(): string | undefined {
    if (this.#documentJson === undefined && this.document !== undefined) {
      this.#documentJson = JSON.stringify(this.document);
    }
    return this.#documentJson;
  }
}
