/** Kognic's rules for the root `objects` and `streams` of a prediction. */
import { FindingList, isPlainObject, joinPointer, quote } from './findings.js';
import { checkFrameIntervals } from './frames.js';
import { checkGeometryValues, GEOMETRY_KEYS, SUPPORTED_GEOMETRIES, unsupportedGeometryMessage } from './geometry.js';

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const INTEGER_KEY_PATTERN = /^-?[0-9]+$/;

/** Checks an object key used at the root or in a frame: a UUID, or else an integer (a warning). */
export function checkObjectKey(key: string, pointer: string, findings: FindingList, warnOnInteger: boolean): void {
  if (UUID_PATTERN.test(key)) {
    return;
  }

  if (!INTEGER_KEY_PATTERN.test(key)) {
    findings.error(pointer, 'invalid_object_key', `Object key ${quote(key)} is neither an integer nor a UUID; use a UUID.`);
  } else if (warnOnInteger) {
    findings.warning(pointer, 'object_key_not_uuid', `Object key ${quote(key)} is not a UUID; Kognic examples key objects by UUID, so prefer one.`);
  }
}

/**
 * Checks the root objects: their keys, their type, their frame intervals, and that they hold no
 * geometry, because Kognic takes a prediction's geometry only from frames.
 */
export function checkRootObjects(objects: Record<string, unknown>, findings: FindingList): void {
  for (const key in objects) {
    const pointer = joinPointer('/openlabel/objects', key);
    checkObjectKey(key, pointer, findings, true);

    const object = objects[key];
    if (!isPlainObject(object)) {
      continue;
    }

    if (object.type === '') {
      findings.warning(`${pointer}/type`, 'empty_object_type', 'Object type is empty; Kognic shows the type as the class name, so set one.');
    }

    if (isPlainObject(object.object_data)) {
      checkStaticGeometry(key, object.object_data, `${pointer}/object_data`, findings);
    }

    if (object.frame_intervals !== undefined) {
      checkFrameIntervals(object.frame_intervals, `${pointer}/frame_intervals`, findings);
    }
    if (isPlainObject(object.object_data_pointers)) {
      for (const [name, dataPointer] of Object.entries(object.object_data_pointers)) {
        if (isPlainObject(dataPointer)) {
          const intervalsPointer = joinPointer(pointer, 'object_data_pointers', name, 'frame_intervals');
          checkFrameIntervals(dataPointer.frame_intervals, intervalsPointer, findings);
        }
      }
    }
  }
}

function checkStaticGeometry(objectKey: string, objectData: Record<string, unknown>, pointer: string, findings: FindingList): void {
  for (const key of Object.keys(objectData)) {
    if (!GEOMETRY_KEYS.has(key)) {
      continue;
    }

    const geometryPointer = joinPointer(pointer, key);
    const target = `frames/<frame>/objects/${objectKey}/object_data`;
    findings.error(geometryPointer, 'static_geometry', `Static ${key} in the root objects is not accepted; move it under ${target}.`);
    if (!SUPPORTED_GEOMETRIES.has(key)) {
      findings.error(geometryPointer, 'unsupported_geometry', unsupportedGeometryMessage(key));
      continue;
    }

    const entries = objectData[key];
    if (!Array.isArray(entries)) {
      continue;
    }
    for (let index = 0; index < entries.length; index++) {
      const geometry: unknown = entries[index];
      if (isPlainObject(geometry)) {
        checkGeometryValues(key, geometry, joinPointer(geometryPointer, index), findings);
      }
    }
  }
}

/** Checks that the one lidar stream is named `@lidar`, the name Kognic uses for a prediction's lidar. */
export function checkStreams(streams: Record<string, unknown>, findings: FindingList): void {
  for (const name of Object.keys(streams)) {
    const stream = streams[name];
    const type = isPlainObject(stream) ? stream.type : undefined;
    const pointer = joinPointer('/openlabel/streams', name);

    if (type === 'lidar' && name !== '@lidar') {
      findings.error(pointer, 'lidar_stream_name', `Lidar stream ${quote(name)} must be named "@lidar" in predictions; rename it and the stream attributes that use it.`);
    } else if (name === '@lidar' && type !== undefined && type !== 'lidar') {
      findings.error(joinPointer(pointer, 'type'), 'lidar_stream_name', `Stream "@lidar" has type ${quote(type)}; set its type to "lidar".`);
    }
  }
}
