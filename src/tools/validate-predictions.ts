import path from 'node:path';

import { z } from 'zod';

import { cutText } from '../predictions/summary.js';
import { MAX_LISTED_VALIDATION_ITEMS, validateEntries, validationReportSchema, type ValidationReport } from '../predictions/validation-report.js';
import { defineTool } from './define.js';
import { openPredictionSource, predictionSourceShape } from './prediction-inputs.js';

/** Finding codes described in the text result; the structured result has more. */
const MAX_CODES_IN_TEXT = 5;

/** JSON length of a repeated path quoted in the text result. */
const MAX_PATH_JSON_CHARS = 200;

export const validatePredictionsTool = defineTool({
  name: 'validate_predictions',
  title: 'Validate OpenLABEL predictions',
  description: [
    'Check OpenLABEL predictions the way upload_predictions checks them before sending, without sending anything.',
    'Checks the OpenLABEL 1.0.0 schema and Kognic prediction rules: bbox, cuboid or image geometry under frames,',
    'a declared stream on every geometry (@lidar for lidar), 10-value cuboids, confidence in [0, 1], timestamps in ms,',
    'and one prediction per scene in the request.',
    'Use it on new prediction files before an upload, and to explain why items were invalid.',
    `Returns counts, findings grouped by code with up to 5 examples each (JSON pointer, code, message), and at most ${MAX_LISTED_VALIDATION_ITEMS} items, invalid first.`,
  ].join('\n'),
  inputSchema: z.object(predictionSourceShape),
  outputSchema: validationReportSchema,
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },

  async handler(args, context, extra) {
    const source = await openPredictionSource(args, context, extra.signal, { countItems: false });
    const repeatedPath = findRepeatedPath(args.paths ?? []);
    const report = await validateEntries(source.entries, {
      signal: extra.signal,
      ...(repeatedPath !== undefined ? { repeatedPath } : {}),
    });
    return { structured: report, text: describeValidationReport(report, repeatedPath) };
  },
});

/**
 * Returns the first path that `paths` lists more than once, or undefined. Spellings that
 * normalize to the same path, such as `a`, `./a` and `a/`, count as the same path. A folder and
 * a file inside it do not, although the file's items are read twice as well.
 */
function findRepeatedPath(paths: readonly string[]): string | undefined {
  const seen = new Set<string>();
  for (const requested of paths) {
    let normalized = path.normalize(requested);
    if (normalized.length > 1 && normalized.endsWith(path.sep)) {
      normalized = normalized.slice(0, -1);
    }
    if (seen.has(normalized)) {
      return requested;
    }
    seen.add(normalized);
  }
  return undefined;
}

/** Writes the few lines a host shows when it ignores structured content. */
export function describeValidationReport(report: ValidationReport, repeatedPath: string | undefined): string {
  const { counts } = report;
  const lines = [`${counts.total} item(s): ${counts.valid} valid, ${counts.validWithWarnings} valid with warnings, ${counts.invalid} invalid.`];
  if (repeatedPath !== undefined) {
    lines.push(
      `paths lists ${JSON.stringify(cutText(repeatedPath, MAX_PATH_JSON_CHARS, 'middle'))} more than once, so its items are read again and reported as duplicate_scene. List each path once.`,
    );
  }

  for (const group of report.findingsByCode.slice(0, MAX_CODES_IN_TEXT)) {
    const example = group.examples[0];
    const detail = example === undefined ? '' : ` For example ${example.source} at ${example.pointer || '/'}: ${example.message}`;
    lines.push(`- ${group.code} (${group.severity}): ${group.itemCount} item(s).${detail}`);
  }

  const listedBeyondText = Math.max(0, report.findingsByCode.length - MAX_CODES_IN_TEXT);
  const codesBeyondText = listedBeyondText + report.codesNotListed;
  if (codesBeyondText > 0) {
    const where =
      report.codesNotListed === 0
        ? 'findingsByCode in the structured result lists them with examples.'
        : `findingsByCode in the structured result lists ${listedBeyondText} of them and leaves out the rest ` +
          'to keep the result small, so validate fewer files at a time to see them.';
    lines.push(`- ${codesBeyondText} more finding code(s) not shown here. ${where}`);
  }
  return lines.join('\n');
}
