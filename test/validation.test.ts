/** The validation entry point: scene UUID, parsing, size, the result shape, the cap and the helpers. */
import { describe, expect, it } from 'vitest';

import { FINDING_CODES, MAX_FINDINGS_PER_ITEM, MAX_PREDICTION_BYTES, validatePrediction } from '../src/predictions/validation.js';
import { readPngHeader } from '../src/predictions/validation/segmentation.js';
import { crc32, encodePng } from './helpers/png.js';
import { BOX_STREAM, makeBoxPrediction, sceneUuidFor } from './helpers/predictions.js';

const SCENE_UUID = 'a3bb189e-8bf9-4888-9912-ace4e6543002';

describe('scene UUID', () => {
  it('accepts and lower-cases a UUID', () => {
    const result = validatePrediction({ sceneUuid: SCENE_UUID.toUpperCase(), openlabel: makeBoxPrediction() });

    expect(result.sceneUuid).toBe(SCENE_UUID);
  });

  it('accepts any UUID version', () => {
    const result = validatePrediction({ sceneUuid: '00000000-0000-0000-0000-000000000000', openlabel: makeBoxPrediction() });

    expect(result.valid).toBe(true);
  });

  for (const [label, sceneUuid] of [
    ['missing', undefined],
    ['a number', 42],
    ['too short', 'a3bb189e-8bf9-4888-9912-ace4e654300'],
    ['not hex', 'g3bb189e-8bf9-4888-9912-ace4e6543002'],
  ] as const) {
    it(`rejects UUID ${label}`, () => {
      const result = validatePrediction({ sceneUuid, openlabel: makeBoxPrediction() });
      const finding = result.findings.find((candidate) => candidate.code === 'invalid_scene_uuid');

      expect(finding?.pointer).toBe('/sceneUuid');
    });
  }

  it('omits sceneUuid when invalid', () => {
    const result = validatePrediction({ sceneUuid: 'scene-1', openlabel: makeBoxPrediction() });

    expect(result.sceneUuid).toBeUndefined();
  });
});

describe('document input', () => {
  it('accepts a parsed document', () => {
    const result = validatePrediction({ sceneUuid: SCENE_UUID, openlabel: makeBoxPrediction() });

    expect(result.valid).toBe(true);
    expect(result.findings).toEqual([]);
    expect(result.errorCount).toBe(0);
    expect(result.warningCount).toBe(0);
    expect(result.omittedFindings).toBe(0);
  });

  it('keeps the original text', () => {
    const text = JSON.stringify(makeBoxPrediction(), null, 2);

    const result = validatePrediction({ sceneUuid: SCENE_UUID, openlabel: text });

    expect(result.documentJson).toBe(text);
  });

  it('serialises a parsed document', () => {
    const document = makeBoxPrediction();

    const result = validatePrediction({ sceneUuid: SCENE_UUID, openlabel: document });

    expect(result.documentJson).toBe(JSON.stringify(document));
  });

  it('returns the parsed text', () => {
    const document = makeBoxPrediction();

    const result = validatePrediction({ sceneUuid: SCENE_UUID, openlabel: JSON.stringify(document) });

    expect(result.document).toEqual(document);
  });

  it('returns an invalid document too', () => {
    const document = makeBoxPrediction();
    delete document.openlabel.metadata;

    const result = validatePrediction({ sceneUuid: SCENE_UUID, openlabel: document });

    expect(result.document).toBe(document);
  });

  it('reports the JSON error position', () => {
    const result = validatePrediction({ sceneUuid: SCENE_UUID, openlabel: '{"openlabel":{},}' });
    const finding = result.findings.find((candidate) => candidate.code === 'invalid_json');

    expect(finding?.message).toContain('position 16');
  });

  it('returns no document on bad JSON', () => {
    const result = validatePrediction({ sceneUuid: SCENE_UUID, openlabel: '{"openlabel":{},}' });

    expect(result.document).toBeUndefined();
  });

  for (const [label, openlabel] of [
    ['an inner document', { metadata: { schema_version: '1.0.0' } }],
    ['an array', [makeBoxPrediction()]],
    ['a number', 7],
    ['openlabel as text', { openlabel: '{}' }],
  ] as const) {
    it(`rejects ${label}`, () => {
      const result = validatePrediction({ sceneUuid: SCENE_UUID, openlabel });
      const finding = result.findings.find((candidate) => candidate.code === 'missing_openlabel_wrapper');

      expect(finding?.severity).toBe('error');
    });
  }

  it('names a missing document', () => {
    const result = validatePrediction({ sceneUuid: SCENE_UUID, openlabel: undefined });
    const finding = result.findings.find((candidate) => candidate.code === 'missing_openlabel_wrapper');

    expect(finding?.severity).toBe('error');
    expect(finding?.message).toContain('The item has no prediction');
    expect(finding?.message).not.toContain('undefined');
  });

  it('rejects an unserialisable document', () => {
    const document = makeBoxPrediction();
    document.openlabel.metadata = { schema_version: '1.0.0', size: 10n };

    const result = validatePrediction({ sceneUuid: SCENE_UUID, openlabel: document });

    expect(result.findings.map((finding) => finding.code)).toEqual(['invalid_json']);
  });
});

describe('prediction size', () => {
  it('rejects sizeBytes above the limit', () => {
    const result = validatePrediction({ sceneUuid: SCENE_UUID, openlabel: JSON.stringify(makeBoxPrediction()), sizeBytes: MAX_PREDICTION_BYTES + 1 });

    expect(result.findings.map((finding) => finding.code)).toEqual(['prediction_too_large']);
  });

  it('measures text in UTF-8 bytes', () => {
    // Two-byte characters: the string has fewer characters than the limit but more bytes.
    const text = 'é'.repeat(MAX_PREDICTION_BYTES / 2 + 1);

    const result = validatePrediction({ sceneUuid: SCENE_UUID, openlabel: text });

    expect(result.findings.map((finding) => finding.code)).toEqual(['prediction_too_large']);
  });

  it('measures a parsed document', () => {
    const document = makeBoxPrediction();
    document.openlabel.metadata = { schema_version: '1.0.0', comment: 'x'.repeat(MAX_PREDICTION_BYTES) };

    const result = validatePrediction({ sceneUuid: SCENE_UUID, openlabel: document });

    expect(result.findings.map((finding) => finding.code)).toEqual(['prediction_too_large']);
  });
});

describe('findings list', () => {
  it('caps 100 bad boxes', () => {
    const document = makeBoxPrediction({ boxCount: 100 });
    const frameObjects = (document.openlabel.frames as Record<string, { objects: Record<string, any> }>)['0']!.objects;
    for (const frameObject of Object.values(frameObjects)) {
      frameObject.object_data.bbox[0].val = [10, 10, 0, 0];
    }

    const result = validatePrediction({ sceneUuid: SCENE_UUID, openlabel: document });

    expect(result.findings).toHaveLength(MAX_FINDINGS_PER_ITEM);
    expect(result.omittedFindings).toBe(100 - MAX_FINDINGS_PER_ITEM);
    expect(result.errorCount).toBe(100);
  });

  it('lists errors before warnings', () => {
    const document = makeBoxPrediction();
    document.openlabel.objects = { ...(document.openlabel.objects as object), '5': { name: 'unused', type: 'Car' } };
    delete (document.openlabel.frames as Record<string, { frame_properties?: unknown }>)['0']!.frame_properties;

    const severities = validatePrediction({ sceneUuid: SCENE_UUID, openlabel: document }).findings.map((finding) => finding.severity);

    expect(severities).toEqual(['error', 'warning', 'warning']);
  });

  it('counts warnings apart from errors', () => {
    const document = makeBoxPrediction();
    document.openlabel.objects = { ...(document.openlabel.objects as object), '5': { name: 'unused', type: 'Car' } };

    const result = validatePrediction({ sceneUuid: SCENE_UUID, openlabel: document });

    expect(result.valid).toBe(true);
    expect(result.errorCount).toBe(0);
    expect(result.warningCount).toBe(2);
  });

  it('describes every code in one line', () => {
    const multiLine = Object.entries(FINDING_CODES).filter(([, description]) => description.includes('\n'));

    expect(multiLine).toEqual([]);
  });
});

describe('test helpers', () => {
  it('builds a valid box prediction', () => {
    const result = validatePrediction({ sceneUuid: sceneUuidFor(3), openlabel: makeBoxPrediction({ boxCount: 50 }) });

    expect(result.findings).toEqual([]);
  });

  it('puts boxes on the camera stream', () => {
    expect(Object.keys(makeBoxPrediction().openlabel.streams as object)).toEqual([BOX_STREAM]);
  });

  it('pads a prediction to about 1 MB', () => {
    const bytes = JSON.stringify(makeBoxPrediction({ padToBytes: 1_000_000 })).length;

    expect(Math.abs(bytes - 1_000_000)).toBeLessThan(10_000);
  });

  it('pads to a valid prediction', () => {
    const result = validatePrediction({ sceneUuid: SCENE_UUID, openlabel: makeBoxPrediction({ padToBytes: 200_000 }) });

    expect(result.valid).toBe(true);
  });

  it('computes the standard CRC-32', () => {
    expect(crc32(Buffer.from('123456789', 'latin1'))).toBe(0xcbf43926);
  });

  it('encodes a readable PNG header', () => {
    const png = encodePng({ width: 3, height: 2, samples: new Uint8Array(6) });

    expect(readPngHeader(png)).toEqual({ width: 3, height: 2, bitDepth: 8, colourType: 0 });
  });
});
