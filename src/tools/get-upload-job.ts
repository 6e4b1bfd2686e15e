import { z } from 'zod';

import { UserInputError } from '../errors.js';
import { uploadSummarySchema } from '../predictions/summary.js';
import type { UploadJobs } from '../predictions/jobs.js';
import { MAX_JOB_ID_LENGTH, type Upload } from '../predictions/uploader.js';
import { defineTool } from './define.js';
import { integerInput, quoteInput } from './input.js';
import { waitForUpload } from './upload-progress.js';
import { MAX_WAIT_SECONDS } from './upload-predictions.js';

export const jobIdInput = z
  .string({ error: (issue) => `expected the jobId string that upload_predictions returned, got ${issue.input === null ? 'null' : typeof issue.input}` })
  .trim()
  .min(1, { error: 'expected the jobId that upload_predictions returned, got an empty string' })
  .max(MAX_JOB_ID_LENGTH, {
    error: (issue) =>
      `expected the jobId of at most ${MAX_JOB_ID_LENGTH} characters that upload_predictions returned, got ${quoteInput(String(issue.input))}`,
  })
  .describe('The jobId an upload_predictions result returned.');

/** Returns the job, or throws an error that names the report folder when the id is unknown. */
export function findJob(jobs: UploadJobs, jobId: string, stateDir: string): Upload {
  const upload = jobs.get(jobId);
  if (upload === undefined) {
    throw new UserInputError(
      `No upload job "${jobId}" in this server process. Jobs are kept in memory until the server exits; ` +
        `the reports of earlier jobs stay in ${stateDir}/reports. Rerunning upload_predictions with the same items skips what was created.`,
    );
  }
  return upload;
}

export const getUploadJobTool = defineTool({
  name: 'get_upload_job',
  title: 'Get an upload job',
  description: [
    'Return the summary of an upload that upload_predictions started, optionally waiting up to waitSeconds for it to finish.',
    'Use it when upload_predictions returned status "running": call it until status is completed, cancelled or failed.',
    'Returns the same summary shape as upload_predictions.',
  ].join('\n'),
  inputSchema: z.object({
    jobId: jobIdInput,
    waitSeconds: integerInput(0, MAX_WAIT_SECONDS)
      .default(0)
      .describe(`Seconds to wait for the job to finish before returning (0 to ${MAX_WAIT_SECONDS}, default 0).`),
  }),
  outputSchema: uploadSummarySchema,
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },

  async handler(args, context, extra) {
    const jobs = context.jobs();
    const upload = findJob(jobs, args.jobId, context.config.stateDir);

    return waitForUpload(jobs, upload, args.waitSeconds, extra);
  },
});
