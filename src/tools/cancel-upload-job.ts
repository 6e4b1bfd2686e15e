import { z } from 'zod';

import { uploadSummarySchema } from '../predictions/summary.js';
import { defineTool } from './define.js';
import { findJob, jobIdInput } from './get-upload-job.js';
import { describeUploadSummary } from './upload-summary-text.js';

export const cancelUploadJobTool = defineTool({
  name: 'cancel_upload_job',
  title: 'Cancel an upload job',
  description: [
    'Stop an upload job: no new item is sent and requests in flight are aborted. Items already created stay created.',
    'Items whose request was in flight are reported as unknown; a later upload_predictions skips what was created.',
    'Returns the final summary of the job. Cancelling a finished job returns its summary unchanged.',
  ].join('\n'),
  inputSchema: z.object({ jobId: jobIdInput }),
  outputSchema: uploadSummarySchema,
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },

  async handler(args, context) {
    const jobs = context.jobs();
    findJob(jobs, args.jobId, context.config.stateDir);

    const summary = await jobs.cancel(args.jobId);
    context.logger.info('upload job cancelled by request', { jobId: args.jobId });
    return { structured: summary, text: describeUploadSummary(summary) };
  },
});
