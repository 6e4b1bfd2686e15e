/** Kognic's rules for frames: keys, `frame_properties`, timestamps and frame intervals. */
import { FindingList, isPlainObject, joinPointer, quote } from './findings.js';

const FRAME_KEY_PATTERN = /^[0-9]+$/;

/**
 * Timestamps seen so far, in milliseconds, each with the key of the first frame that used it.
 * All frames of one prediction share one index, which finds duplicate timestamps.
 */
export type TimestampIndex = Map<number, string>;

export function isFrameKey(key: string): boolean {
  return FRAME_KEY_PATTERN.test(key);
}

export function addInvalidFrameKey(key: string, pointer: string, findings: FindingList): void {
  findings.error(pointer, 'invalid_frame_key', `Frame key ${quote(key)} is not a non-negative integer; use keys such as "0", "1".`);
}

/**
 * Checks `frame_properties` and its timestamp, in milliseconds. A missing timestamp is an error
 * in a sequence, where Kognic matches frames by timestamp, and a warning in a single frame.
 */
export function checkFrameProperties(
  frame: Record<string, unknown>,
  frameKey: string,
  framePointer: string,
  isSequence: boolean,
  timestamps: TimestampIndex,
  findings: FindingList,
): void {
  const properties = frame.frame_properties;
  const propertiesPointer = joinPointer(framePointer, 'frame_properties');
  if (properties === undefined) {
    const message = `Frame ${quote(frameKey)} has no frame_properties; add {"timestamp": <milliseconds>} (0 for a single image).`;
    findings.error(propertiesPointer, 'missing_frame_properties', message);
    return;
  }
  if (!isPlainObject(properties)) {
    // The schema reports frame_properties that are not an object.
    return;
  }

  const timestamp = properties.timestamp;
  const timestampPointer = joinPointer(propertiesPointer, 'timestamp');
  if (timestamp === undefined) {
    if (isSequence) {
      const message = `Frame ${quote(frameKey)} has no timestamp; in a sequence each frame needs frame_properties.timestamp in ms matching the scene.`;
      findings.error(timestampPointer, 'missing_timestamp', message);
    } else {
      const message = `Frame ${quote(frameKey)} has no timestamp; set frame_properties.timestamp to 0 (milliseconds) for a single frame.`;
      findings.warning(timestampPointer, 'missing_timestamp', message);
    }
    return;
  }

  let milliseconds: number;
  if (typeof timestamp === 'number' && Number.isFinite(timestamp)) {
    milliseconds = timestamp;
  } else if (typeof timestamp === 'string' && timestamp.trim() !== '' && Number.isFinite(Number(timestamp))) {
    milliseconds = Number(timestamp);
    const message = `Timestamp ${quote(timestamp)} is a string; give it as a JSON number of milliseconds, ${quote(milliseconds)}.`;
    findings.warning(timestampPointer, 'timestamp_is_string', message);
  } else {
    const message = `Timestamp ${quote(timestamp)} is not a number of milliseconds; give a JSON number such as 0 or 50.`;
    findings.error(timestampPointer, 'invalid_timestamp', message);
    return;
  }

  const firstFrameKey = timestamps.get(milliseconds);
  if (firstFrameKey === undefined) {
    timestamps.set(milliseconds, frameKey);
  } else {
    const message = `Frames ${quote(firstFrameKey)} and ${quote(frameKey)} both have timestamp ${milliseconds}; give each frame its own timestamp.`;
    findings.warning(timestampPointer, 'duplicate_timestamp', message);
  }
}

function isNonNegativeInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0;
}

/**
 * Checks a `frame_intervals` list. The official schema never checks the top-level list (it uses
 * the keyword `item` where it means `items`), so this is the only check there.
 */
export function checkFrameIntervals(intervals: unknown, pointer: string, findings: FindingList): void {
  if (!Array.isArray(intervals)) {
    // Absent, or not an array, which the schema reports.
    return;
  }

  for (let index = 0; index < intervals.length; index++) {
    const interval: unknown = intervals[index];
    const intervalPointer = joinPointer(pointer, index);
    if (!isPlainObject(interval)) {
      const message = `Frame interval ${quote(interval)} must be an object {"frame_start": <frame>, "frame_end": <frame>}.`;
      findings.error(intervalPointer, 'invalid_frame_interval', message);
      continue;
    }

    const { frame_start: start, frame_end: end } = interval;
    for (const [name, value] of [
      ['frame_start', start],
      ['frame_end', end],
    ] as const) {
      if (isNonNegativeInteger(value)) {
        continue;
      }
      const problem = value === undefined ? 'is missing' : `is ${quote(value)}`;
      findings.error(joinPointer(intervalPointer, name), 'invalid_frame_interval', `${name} ${problem}; it must be a non-negative integer frame number.`);
    }

    if (isNonNegativeInteger(start) && isNonNegativeInteger(end) && start > end) {
      findings.error(intervalPointer, 'invalid_frame_interval', `frame_start ${start} is after frame_end ${end}; the interval must run forward.`);
    }
  }
}
