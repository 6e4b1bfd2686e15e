/**
 * Validation of real third-party OpenLABEL files and of the synthetic Kognic predictions. None
 * of the third-party files is a valid Kognic prediction as is, and each row lists the findings
 * that explain why.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

import { FINDING_CODES, validatePrediction, type ValidationResult } from '../src/predictions/validation.js';
import { makeSegmentationPngBase64 } from './helpers/png.js';
import { readSyntheticPrediction } from './helpers/predictions.js';

const SCENE_UUID = '7c9e6679-7425-40de-944b-e07fc1f90ae7';
const THIRD_PARTY_DIR = new URL('./fixtures/openlabel/third-party/', import.meta.url);
const SYNTHETIC_DIR = new URL('./fixtures/openlabel/synthetic/', import.meta.url);

/** Maximum length of a finding message, in characters. */
const MAX_MESSAGE_CHARS = 200;

/** Codes that must be among the reported findings of each third-party file. */
const THIRD_PARTY_EXPECTATIONS: Record<string, string[]> = {
  'raillabel_empty_objects_frames_streams.json': ['no_frames'],
  'raillabel_multisensor_bbox_poly2d_cuboid10_poly3d.json': [
    'lidar_stream_name',
    'missing_stream',
    'unsupported_geometry',
    'invalid_bbox',
    'invalid_quaternion',
    'timestamp_is_string',
  ],
  'raillabel_uri_text_attrs_int_vals.json': ['lidar_stream_name', 'missing_stream', 'unsupported_geometry', 'invalid_quaternion', 'timestamp_is_string'],
  'vcd_bbox_sequence_dynamic_num_text_bool.json': ['missing_frame_properties', 'missing_stream'],
  'vcd_bbox_sequence_geometry_bool_attrs.json': ['missing_frame_properties', 'missing_stream', 'object_key_not_uuid'],
  'vcd_bbox_sequence_pretty_frame_gaps.json': ['missing_frame_properties', 'missing_stream'],
  'vcd_bbox_static_confidence_attrs.json': ['no_frames', 'static_geometry', 'object_key_not_uuid'],
  'vcd_coordsys_poses_matrix_and_euler.json': ['no_frames'],
  'vcd_cuboid9_and_null_val_odd_keys.json': ['no_frames', 'static_geometry', 'euler_cuboid', 'invalid_cuboid'],
  'vcd_dmd_actions_contexts_no_geometry.json': ['no_geometry', 'missing_frame_properties'],
  'vcd_image_base64_png_empty_name_type.json': ['no_frames', 'static_geometry', 'unsupported_png_format', 'empty_object_type'],
  'vcd_metadata_only_extra_keys.json': ['no_frames'],
  'vcd_objects_only_no_object_data.json': ['no_frames'],
  'vcd_objects_without_data_empty_frame_entries.json': ['no_geometry', 'missing_frame_properties'],
  'vcd_ontology_uid_types.json': ['no_frames'],
  'vcd_poly2d_absolute_and_chaincode.json': ['no_frames', 'static_geometry', 'unsupported_geometry'],
  'vcd_poly2d_nested_point_pairs_INVALID.json': ['no_frames', 'static_geometry', 'unsupported_geometry', 'schema_violation'],
  'vcd_static_poly2d_with_empty_frames.json': ['no_geometry', 'static_geometry', 'unsupported_geometry', 'missing_frame_properties'],
  'vcd_streams_coordsys_string_timestamps_no_objects.json': ['no_geometry', 'invalid_timestamp'],
  'xtreme1_static_bbox_cuboid9_no_frames.json': ['no_frames', 'static_geometry', 'euler_cuboid'],
};

const SYNTHETIC_FILES = ['boxes_2d_one_camera.json', 'cuboids_lidar.json', 'sequence_two_frames.json', 'segmentation_bitmap.json'];

function validateFile(directory: URL, fileName: string): ValidationResult {
  const text = readFileSync(new URL(fileName, directory), 'utf8');
  return validatePrediction({ sceneUuid: SCENE_UUID, openlabel: text });
}

describe('third-party fixtures', () => {
  it('covers every JSON file', () => {
    const files = readdirSync(THIRD_PARTY_DIR).filter((name) => name.endsWith('.json')).sort();

    expect(files).toEqual(Object.keys(THIRD_PARTY_EXPECTATIONS).sort());
  });

  for (const [fileName, expectedCodes] of Object.entries(THIRD_PARTY_EXPECTATIONS)) {
    describe(fileName, () => {
      const result = validateFile(THIRD_PARTY_DIR, fileName);
      const codes = new Set(result.findings.map((finding) => finding.code));

      it('is not a valid prediction', () => {
        expect(result.valid).toBe(false);
      });

      for (const code of expectedCodes) {
        it(`reports ${code}`, () => {
          expect(codes.has(code)).toBe(true);
        });
      }

      it('uses only listed codes', () => {
        const unlisted = [...codes].filter((code) => !Object.hasOwn(FINDING_CODES, code));

        expect(unlisted).toEqual([]);
      });

      it('keeps messages short', () => {
        const long = result.findings.filter((finding) => finding.message.length > MAX_MESSAGE_CHARS).map((finding) => finding.message);

        expect(long).toEqual([]);
      });
    });
  }
});

describe('synthetic fixtures', () => {
  for (const fileName of SYNTHETIC_FILES) {
    it(`accepts ${fileName}`, () => {
      const result = validateFile(SYNTHETIC_DIR, fileName);

      expect(result.findings).toEqual([]);
    });
  }

  it('holds the helper-made PNG', () => {
    const document = readSyntheticPrediction('segmentation_bitmap.json');
    const frames = document.openlabel.frames as Record<string, { objects: Record<string, { object_data: { image: Array<{ val: string }> } }> }>;
    const [frameObject] = Object.values(frames['0']?.objects ?? {});

    expect(frameObject?.object_data.image[0]?.val).toBe(makeSegmentationPngBase64());
  });
});
