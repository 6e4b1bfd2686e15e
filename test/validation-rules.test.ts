/**
 * One test per validation rule: each starts from a valid synthetic prediction, breaks one thing
 * and checks the code, pointer and severity of the finding. Removing the rule fails its test.
 */
import { describe, expect, it } from 'vitest';

import { validatePrediction, type ValidationResult } from '../src/predictions/validation.js';
import { encodePng } from './helpers/png.js';
import { readSyntheticPrediction } from './helpers/predictions.js';

const SCENE_UUID = '0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9';

/** Object keys used in the synthetic fixtures. */
const CAR = '3f2a9c1e-6b0d-4e8a-9f3c-1a2b3c4d5e6f';
const SEGMENTATION = '5e6a0b1c-2d3e-4f5a-8b6c-7d8e9f0a1b2c';

const CAR_BBOX = `/openlabel/frames/0/objects/${CAR}/object_data/bbox/0`;
const CAR_CUBOID = `/openlabel/frames/0/objects/${CAR}/object_data/cuboid/0`;
const SEGMENTATION_IMAGE = `/openlabel/frames/0/objects/${SEGMENTATION}/object_data/image/0`;

/** A parsed fixture; typed loosely because the tests edit it freely. */
type EditableDocument = { openlabel: any };

function load(fileName: 'boxes_2d_one_camera.json' | 'cuboids_lidar.json' | 'sequence_two_frames.json' | 'segmentation_bitmap.json'): EditableDocument {
  return readSyntheticPrediction(fileName) as EditableDocument;
}

function validate(document: unknown): ValidationResult {
  return validatePrediction({ sceneUuid: SCENE_UUID, openlabel: document });
}

/** Returns the severity of the finding with this pointer and code, or 'absent'. */
function severityAt(result: ValidationResult, pointer: string, code: string): string {
  const finding = result.findings.find((candidate) => candidate.pointer === pointer && candidate.code === code);
  return finding?.severity ?? 'absent';
}

function codesAt(result: ValidationResult, pointer: string): string[] {
  return result.findings.filter((finding) => finding.pointer === pointer).map((finding) => finding.code);
}

function carBbox(document: EditableDocument): Record<string, any> {
  return document.openlabel.frames['0'].objects[CAR].object_data.bbox[0];
}

function carCuboid(document: EditableDocument): Record<string, any> {
  return document.openlabel.frames['0'].objects[CAR].object_data.cuboid[0];
}

function segmentationImage(document: EditableDocument): Record<string, any> {
  return document.openlabel.frames['0'].objects[SEGMENTATION].object_data.image[0];
}

describe('schema rules', () => {
  it('rejects another schema_version', () => {
    const document = load('boxes_2d_one_camera.json');
    document.openlabel.metadata.schema_version = '1.0';

    const result = validate(document);

    expect(result.valid).toBe(false);
    expect(severityAt(result, '/openlabel/metadata/schema_version', 'invalid_schema_version')).toBe('error');
  });

  it('rejects missing metadata', () => {
    const document = load('boxes_2d_one_camera.json');
    delete document.openlabel.metadata;

    expect(severityAt(validate(document), '/openlabel/metadata', 'missing_required_key')).toBe('error');
  });

  it('rejects unknown openlabel key', () => {
    const document = load('boxes_2d_one_camera.json');
    document.openlabel.predictions = {};

    expect(severityAt(validate(document), '/openlabel/predictions', 'unknown_key')).toBe('error');
  });

  it('rejects geometry without name', () => {
    const document = load('boxes_2d_one_camera.json');
    delete carBbox(document).name;

    expect(severityAt(validate(document), `${CAR_BBOX}/name`, 'missing_required_key')).toBe('error');
  });

  it('rejects object name of wrong type', () => {
    const document = load('boxes_2d_one_camera.json');
    document.openlabel.objects[CAR].name = 5;

    expect(severityAt(validate(document), `/openlabel/objects/${CAR}/name`, 'wrong_type')).toBe('error');
  });

  it('hints at stream attribute form', () => {
    const document = load('boxes_2d_one_camera.json');
    carBbox(document).attributes.stream = [{ name: 'stream', val: 'CAM_FRONT' }];

    const finding = validate(document).findings.find((candidate) => candidate.pointer === `${CAR_BBOX}/attributes/stream`);

    expect(finding?.message).toContain('attributes.text');
  });

  it('keeps the one matching oneOf branch', () => {
    const document = load('segmentation_bitmap.json');
    delete document.openlabel.ontologies['0'].uri;

    const result = validate(document);

    expect(severityAt(result, '/openlabel/ontologies/0/uri', 'missing_required_key')).toBe('error');
    expect(codesAt(result, '/openlabel/ontologies/0')).toEqual([]);
  });

  it('merges oneOf branches of wrong type', () => {
    const document = load('segmentation_bitmap.json');
    document.openlabel.ontologies['1'] = 5;

    const result = validate(document);
    const finding = result.findings.find((candidate) => candidate.pointer === '/openlabel/ontologies/1');

    expect(codesAt(result, '/openlabel/ontologies/1')).toEqual(['wrong_type']);
    expect(finding?.message).toContain('a string or an object with "uri"');
  });
});

describe('frame rules', () => {
  it('rejects non-integer frame key', () => {
    const document = load('boxes_2d_one_camera.json');
    document.openlabel.frames.frame0 = document.openlabel.frames['0'];
    delete document.openlabel.frames['0'];

    const result = validate(document);

    expect(severityAt(result, '/openlabel/frames/frame0', 'invalid_frame_key')).toBe('error');
    expect(codesAt(result, '/openlabel/frames/frame0')).toEqual(['invalid_frame_key']);
  });

  it('rejects missing frame_properties', () => {
    const document = load('boxes_2d_one_camera.json');
    delete document.openlabel.frames['0'].frame_properties;

    const result = validate(document);

    expect(result.valid).toBe(false);
    expect(severityAt(result, '/openlabel/frames/0/frame_properties', 'missing_frame_properties')).toBe('error');
  });

  it('warns on single frame without timestamp', () => {
    const document = load('boxes_2d_one_camera.json');
    delete document.openlabel.frames['0'].frame_properties.timestamp;

    const result = validate(document);

    expect(result.valid).toBe(true);
    expect(severityAt(result, '/openlabel/frames/0/frame_properties/timestamp', 'missing_timestamp')).toBe('warning');
  });

  it('rejects sequence frame without timestamp', () => {
    const document = load('sequence_two_frames.json');
    delete document.openlabel.frames['1'].frame_properties.timestamp;

    const result = validate(document);

    expect(result.valid).toBe(false);
    expect(severityAt(result, '/openlabel/frames/1/frame_properties/timestamp', 'missing_timestamp')).toBe('error');
  });

  it('warns on numeric string timestamp', () => {
    const document = load('sequence_two_frames.json');
    document.openlabel.frames['1'].frame_properties.timestamp = '50';

    const result = validate(document);

    expect(result.valid).toBe(true);
    expect(severityAt(result, '/openlabel/frames/1/frame_properties/timestamp', 'timestamp_is_string')).toBe('warning');
  });

  it('rejects date string timestamp', () => {
    const document = load('boxes_2d_one_camera.json');
    document.openlabel.frames['0'].frame_properties.timestamp = '2020-04-11 12:00:07';

    expect(severityAt(validate(document), '/openlabel/frames/0/frame_properties/timestamp', 'invalid_timestamp')).toBe('error');
  });

  it('reports boolean timestamp once', () => {
    const document = load('boxes_2d_one_camera.json');
    document.openlabel.frames['0'].frame_properties.timestamp = true;

    const result = validate(document);

    expect(codesAt(result, '/openlabel/frames/0/frame_properties/timestamp')).toEqual(['invalid_timestamp']);
  });

  it('warns on duplicate timestamps', () => {
    const document = load('sequence_two_frames.json');
    document.openlabel.frames['1'].frame_properties.timestamp = 0;

    expect(severityAt(validate(document), '/openlabel/frames/1/frame_properties/timestamp', 'duplicate_timestamp')).toBe('warning');
  });

  it('rejects reversed top-level interval', () => {
    const document = load('sequence_two_frames.json');
    document.openlabel.frame_intervals = [{ frame_start: 1, frame_end: 0 }];

    expect(severityAt(validate(document), '/openlabel/frame_intervals/0', 'invalid_frame_interval')).toBe('error');
  });

  it('rejects negative top-level interval', () => {
    const document = load('sequence_two_frames.json');
    document.openlabel.frame_intervals = [{ frame_start: -1, frame_end: 1 }];

    expect(severityAt(validate(document), '/openlabel/frame_intervals/0/frame_start', 'invalid_frame_interval')).toBe('error');
  });

  it('rejects reversed object interval', () => {
    const document = load('sequence_two_frames.json');
    document.openlabel.objects[CAR].frame_intervals = [{ frame_start: 1, frame_end: 0 }];

    expect(severityAt(validate(document), `/openlabel/objects/${CAR}/frame_intervals/0`, 'invalid_frame_interval')).toBe('error');
  });

  it('rejects prediction without frames', () => {
    const document = load('boxes_2d_one_camera.json');
    delete document.openlabel.frames;

    expect(severityAt(validate(document), '/openlabel/frames', 'no_frames')).toBe('error');
  });

  it('rejects empty frames', () => {
    const document = load('boxes_2d_one_camera.json');
    document.openlabel.frames = {};

    expect(severityAt(validate(document), '/openlabel/frames', 'no_frames')).toBe('error');
  });

  it('rejects frames without geometry', () => {
    const document = load('boxes_2d_one_camera.json');
    document.openlabel.frames['0'].objects = {};

    expect(severityAt(validate(document), '/openlabel/frames', 'no_geometry')).toBe('error');
  });
});

describe('object rules', () => {
  it('rejects undeclared frame object', () => {
    const document = load('boxes_2d_one_camera.json');
    delete document.openlabel.objects[CAR];

    expect(severityAt(validate(document), `/openlabel/frames/0/objects/${CAR}`, 'undeclared_object')).toBe('error');
  });

  it('rejects declared object without type', () => {
    const document = load('boxes_2d_one_camera.json');
    delete document.openlabel.objects[CAR].type;

    expect(severityAt(validate(document), `/openlabel/objects/${CAR}/type`, 'missing_required_key')).toBe('error');
  });

  it('warns on unused object', () => {
    const document = load('boxes_2d_one_camera.json');
    const unused = '11111111-2222-4333-8444-555555555555';
    document.openlabel.objects[unused] = { name: 'unused', type: 'Car' };

    const result = validate(document);

    expect(result.valid).toBe(true);
    expect(severityAt(result, `/openlabel/objects/${unused}`, 'unused_object')).toBe('warning');
  });

  it('warns on integer object key', () => {
    const document = load('boxes_2d_one_camera.json');
    document.openlabel.objects['7'] = document.openlabel.objects[CAR];
    document.openlabel.frames['0'].objects['7'] = document.openlabel.frames['0'].objects[CAR];
    delete document.openlabel.objects[CAR];
    delete document.openlabel.frames['0'].objects[CAR];

    const result = validate(document);

    expect(result.valid).toBe(true);
    expect(severityAt(result, '/openlabel/objects/7', 'object_key_not_uuid')).toBe('warning');
  });

  it('rejects object key of other form', () => {
    const document = load('boxes_2d_one_camera.json');
    document.openlabel.objects['car-1'] = { name: 'car-1', type: 'Car' };

    const result = validate(document);

    expect(codesAt(result, '/openlabel/objects/car-1')).toContain('invalid_object_key');
    expect(severityAt(result, '/openlabel/objects/car-1', 'invalid_object_key')).toBe('error');
  });

  it('warns on empty object type', () => {
    const document = load('boxes_2d_one_camera.json');
    document.openlabel.objects[CAR].type = '';

    expect(severityAt(validate(document), `/openlabel/objects/${CAR}/type`, 'empty_object_type')).toBe('warning');
  });
});

describe('geometry rules', () => {
  it('rejects static geometry', () => {
    const document = load('boxes_2d_one_camera.json');
    document.openlabel.objects[CAR].object_data = { bbox: [carBbox(document)] };

    const result = validate(document);
    const finding = result.findings.find((candidate) => candidate.code === 'static_geometry');

    expect(severityAt(result, `/openlabel/objects/${CAR}/object_data/bbox`, 'static_geometry')).toBe('error');
    expect(finding?.message).toContain(`frames/<frame>/objects/${CAR}/object_data`);
  });

  it('rejects poly2d under a frame', () => {
    const document = load('boxes_2d_one_camera.json');
    document.openlabel.frames['0'].objects[CAR].object_data.poly2d = [
      { name: 'outline', val: [0, 0, 10, 0, 10, 10], mode: 'MODE_POLY2D_ABSOLUTE', closed: true },
    ];

    const result = validate(document);
    const pointer = `/openlabel/frames/0/objects/${CAR}/object_data/poly2d`;
    const finding = result.findings.find((candidate) => candidate.pointer === pointer);

    expect(severityAt(result, pointer, 'unsupported_geometry')).toBe('error');
    expect(finding?.message).toContain('only bbox, cuboid and image');
  });

  it('rejects geometry without stream', () => {
    const document = load('boxes_2d_one_camera.json');
    carBbox(document).attributes.text = [];

    expect(severityAt(validate(document), CAR_BBOX, 'missing_stream')).toBe('error');
  });

  it('rejects undeclared stream', () => {
    const document = load('boxes_2d_one_camera.json');
    carBbox(document).attributes.text[0].val = 'CAM_BACK';

    expect(severityAt(validate(document), `${CAR_BBOX}/attributes/text/0/val`, 'unknown_stream')).toBe('error');
  });

  it('rejects used stream without type', () => {
    const document = load('boxes_2d_one_camera.json');
    document.openlabel.streams.CAM_FRONT = {};

    expect(severityAt(validate(document), '/openlabel/streams/CAM_FRONT/type', 'missing_stream_type')).toBe('error');
  });

  it('rejects bbox on lidar stream', () => {
    const document = load('boxes_2d_one_camera.json');
    document.openlabel.streams['@lidar'] = { type: 'lidar' };
    carBbox(document).attributes.text[0].val = '@lidar';

    expect(severityAt(validate(document), `${CAR_BBOX}/attributes/text/0/val`, 'stream_type_mismatch')).toBe('error');
  });

  it('rejects cuboid on camera stream', () => {
    const document = load('cuboids_lidar.json');
    document.openlabel.streams.CAM_FRONT = { type: 'camera' };
    carCuboid(document).attributes.text[0].val = 'CAM_FRONT';

    expect(severityAt(validate(document), `${CAR_CUBOID}/attributes/text/0/val`, 'stream_type_mismatch')).toBe('error');
  });

  it('rejects lidar stream not named @lidar', () => {
    const document = load('cuboids_lidar.json');
    document.openlabel.streams.lidar_top = { type: 'lidar' };

    expect(severityAt(validate(document), '/openlabel/streams/lidar_top', 'lidar_stream_name')).toBe('error');
  });

  it('rejects @lidar of camera type', () => {
    const document = load('boxes_2d_one_camera.json');
    document.openlabel.streams['@lidar'] = { type: 'camera' };

    expect(severityAt(validate(document), '/openlabel/streams/@lidar/type', 'lidar_stream_name')).toBe('error');
  });

  it('rejects bbox with three values', () => {
    const document = load('boxes_2d_one_camera.json');
    carBbox(document).val = [1, 2, 3];

    const result = validate(document);

    expect(codesAt(result, `${CAR_BBOX}/val`)).toEqual(['invalid_bbox']);
    expect(severityAt(result, `${CAR_BBOX}/val`, 'invalid_bbox')).toBe('error');
  });

  it('rejects bbox of zero width', () => {
    const document = load('boxes_2d_one_camera.json');
    carBbox(document).val = [640, 360, 0, 80];

    expect(severityAt(validate(document), `${CAR_BBOX}/val`, 'invalid_bbox')).toBe('error');
  });

  it('rejects 9-value Euler cuboid', () => {
    const document = load('cuboids_lidar.json');
    carCuboid(document).val = [12.5, -3.2, 0.8, 0, 0, 0.1, 1.9, 4.6, 1.6];

    const result = validate(document);
    const finding = result.findings.find((candidate) => candidate.code === 'euler_cuboid');

    expect(severityAt(result, `${CAR_CUBOID}/val`, 'euler_cuboid')).toBe('error');
    expect(finding?.message).toContain('[x, y, z, qx, qy, qz, qw, width, length, height]');
  });

  it('rejects null cuboid val', () => {
    const document = load('cuboids_lidar.json');
    carCuboid(document).val = null;

    expect(severityAt(validate(document), `${CAR_CUBOID}/val`, 'invalid_cuboid')).toBe('error');
  });

  it('rejects negative cuboid size', () => {
    const document = load('cuboids_lidar.json');
    carCuboid(document).val = [12.5, -3.2, 0.8, 0, 0, 0, 1, 1.9, -4.6, 1.6];

    expect(severityAt(validate(document), `${CAR_CUBOID}/val`, 'invalid_cuboid')).toBe('error');
  });

  it('rejects non-unit quaternion', () => {
    const document = load('cuboids_lidar.json');
    carCuboid(document).val = [12.5, -3.2, 0.8, 0, 0, 0, 0.5, 1.9, 4.6, 1.6];

    expect(severityAt(validate(document), `${CAR_CUBOID}/val`, 'invalid_quaternion')).toBe('error');
  });

  it('accepts quaternion within tolerance', () => {
    const document = load('cuboids_lidar.json');
    carCuboid(document).val = [12.5, -3.2, 0.8, 0, 0, 0, 1.0009, 1.9, 4.6, 1.6];

    expect(validate(document).valid).toBe(true);
  });

  it('rejects confidence above 1', () => {
    const document = load('boxes_2d_one_camera.json');
    carBbox(document).attributes.num[0].val = 1.2;

    expect(severityAt(validate(document), `${CAR_BBOX}/attributes/num/0/val`, 'invalid_confidence')).toBe('error');
  });

  it('reports string confidence once', () => {
    const document = load('boxes_2d_one_camera.json');
    carBbox(document).attributes.num[0].val = '0.9';

    const result = validate(document);

    expect(codesAt(result, `${CAR_BBOX}/attributes/num/0/val`)).toEqual(['invalid_confidence']);
  });

  it('rejects confidence as text attribute', () => {
    const document = load('boxes_2d_one_camera.json');
    carBbox(document).attributes.text.push({ name: 'confidence', val: '0.9' });

    expect(severityAt(validate(document), `${CAR_BBOX}/attributes/text/1`, 'invalid_confidence')).toBe('error');
  });
});

describe('segmentation rules', () => {
  it('rejects image of jpeg mime type', () => {
    const document = load('segmentation_bitmap.json');
    segmentationImage(document).mime_type = 'image/jpeg';

    expect(severityAt(validate(document), `${SEGMENTATION_IMAGE}/mime_type`, 'invalid_image_encoding')).toBe('error');
  });

  it('rejects image of other encoding', () => {
    const document = load('segmentation_bitmap.json');
    segmentationImage(document).encoding = 'hex';

    expect(severityAt(validate(document), `${SEGMENTATION_IMAGE}/encoding`, 'invalid_image_encoding')).toBe('error');
  });

  it('rejects image that is not base64', () => {
    const document = load('segmentation_bitmap.json');
    segmentationImage(document).val = 'not base64!';

    expect(severityAt(validate(document), `${SEGMENTATION_IMAGE}/val`, 'invalid_image_data')).toBe('error');
  });

  it('rejects base64 that is not PNG', () => {
    const document = load('segmentation_bitmap.json');
    segmentationImage(document).val = Buffer.from('GIF89a, not a PNG file at all, padded out').toString('base64');

    expect(severityAt(validate(document), `${SEGMENTATION_IMAGE}/val`, 'invalid_image_data')).toBe('error');
  });

  it('rejects RGB PNG', () => {
    const document = load('segmentation_bitmap.json');
    const rgb = encodePng({ width: 2, height: 2, samples: new Uint8Array(12), colourType: 2 });
    segmentationImage(document).val = rgb.toString('base64');

    expect(severityAt(validate(document), `${SEGMENTATION_IMAGE}/val`, 'unsupported_png_format')).toBe('error');
  });

  it('rejects 16-bit PNG', () => {
    const document = load('segmentation_bitmap.json');
    const png = encodePng({ width: 2, height: 2, samples: new Uint8Array(4) });
    png[24] = 16; // IHDR bit depth; the header CRC is not checked
    segmentationImage(document).val = png.toString('base64');

    expect(severityAt(validate(document), `${SEGMENTATION_IMAGE}/val`, 'unsupported_png_format')).toBe('error');
  });

  it('rejects segmentation without ontology', () => {
    const document = load('segmentation_bitmap.json');
    delete document.openlabel.ontologies;

    expect(severityAt(validate(document), '/openlabel/ontologies', 'missing_segmentation_ontology')).toBe('error');
  });

  it('rejects class key above 255', () => {
    const document = load('segmentation_bitmap.json');
    document.openlabel.ontologies['0'].classifications['256'] = 'sky';

    expect(severityAt(validate(document), '/openlabel/ontologies/0/classifications/256', 'invalid_segmentation_class')).toBe('error');
  });

  it('warns on segmentation object type', () => {
    const document = load('segmentation_bitmap.json');
    document.openlabel.objects[SEGMENTATION].type = 'Road';

    const result = validate(document);

    expect(result.valid).toBe(true);
    expect(severityAt(result, `/openlabel/objects/${SEGMENTATION}/type`, 'segmentation_object_type')).toBe('warning');
  });
});
