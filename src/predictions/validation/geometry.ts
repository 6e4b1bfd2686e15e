/**
 * Kognic's rules for one geometry under a frame: the geometry type, its `stream` attribute, its
 * `confidence` attribute and the values of `bbox` and `cuboid`.
 */
import { FindingList, isPlainObject, joinPointer, quote } from './findings.js';

/** Returns the message for a geometry type that predictions do not accept. */
export function unsupportedGeometryMessage(key: string): string {
  return `Geometry ${key} is not accepted, because predictions take only bbox, cuboid and image geometries.`;
}
import { checkImage } from './segmentation.js';

/** The geometries Kognic accepts in a prediction. */
export const SUPPORTED_GEOMETRIES: ReadonlySet<string> = new Set(['bbox', 'cuboid', 'image']);

/** Every geometric key the OpenLABEL schema allows in `object_data`. */
export const GEOMETRY_KEYS: ReadonlySet<string> = new Set([
  'area_reference',
  'bbox',
  'binary',
  'cuboid',
  'image',
  'line_reference',
  'mat',
  'mesh',
  'point2d',
  'point3d',
  'poly2d',
  'poly3d',
  'rbbox',
]);

/** Largest accepted distance of a cuboid quaternion's norm from 1. */
const QUATERNION_NORM_TOLERANCE = 1e-3;

/** The attribute lists of a geometry, as the schema names them. */
const ATTRIBUTE_TYPES = ['num', 'text', 'boolean', 'vec'] as const;

/** The stream type each supported geometry needs. */
const STREAM_TYPE_BY_GEOMETRY: Readonly<Record<string, string>> = { bbox: 'camera', image: 'camera', cuboid: 'lidar' };

/** Geometries found in one frame object's `object_data`. */
export interface ObjectDataSummary {
  geometryCount: number;
  hasImage: boolean;
}

export interface GeometryContext {
  findings: FindingList;
  /** The root `streams` map, or an empty object when it is missing. */
  streams: Record<string, unknown>;
}

/** Checks the `object_data` of one object in one frame. */
export function checkFrameObjectData(objectData: Record<string, unknown>, pointer: string, context: GeometryContext): ObjectDataSummary {
  const summary: ObjectDataSummary = { geometryCount: 0, hasImage: false };

  // A for-in loop, because this runs for every object in every frame and Object.keys would
  // allocate an array each time. Parsed JSON has no inherited enumerable keys.
  for (const key in objectData) {
    if (!GEOMETRY_KEYS.has(key)) {
      continue;
    }

    if (!SUPPORTED_GEOMETRIES.has(key)) {
      context.findings.error(joinPointer(pointer, key), 'unsupported_geometry', unsupportedGeometryMessage(key));
      continue;
    }

    const entries = objectData[key];
    if (!Array.isArray(entries)) {
      continue;
    }

    for (let index = 0; index < entries.length; index++) {
      const geometry: unknown = entries[index];
      if (!isPlainObject(geometry)) {
        continue;
      }
      summary.geometryCount++;
      checkGeometry(key, geometry, `${pointer}/${key}/${index}`, context);
    }
    if (key === 'image' && entries.length > 0) {
      summary.hasImage = true;
    }
  }

  return summary;
}

function checkGeometry(kind: string, geometry: Record<string, unknown>, pointer: string, context: GeometryContext): void {
  checkStreamAttribute(kind, geometry, pointer, context);
  checkGeometryValues(kind, geometry, pointer, context.findings);
}

/**
 * Checks the values of one supported geometry (`kind` is bbox, cuboid or image) and its
 * confidence, but not its stream. Static geometry gets only these checks, so that the problems
 * left after moving it under a frame are reported at once.
 */
export function checkGeometryValues(kind: string, geometry: Record<string, unknown>, pointer: string, findings: FindingList): void {
  checkConfidence(geometry.attributes, pointer, findings);

  if (kind === 'bbox') {
    checkBbox(geometry.val, pointer, findings);
  } else if (kind === 'cuboid') {
    checkCuboid(geometry.val, pointer, findings);
  } else {
    checkImage(geometry, pointer, findings);
  }
}

function checkStreamAttribute(kind: string, geometry: Record<string, unknown>, pointer: string, context: GeometryContext): void {
  const { findings, streams } = context;
  const attributes = geometry.attributes;
  const texts = isPlainObject(attributes) && Array.isArray(attributes.text) ? attributes.text : [];

  let streamIndex = -1;
  for (let index = 0; index < texts.length; index++) {
    const text: unknown = texts[index];
    if (isPlainObject(text) && text.name === 'stream') {
      streamIndex = index;
      break;
    }
  }

  if (streamIndex < 0) {
    const coordinateSystem = geometry.coordinate_system;
    const hint = typeof coordinateSystem === 'string' ? ` (coordinate_system ${quote(coordinateSystem)} does not name it)` : '';
    findings.error(pointer, 'missing_stream', `This ${kind} has no stream${hint}; add attributes.text [{"name": "stream", "val": "<stream name>"}].`);
    return;
  }

  const streamName = (texts[streamIndex] as Record<string, unknown>).val;
  if (typeof streamName !== 'string') {
    // The schema reports a text value that is not a string.
    return;
  }

  if (!Object.hasOwn(streams, streamName)) {
    const declared = Object.keys(streams);
    const choice = declared.length > 0 ? `declared: ${quote(declared.join(', '))}` : 'none are declared';
    findings.error(`${pointer}/attributes/text/${streamIndex}/val`, 'unknown_stream', `Stream ${quote(streamName)} is not in streams (${choice}); declare it or name a declared stream.`);
    return;
  }

  const stream = streams[streamName];
  const streamType = isPlainObject(stream) ? stream.type : undefined;
  const expectedType = STREAM_TYPE_BY_GEOMETRY[kind];
  if (streamType === undefined) {
    const typePointer = joinPointer('/openlabel/streams', streamName, 'type');
    findings.error(typePointer, 'missing_stream_type', `Stream ${quote(streamName)} has no type; set "type" to "camera" or "lidar".`);
  } else if (streamType !== expectedType) {
    const fix = kind === 'cuboid' ? 'put cuboids on the lidar stream "@lidar"' : `put ${kind} geometries on a camera stream`;
    findings.error(`${pointer}/attributes/text/${streamIndex}/val`, 'stream_type_mismatch', `A ${kind} cannot sit on stream ${quote(streamName)} of type ${quote(streamType)}; ${fix}.`);
  }
}

/** Checks that `confidence`, wherever it sits among the attributes, is a `num` between 0 and 1. */
function checkConfidence(attributes: unknown, pointer: string, findings: FindingList): void {
  if (!isPlainObject(attributes)) {
    return;
  }

  for (const attributeType of ATTRIBUTE_TYPES) {
    const list = attributes[attributeType];
    if (!Array.isArray(list)) {
      continue;
    }

    for (let index = 0; index < list.length; index++) {
      const attribute: unknown = list[index];
      if (!isPlainObject(attribute) || attribute.name !== 'confidence') {
        continue;
      }

      const attributePointer = `${pointer}/attributes/${attributeType}/${index}`;
      if (attributeType !== 'num') {
        const message = `confidence is a ${attributeType} attribute; give it as attributes.num [{"name": "confidence", "val": <0 to 1>}].`;
        findings.error(attributePointer, 'invalid_confidence', message);
        continue;
      }

      const value = attribute.val;
      if (typeof value !== 'number' || !(value >= 0 && value <= 1)) {
        const message = `confidence ${quote(value)} is not a number between 0 and 1; give a JSON number such as 0.85.`;
        findings.error(joinPointer(attributePointer, 'val'), 'invalid_confidence', message);
      }
    }
  }
}

function isFiniteNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

function isFiniteNumberArray(value: unknown[]): value is number[] {
  for (const element of value) {
    if (!isFiniteNumber(element)) {
      return false;
    }
  }
  return true;
}

function checkBbox(val: unknown, geometryPointer: string, findings: FindingList): void {
  if (!Array.isArray(val) || val.length !== 4 || !isFiniteNumberArray(val)) {
    const message = `bbox val ${quote(val)} must be 4 numbers [centre x, centre y, width, height] in pixels.`;
    findings.error(`${geometryPointer}/val`, 'invalid_bbox', message, { coversSubtree: true });
    return;
  }

  const width = val[2] as number;
  const height = val[3] as number;
  if (width <= 0 || height <= 0) {
    const message = `bbox width ${width} and height ${height} must both be > 0; val is [centre x, centre y, width, height].`;
    findings.error(`${geometryPointer}/val`, 'invalid_bbox', message, { coversSubtree: true });
  }
}

/** Checks a cuboid `val`; it is never converted, so a 9-value Euler cuboid is an error. */
function checkCuboid(val: unknown, geometryPointer: string, findings: FindingList): void {
  const pointer = `${geometryPointer}/val`;
  const expected = '10 numbers [x, y, z, qx, qy, qz, qw, width, length, height]';

  if (!Array.isArray(val)) {
    findings.error(pointer, 'invalid_cuboid', `cuboid val ${quote(val)} must be ${expected}.`, { coversSubtree: true });
    return;
  }

  if (val.length === 9 && isFiniteNumberArray(val)) {
    const message = `cuboid val has 9 values (Euler angles); Kognic expects ${expected} with a quaternion.`;
    findings.error(pointer, 'euler_cuboid', message, { coversSubtree: true });
    return;
  }

  if (val.length !== 10 || !isFiniteNumberArray(val)) {
    findings.error(pointer, 'invalid_cuboid', `cuboid val ${quote(val)} must be ${expected}.`, { coversSubtree: true });
    return;
  }

  const [, , , qx, qy, qz, qw, width, length, height] = val as number[] as [number, number, number, number, number, number, number, number, number, number];
  if (width <= 0 || length <= 0 || height <= 0) {
    const message = `cuboid sizes [width, length, height] = ${quote([width, length, height])} must all be > 0 (metres).`;
    findings.error(pointer, 'invalid_cuboid', message, { coversSubtree: true });
  }

  const norm = Math.sqrt(qx * qx + qy * qy + qz * qz + qw * qw);
  if (Math.abs(norm - 1) > QUATERNION_NORM_TOLERANCE) {
    const message = `cuboid quaternion [qx, qy, qz, qw] = ${quote([qx, qy, qz, qw])} has norm ${norm.toFixed(4)}; normalise it to 1.`;
    findings.error(pointer, 'invalid_quaternion', message, { coversSubtree: true });
  }
}
