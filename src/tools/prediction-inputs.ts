/** Input fields shared by validate_predictions and upload_predictions, and their item source. */
import { z } from 'zod';

import type { ServerContext } from '../context.js';
import { UserInputError } from '../errors.js';
import { countSourceItems, readSourceEntries, type SourceRequest } from '../predictions/sources.js';
import type { SourceEntry } from '../predictions/types.js';
import { arrayInput, booleanInput } from './input.js';

// Both fields are optional here, so that a missing one is reported for its item, with the
// expected shape, instead of rejecting the whole call with one line per item.
const inlinePredictionSchema = z.object({
  sceneUuid: z
    .string({ error: (issue) => `expected the scene UUID as a string, got ${issue.input === null ? 'null' : typeof issue.input}` })
    .optional()
    .describe('UUID of the Kognic scene the prediction belongs to. Required.'),
  openlabel: z
    .unknown()
    .optional()
    .describe('The OpenLABEL document {"openlabel": {...}}, as an object or as its JSON text. Required.'),
});

export const predictionSourceShape = {
  predictions: arrayInput(inlinePredictionSchema)
    .optional()
    .describe('Predictions given inline, for a few items: [{sceneUuid, openlabel}]. Use paths for many.'),
  paths: arrayInput(z.string())
    .optional()
    .describe(
      'Files and folders inside the allowed roots. A .json file is one prediction, either {"sceneUuid", "openlabel"} ' +
        'or a bare {"openlabel": ...} named <sceneUuid>.json; a .jsonl file has one {"sceneUuid", "openlabel"} per line; ' +
        'a folder contributes its .json and .jsonl files in name order. Relative paths resolve against the first root.',
    ),
  recursive: booleanInput().default(false).describe('Also read the sub-folders of folders given in paths.'),
};

export interface PredictionSourceArgs {
  predictions?: Array<{ sceneUuid?: string | undefined; openlabel?: unknown }> | undefined;
  paths?: string[] | undefined;
  recursive: boolean;
}

export interface OpenedSource {
  entries: AsyncIterable<SourceEntry>;
  /** Number of items, counted beside the reading when requested; undefined when it cannot be counted. */
  total: Promise<number | undefined>;
}

/** Opens the items named by a tool call as one lazy stream, checking that it names at least one. */
export async function openPredictionSource(
  args: PredictionSourceArgs,
  context: ServerContext,
  signal: AbortSignal,
  options: { countItems: boolean },
): Promise<OpenedSource> {
  const predictions = args.predictions ?? [];
  const paths = args.paths ?? [];
  if (predictions.length === 0 && paths.length === 0) {
    throw new UserInputError(
      'Nothing to read: pass `predictions` (inline items) or `paths` (files or folders with .json or .jsonl predictions).',
    );
  }

  const roots = paths.length > 0 ? await context.allowedRoots() : undefined;
  const request: SourceRequest = { predictions, paths, recursive: args.recursive };
  const total = options.countItems
    ? countSourceItems(request, roots, { signal }).catch(() => undefined)
    : Promise.resolve(undefined);

  return { entries: readSourceEntries(request, roots, { signal }), total };
}
