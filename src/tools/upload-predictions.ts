import { z } from 'zod';

import { uploadSummarySchema, MAX_LISTED_ITEMS } from '../predictions/summary.js';
import { MAX_UPLOAD_CONNECTIONS } from '../predictions/uploader.js';
import { defineTool } from './define.js';
import { booleanInput, integerInput, uuidInput } from './input.js';
import { openPredictionSource, predictionSourceShape } from './prediction-inputs.js';
import { waitForUpload } from './upload-progress.js';

/**
 * How long a call waits for its upload before returning a `running` summary. Many MCP hosts
 * cancel a tool call after about 60 s, so the maximum stays below that.
 */
export const DEFAULT_WAIT_SECONDS = 45;
export const MAX_WAIT_SECONDS = 55;

export const uploadPredictionsTool = defineTool({
  name: 'upload_predictions',
  title: 'Upload predictions to a prediction group',
  description: [
    'Upload OpenLABEL predictions (one per scene) into a Kognic prediction group, from inline items or from .json/.jsonl files and folders.',
    `Every item is validated first (invalid ones are never sent), and at most ${MAX_UPLOAD_CONNECTIONS} requests run at once, the API's limit.`,
    'Scenes that an earlier upload to the same group created are skipped, so rerunning after a failure is safe; force: true uploads them again.',
    'Returns when the upload ends or after waitSeconds; then status is "running" and the upload continues: poll get_upload_job with the jobId.',
    `The summary has counts by outcome, failures grouped by reason with examples, at most ${MAX_LISTED_ITEMS} items (failures first) and the path of a JSONL report with every item.`,
  ].join('\n'),
  inputSchema: z.object({
    predictionGroupUuid: uuidInput('prediction group', 'list_prediction_groups or create_prediction_group return it'),
    ...predictionSourceShape,
    force: booleanInput()
      .default(false)
      .describe('Upload again scenes that an earlier upload created, or sent without a recorded answer. Creates duplicates on purpose.'),
    resendUnknown: booleanInput()
      .default(false)
      .describe(
        'Upload again only the scenes whose earlier request got no answer (outcome unknown); created scenes stay skipped. ' +
          'Check in Kognic first that they are missing, or they get a second prediction.',
      ),
    maxConnections: integerInput(
      1,
      MAX_UPLOAD_CONNECTIONS,
      `the Kognic dataset API allows at most ${MAX_UPLOAD_CONNECTIONS} concurrent connections`,
    )
      .default(MAX_UPLOAD_CONNECTIONS)
      .describe(`Concurrent requests, 1 to ${MAX_UPLOAD_CONNECTIONS} (the API's limit; default ${MAX_UPLOAD_CONNECTIONS}).`),
    waitSeconds: integerInput(0, MAX_WAIT_SECONDS)
      .default(DEFAULT_WAIT_SECONDS)
      .describe(`Seconds to wait for the upload before returning a running summary (0 to ${MAX_WAIT_SECONDS}, default ${DEFAULT_WAIT_SECONDS}).`),
  }),
  outputSchema: uploadSummarySchema,
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },

  async handler(args, context, extra) {
    const jobs = context.jobs();
    const uploadAbort = new AbortController();
    const source = await openPredictionSource(args, context, uploadAbort.signal, { countItems: true });

    const upload = jobs.start({
      groupUuid: args.predictionGroupUuid.toLowerCase(),
      entries: source.entries,
      maxConnections: args.maxConnections,
      force: args.force,
      resendUnknown: args.resendUnknown,
    });
    void upload.done.then(() => uploadAbort.abort());
    void source.total.then((total) => {
      if (total !== undefined) {
        upload.setTotalHint(total);
      }
    });

    // Cancelling the call cancels the upload, but only while the call is open: once it returns
    // `running`, the upload belongs to its job.
    const cancelOnAbort = (): void => upload.cancel('the client cancelled the tool call');
    extra.signal.addEventListener('abort', cancelOnAbort, { once: true });
    try {
      return await waitForUpload(jobs, upload, args.waitSeconds, extra);
    } finally {
      extra.signal.removeEventListener('abort', cancelOnAbort);
    }
  },
});
