import { cutText, type ItemReport, type UploadSummary } from '../predictions/summary.js';

/** Length of the example message shown per failure reason. */
const MAX_EXAMPLE_CHARS = 240;

function describeExample(example: ItemReport | undefined): string {
  const message = example?.error ?? example?.findings?.[0]?.message;
  if (example === undefined || message === undefined) {
    return '';
  }
  return ` For example ${example.source}: ${cutText(message, MAX_EXAMPLE_CHARS)}`;
}

/** Writes the few lines a host shows when it ignores structured content. */
export function describeUploadSummary(summary: UploadSummary): string {
  const { counts } = summary;
  const lines = [
    `Upload ${summary.jobId} to prediction group ${summary.predictionGroupUuid}: ${summary.status}.`,
    `${counts.total} item(s): ${counts.created} created, ${counts.skipped} skipped, ${counts.invalid} invalid, ` +
      `${counts.failed} failed, ${counts.unknown} unknown, ${counts.pending} pending.`,
  ];

  for (const group of summary.failureReasons.slice(0, 5)) {
    lines.push(`- ${group.outcome} ${group.reason}: ${group.count} item(s).${describeExample(group.examples[0])}`);
  }
  if (summary.error !== undefined) {
    lines.push(`Stopped because: ${summary.error}`);
  }
  if (summary.status === 'running') {
    lines.push(`Still running: call get_upload_job with jobId "${summary.jobId}" to wait for it or see its progress.`);
  }
  if (counts.unknown > 0) {
    lines.push('Unknown items may or may not have been created; they are not resent unless you upload them again with force: true.');
  }
  lines.push(`Every item is listed in ${summary.reportPath}.`);
  return lines.join('\n');
}
