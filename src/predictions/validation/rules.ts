/**
 * Kognic's prediction rules, which go beyond the OpenLABEL schema: geometry only under frames and
 * only bbox, cuboid and image, a declared stream on every geometry, timestamps in milliseconds,
 * declared objects, and a segmentation ontology when there are bitmaps.
 */
import { FindingList, isPlainObject, joinPointer, quote } from './findings.js';
import { addInvalidFrameKey, checkFrameIntervals, checkFrameProperties, isFrameKey, type TimestampIndex } from './frames.js';
import { checkFrameObjectData, type GeometryContext } from './geometry.js';
import { checkObjectKey, checkRootObjects, checkStreams } from './objects.js';
import { checkSegmentationOntology } from './segmentation.js';

/** Results of the walk over the frames, for the checks that need the whole prediction. */
interface FrameSummary {
  geometryCount: number;
  usedObjectKeys: Set<string>;
  /** Keys of the objects that have an `image` geometry in some frame. */
  segmentationObjectKeys: Set<string>;
}

/** Adds a finding for every Kognic rule that `openlabel` (the value under the `openlabel` key) breaks. */
export function addKognicFindings(openlabel: Record<string, unknown>, findings: FindingList): void {
  const streams = isPlainObject(openlabel.streams) ? openlabel.streams : {};
  const rootObjects = isPlainObject(openlabel.objects) ? openlabel.objects : {};

  checkStreams(streams, findings);
  checkRootObjects(rootObjects, findings);
  checkFrameIntervals(openlabel.frame_intervals, '/openlabel/frame_intervals', findings);

  const summary = checkFrames(openlabel.frames, rootObjects, { findings, streams });
  if (summary === undefined) {
    return;
  }

  if (summary.geometryCount === 0) {
    const message = 'No frame contains a bbox, cuboid or image geometry, so there is nothing to upload; add geometry under frames/<frame>/objects.';
    findings.error('/openlabel/frames', 'no_geometry', message, { leading: true });
  }

  for (const key of Object.keys(rootObjects)) {
    if (!summary.usedObjectKeys.has(key)) {
      const message = `Object ${quote(key)} appears in no frame; remove it or add its geometry under a frame.`;
      findings.warning(joinPointer('/openlabel/objects', key), 'unused_object', message);
    }
  }

  if (summary.segmentationObjectKeys.size > 0) {
    checkSegmentationOntology(openlabel.ontologies, findings);
    checkSegmentationObjectTypes(summary.segmentationObjectKeys, rootObjects, findings);
  }
}

/** Walks every frame; returns undefined when there are no frames at all. */
function checkFrames(frames: unknown, rootObjects: Record<string, unknown>, context: GeometryContext): FrameSummary | undefined {
  const { findings } = context;
  const frameKeys = isPlainObject(frames) ? Object.keys(frames) : [];
  if (!isPlainObject(frames) || frameKeys.length === 0) {
    const message = 'The prediction has no frames, so there is nothing to upload; put geometry under frames, e.g. "0" with timestamp 0.';
    findings.error('/openlabel/frames', 'no_frames', message, { leading: true });
    return undefined;
  }

  const summary: FrameSummary = { geometryCount: 0, usedObjectKeys: new Set(), segmentationObjectKeys: new Set() };
  const timestamps: TimestampIndex = new Map();
  const isSequence = frameKeys.length > 1;

  for (const frameKey of frameKeys) {
    const framePointer = joinPointer('/openlabel/frames', frameKey);
    if (!isFrameKey(frameKey)) {
      addInvalidFrameKey(frameKey, framePointer, findings);
    }

    const frame = frames[frameKey];
    if (!isPlainObject(frame)) {
      continue;
    }

    checkFrameProperties(frame, frameKey, framePointer, isSequence, timestamps, findings);
    if (isPlainObject(frame.objects)) {
      checkFrameObjects(frame.objects, joinPointer(framePointer, 'objects'), rootObjects, context, summary);
    }
  }

  return summary;
}

function checkFrameObjects(
  frameObjects: Record<string, unknown>,
  pointer: string,
  rootObjects: Record<string, unknown>,
  context: GeometryContext,
  summary: FrameSummary,
): void {
  for (const key in frameObjects) {
    summary.usedObjectKeys.add(key);

    if (!Object.hasOwn(rootObjects, key)) {
      const objectPointer = joinPointer(pointer, key);
      checkObjectKey(key, objectPointer, context.findings, false);
      const message = `Object ${quote(key)} is not declared in the root objects; add it there with "name" and "type".`;
      context.findings.error(objectPointer, 'undeclared_object', message);
    }

    const frameObject = frameObjects[key];
    if (!isPlainObject(frameObject) || !isPlainObject(frameObject.object_data)) {
      continue;
    }

    const found = checkFrameObjectData(frameObject.object_data, `${joinPointer(pointer, key)}/object_data`, context);
    summary.geometryCount += found.geometryCount;
    if (found.hasImage) {
      summary.segmentationObjectKeys.add(key);
    }
  }
}

function checkSegmentationObjectTypes(keys: Set<string>, rootObjects: Record<string, unknown>, findings: FindingList): void {
  for (const key of keys) {
    const object = rootObjects[key];
    if (!isPlainObject(object) || object.type === 'segmentation_bitmap') {
      continue;
    }

    const message = `Object ${quote(key)} has an image geometry but type ${quote(object.type)}; set its type to "segmentation_bitmap".`;
    findings.warning(joinPointer('/openlabel/objects', key, 'type'), 'segmentation_object_type', message);
  }
}
