/** Sends an upload's progress to the client as MCP progress notifications for one tool call. */
import type { UploadJobs } from '../predictions/jobs.js';
import type { UploadSummary } from '../predictions/summary.js';
import type { Upload, UploadProgress } from '../predictions/uploader.js';
import type { ToolExtra, ToolOutput } from './define.js';
import { describeUploadSummary } from './upload-summary-text.js';

/** Shortest gap between two notifications; several finish events inside it become one notification. */
export const PROGRESS_INTERVAL_MS = 250;

/**
 * Forwards progress while the call is open, only when the client sent a progress token, with a
 * strictly increasing `progress`. Returns the function that stops forwarding; it sends the last
 * pending update first.
 */
export function forwardUploadProgress(upload: Upload, extra: ToolExtra): () => void {
  const progressToken = extra._meta?.progressToken;
  if (progressToken === undefined) {
    return () => {};
  }

  let lastSentProgress = -1;
  let lastSentAt = 0;
  let latest: UploadProgress | undefined;
  let timer: NodeJS.Timeout | undefined;

  const send = (): void => {
    timer = undefined;
    if (latest === undefined || latest.finished <= lastSentProgress) {
      return;
    }
    lastSentProgress = latest.finished;
    lastSentAt = Date.now();
    extra
      .sendNotification({
        method: 'notifications/progress',
        params: {
          progressToken,
          progress: latest.finished,
          ...(latest.total !== undefined ? { total: latest.total } : {}),
          message: latest.message,
        },
      })
      .catch(() => {
        // The call may have ended; the summary still carries the counts.
      });
  };

  const unsubscribe = upload.onProgress((progress) => {
    latest = progress;
    if (timer !== undefined) {
      return;
    }
    const wait = Math.max(0, lastSentAt + PROGRESS_INTERVAL_MS - Date.now());
    timer = setTimeout(send, wait);
  });

  return () => {
    unsubscribe();
    if (timer !== undefined) {
      clearTimeout(timer);
      send();
    }
  };
}

/**
 * Waits up to `waitSeconds` for the upload while forwarding its progress, and returns its summary
 * as a tool result: the final one, or a `running` snapshot when the wait ends first.
 */
export async function waitForUpload(
  jobs: UploadJobs,
  upload: Upload,
  waitSeconds: number,
  extra: ToolExtra,
): Promise<ToolOutput<UploadSummary>> {
  const stopProgress = forwardUploadProgress(upload, extra);
  try {
    const summary = await jobs.wait(upload, waitSeconds * 1_000, extra.signal);
    return { structured: summary, text: describeUploadSummary(summary) };
  } finally {
    stopProgress();
  }
}
