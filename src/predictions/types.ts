/** Types shared by the item sources, the validation, the uploader and the summary. */

/**
 * One prediction as read from a source, before validation. Nothing here is trusted yet:
 * `sceneUuid` may be missing or malformed, and `openlabel` may be an object, JSON text, or
 * anything else the caller sent.
 */
export interface PredictionItem {
  /** Position of the item in the whole request, counting from 0, in source order. */
  index: number;
  /** Where the item came from: `predictions[3]`, `/data/a.json` or `/data/b.jsonl:17`. */
  source: string;
  sceneUuid: unknown;
  /** The OpenLABEL document `{"openlabel": {...}}`, parsed, or as JSON text. */
  openlabel: unknown;
  /** Size in bytes of the item's text in its source, when known; checked before parsing. */
  sizeBytes?: number;
}

/**
 * A source entry that yields no item: a path outside the allowed roots, a missing file, a file
 * or line that is not JSON. It is reported as an `invalid` item so that every input is accounted for.
 */
export interface SourceProblem {
  index: number;
  source: string;
  /** The scene UUID, when it could still be read (for example from the file name). */
  sceneUuid?: string;
  code: string;
  message: string;
}

export type SourceEntry = { kind: 'item'; item: PredictionItem } | { kind: 'problem'; problem: SourceProblem };

export type FindingSeverity = 'error' | 'warning';

/** One validation finding, written so that a model can fix the prediction from it. */
export interface Finding {
  /** JSON pointer (RFC 6901) into the item, for example `/openlabel/frames/0/frame_properties`. */
  pointer: string;
  /** Stable identifier, such as `unsupported_geometry`; tests and users rely on it. */
  code: string;
  severity: FindingSeverity;
  message: string;
}

export type ItemOutcome = 'created' | 'skipped' | 'invalid' | 'failed' | 'unknown' | 'pending';
