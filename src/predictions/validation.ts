/**
 * Checks one prediction before it is uploaded. Each finding carries a JSON pointer, a stable code
 * and one sentence a model can fix the prediction from.
 */
import type { Finding, PredictionItem } from './types.js';

/** Largest prediction accepted, in bytes of UTF-8 JSON text. */
export const MAX_PREDICTION_BYTES = 32 * 1024 * 1024;

/** Findings kept per item; the rest are counted in `omittedFindings`. */
export const MAX_FINDINGS_PER_ITEM = 20;

export interface ValidationResult {
  /** True when no finding has severity `error`. */
  valid: boolean;
  /** At most MAX_FINDINGS_PER_ITEM findings, errors first. */
  findings: Finding[];
  omittedFindings: number;
  /** Totals, including omitted findings. */
  errorCount: number;
  warningCount: number;
  /** The scene UUID in lower case, when the prediction is valid. */
  sceneUuid?: string;
  /** The parsed document, when it parsed. */
  document?: { openlabel: Record<string, unknown> };
  /** The JSON text to send: the original text when the input was text, else `JSON.stringify` of it. */
  documentJson?: string;
}

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function validatePrediction(
  item: Pick<PredictionItem, 'sceneUuid' | 'openlabel' | 'sizeBytes'>,
): ValidationResult {
  const findings: Finding[] = [];

  const sceneUuid = typeof item.sceneUuid === 'string' && UUID_PATTERN.test(item.sceneUuid) ? item.sceneUuid.toLowerCase() : undefined;
  if (sceneUuid === undefined) {
    findings.push({
      pointer: '/sceneUuid',
      code: 'invalid_scene_uuid',
      severity: 'error',
      message: 'The scene UUID is missing or not a UUID; pass the Kognic scene UUID (8-4-4-4-12 hex digits).',
    });
  }

  let parsed: unknown = item.openlabel;
  let documentJson: string | undefined;
  if (typeof parsed === 'string') {
    documentJson = parsed;
    try {
      parsed = JSON.parse(parsed);
    } catch (error) {
      findings.push({ pointer: '', code: 'invalid_json', severity: 'error', message: `The prediction is not valid JSON: ${(error as Error).message}.` });
      parsed = undefined;
    }
  }

  let document: { openlabel: Record<string, unknown> } | undefined;
  if (isPlainObject(parsed) && isPlainObject(parsed.openlabel)) {
    document = parsed as { openlabel: Record<string, unknown> };
    documentJson ??= JSON.stringify(parsed);
  } else if (parsed !== undefined) {
    findings.push({ pointer: '/openlabel', code: 'missing_openlabel', severity: 'error', message: 'The prediction must be an object {"openlabel": {...}}.' });
  }

  const errorCount = findings.length;
  const valid = errorCount === 0;
  return {
    valid,
    findings: findings.slice(0, MAX_FINDINGS_PER_ITEM),
    omittedFindings: Math.max(0, findings.length - MAX_FINDINGS_PER_ITEM),
    errorCount,
    warningCount: 0,
    ...(valid && sceneUuid !== undefined ? { sceneUuid } : {}),
    ...(document !== undefined ? { document } : {}),
    ...(documentJson !== undefined && document !== undefined ? { documentJson } : {}),
  };
}
