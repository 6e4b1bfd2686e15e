/**
 * The stable codes of validation findings. Callers and tests match on these strings, so a code
 * is never renamed. Each entry describes what the code reports.
 */
export const FINDING_CODES = {
  // The item and its document as a whole.
  invalid_scene_uuid: 'The scene UUID is missing or is not a UUID (8-4-4-4-12 hex digits).',
  prediction_too_large: 'The prediction is larger than MAX_PREDICTION_BYTES and was not parsed.',
  invalid_json: 'The prediction text is not valid JSON.',
  missing_openlabel_wrapper: 'The document is not an object of the form {"openlabel": {...}}.',

  // Findings mapped from the ASAM OpenLABEL 1.0.0 JSON schema.
  schema_violation: 'The document breaks a rule of the OpenLABEL 1.0.0 schema.',
  missing_required_key: 'The OpenLABEL schema requires a key that is missing.',
  unknown_key: 'The OpenLABEL schema does not allow this key here.',
  wrong_type: 'A value has the wrong JSON type for the OpenLABEL schema.',
  invalid_schema_version: 'metadata.schema_version is not "1.0.0".',

  // Frames and timestamps.
  no_frames: 'The prediction has no frames, so there is nothing to upload.',
  no_geometry: 'No frame holds a bbox, cuboid or image geometry, so there is nothing to upload.',
  invalid_frame_key: 'A frame key is not a non-negative integer written as a string.',
  missing_frame_properties: 'A frame has no frame_properties (Kognic requires them).',
  missing_timestamp: 'A frame has no frame_properties.timestamp: an error in a sequence, a warning in a single frame.',
  invalid_timestamp: 'A timestamp is not a number of milliseconds.',
  timestamp_is_string: 'Warning: a timestamp is a string that holds a number; Kognic expects a JSON number.',
  duplicate_timestamp: 'Warning: two frames share a timestamp, so Kognic cannot tell them apart.',
  invalid_frame_interval: 'A frame interval is not two non-negative integers with frame_start <= frame_end.',

  // Objects.
  undeclared_object: 'A frame uses an object key that is not declared in the root objects.',
  invalid_object_key: 'An object key is neither an integer nor a UUID.',
  object_key_not_uuid: 'Warning: an object key is an integer; Kognic examples use UUID keys.',
  unused_object: 'Warning: a declared object appears in no frame.',
  empty_object_type: 'Warning: an object type is empty; Kognic shows the type as the class name.',

  // Geometry.
  static_geometry: 'A geometry sits in the root objects (static); predictions take geometry only under frames.',
  unsupported_geometry: 'A geometry type other than bbox, cuboid and image; predictions take only those three.',
  invalid_bbox: 'A bbox val is not [centre x, centre y, width, height] with finite numbers and positive sizes.',
  invalid_cuboid: 'A cuboid val is not 10 finite numbers with positive sizes.',
  euler_cuboid: 'A cuboid uses the 9-value Euler form; Kognic expects 10 values with a quaternion.',
  invalid_quaternion: 'A cuboid quaternion does not have norm 1 (tolerance 1e-3).',
  invalid_confidence: 'A confidence attribute is not a num between 0 and 1.',

  // Streams.
  missing_stream: 'A geometry has no text attribute "stream".',
  unknown_stream: 'A geometry names a stream that is not declared in streams.',
  missing_stream_type: 'A stream used by a geometry has no type.',
  stream_type_mismatch: 'A geometry sits on a stream of the wrong type (bbox and image need camera, cuboid needs lidar).',
  lidar_stream_name: 'A lidar stream is not named "@lidar", or "@lidar" is not a lidar stream.',

  // Segmentation bitmaps.
  invalid_image_encoding: 'An image geometry is not mime_type "image/png" with encoding "base64".',
  invalid_image_data: 'An image val is not base64 text of a PNG file.',
  unsupported_png_format: 'A segmentation PNG is not 8-bit grayscale.',
  missing_segmentation_ontology: 'A segmentation prediction has no ontology mapping pixel values to classes.',
  invalid_segmentation_class: 'A segmentation ontology key is not a pixel value 0-255, or its class is not a string.',
  segmentation_object_type: 'Warning: an object with an image geometry does not have type "segmentation_bitmap".',
} as const;

export type FindingCode = keyof typeof FINDING_CODES;
