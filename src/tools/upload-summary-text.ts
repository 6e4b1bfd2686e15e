import { cutText, type FailureReason, type ItemReport, type UploadSummary } from '../predictions/summary.js';

/** Length of the example message shown per failure reason. */
const MAX_EXAMPLE_CHARS = 240;

/** Failure reasons described in the text. One more line counts the others. */
const MAX_REASONS_IN_TEXT = 5;

function describeExample(example: ItemReport | undefined): string {
  const message = example?.error ?? example?.findings?.[0]?.message;
  if (example === undefined || message === undefined) {
    return '';
  }
  return ` For example ${example.source}: ${cutText(message, MAX_EXAMPLE_CHARS)}`;
}

/** Returns the line that counts the failure reasons the text leaves out, or undefined when it shows them all. */
function describeMoreReasons(summary: UploadSummary, shownReasons: readonly FailureReason[]): string | undefined {
  const listedBeyondText = summary.failureReasons.length - shownReasons.length;
  const reasonCount = listedBeyondText + summary.reasonsNotListed;
  if (reasonCount === 0) {
    return undefined;
  }

  // Every invalid, failed or unknown item is counted under exactly one reason.
  const { counts } = summary;
  const shownItems = shownReasons.reduce((sum, group) => sum + group.count, 0);
  const itemCount = counts.invalid + counts.failed + counts.unknown - shownItems;
  let where = 'See failureReasons in the structured result, or the report file below for every item.';
  if (summary.reasonsNotListed > 0) {
    where =
      listedBeyondText > 0
        ? `failureReasons in the structured result lists ${listedBeyondText} of them, and the report file below lists every item.`
        : 'The structured result leaves them out to stay small, but the report file below lists every item.';
  }
  const more = shownReasons.length > 0 ? 'more ' : '';
  return `- ${reasonCount} ${more}failure reason(s) with ${itemCount} item(s) in all. ${where}`;
}

/** Writes the few lines a host shows when it ignores structured content. */
export function describeUploadSummary(summary: UploadSummary): string {
  const { counts } = summary;
  const lines = [
    `Upload ${summary.jobId} to prediction group ${summary.predictionGroupUuid}: ${summary.status}.`,
    `${counts.total} item(s): ${counts.created} created, ${counts.skipped} skipped, ${counts.invalid} invalid, ` +
      `${counts.failed} failed, ${counts.unknown} unknown, ${counts.pending} pending.`,
  ];

  const shownReasons = summary.failureReasons.slice(0, MAX_REASONS_IN_TEXT);
  for (const group of shownReasons) {
    lines.push(`- ${group.outcome} ${group.reason}: ${group.count} item(s).${describeExample(group.examples[0])}`);
  }
  const moreReasons = describeMoreReasons(summary, shownReasons);
  if (moreReasons !== undefined) {
    lines.push(moreReasons);
  }
  if (summary.error !== undefined) {
    lines.push(`Stopped because: ${summary.error}`);
  }
  if (summary.status === 'running') {
    lines.push(`Still running: call get_upload_job with jobId "${summary.jobId}" to wait for it or see its progress.`);
  }
  if (counts.unknown > 0) {
    lines.push(
      'Unknown items may or may not have been created, so a rerun holds them back. Check them in Kognic, then rerun with ' +
        'resendUnknown: true to send only the unknown ones; force: true would resend every scene.',
    );
  }
  lines.push(`Every item is listed in ${summary.reportPath}.`);
  return lines.join('\n');
}
