import { z } from 'zod';

import { MAX_LISTED_VALIDATION_ITEMS, validateEntries, validationReportSchema } from '../predictions/validation-report.js';
import { defineTool } from './define.js';
import { openPredictionSource, predictionSourceShape } from './prediction-inputs.js';

/** Finding codes described in the text result; the structured result has more. */
const MAX_CODES_IN_TEXT = 5;

export const validatePredictionsTool = defineTool({
  name: 'validate_predictions',
  title: 'Validate OpenLABEL predictions',
  description: [
    'Check OpenLABEL predictions the way upload_predictions checks them before sending, without sending anything.',
    'Checks the OpenLABEL 1.0.0 schema and Kognic prediction rules: bbox, cuboid or image geometry under frames,',
    'a declared stream on every geometry (@lidar for lidar), 10-value cuboids, confidence in [0, 1], timestamps in ms.',
    'Use it on new prediction files before an upload, and to explain why items were invalid.',
    `Returns counts, findings grouped by code with up to 5 examples each (JSON pointer, code, message), and at most ${MAX_LISTED_VALIDATION_ITEMS} items, invalid first.`,
  ].join('\n'),
  inputSchema: z.object(predictionSourceShape),
  outputSchema: validationReportSchema,
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },

  async handler(args, context, extra) {
    const source = await openPredictionSource(args, context, extra.signal, { countItems: false });
    const report = await validateEntries(source.entries, extra.signal);

    const { counts } = report;
    const lines = [`${counts.total} item(s): ${counts.valid} valid, ${counts.validWithWarnings} valid with warnings, ${counts.invalid} invalid.`];
    for (const group of report.findingsByCode.slice(0, MAX_CODES_IN_TEXT)) {
      const example = group.examples[0];
      const detail = example === undefined ? '' : ` For example ${example.source} at ${example.pointer || '/'}: ${example.message}`;
      lines.push(`- ${group.code} (${group.severity}): ${group.itemCount} item(s).${detail}`);
    }
    return { structured: report, text: lines.join('\n') };
  },
});
