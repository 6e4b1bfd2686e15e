/**
 * Builders of valid Kognic predictions for tests and benchmarks. Every document they return
 * passes `validatePrediction` with no error (the validation tests check this).
 */
import { readFileSync } from 'node:fs';

/** The camera stream every generated box sits on. */
export const BOX_STREAM = 'CAM_FRONT';

export type PredictionDocument = { openlabel: Record<string, unknown> };

export interface BoxPredictionOptions {
  /** Number of boxes, one object each; defaults to 1. Ignored when `padToBytes` is larger. */
  boxCount?: number;
  /** Adds boxes until the JSON text is about this many bytes (within about 1%). */
  padToBytes?: number;
  /** The frame timestamp in milliseconds; defaults to 0. */
  timestamp?: number;
  /** The object type (class name); defaults to "Car". */
  className?: string;
}

/** Returns a UUID built from `index`, so that generated data is the same on every run. */
export function indexedUuid(index: number, prefix = '00000000'): string {
  const tail = index.toString(16).padStart(12, '0');
  return `${prefix}-0000-4000-8000-${tail}`;
}

/** Returns the scene UUID for the `index`-th generated prediction. */
export function sceneUuidFor(index: number): string {
  return indexedUuid(index, '5ce0e000');
}

function buildBoxPrediction(boxCount: number, timestamp: number, className: string): PredictionDocument {
  const objects: Record<string, unknown> = {};
  const frameObjects: Record<string, unknown> = {};

  for (let index = 0; index < boxCount; index++) {
    const key = indexedUuid(index, '0b1ec700');
    objects[key] = { name: `det-${index}`, type: className };
    frameObjects[key] = {
      object_data: {
        bbox: [
          {
            name: `det-${index}-bbox`,
            val: [100 + (index % 1000), 100 + ((index * 7) % 700), 40 + (index % 20), 30 + (index % 15)],
            attributes: {
              text: [{ name: 'stream', val: BOX_STREAM }],
              num: [{ name: 'confidence', val: 0.5 + (index % 50) / 100 }],
            },
          },
        ],
      },
    };
  }

  return {
    openlabel: {
      metadata: { schema_version: '1.0.0' },
      streams: { [BOX_STREAM]: { type: 'camera' } },
      objects,
      frames: {
        '0': {
          frame_properties: { timestamp, external_id: '', streams: {} },
          objects: frameObjects,
        },
      },
    },
  };
}

/** Returns a valid 2D-box prediction with one frame on the camera stream BOX_STREAM. */
export function makeBoxPrediction(options: BoxPredictionOptions = {}): PredictionDocument {
  const timestamp = options.timestamp ?? 0;
  const className = options.className ?? 'Car';
  let boxCount = Math.max(1, options.boxCount ?? 1);

  if (options.padToBytes !== undefined) {
    const oneBoxBytes = JSON.stringify(buildBoxPrediction(1, timestamp, className)).length;
    const twoBoxBytes = JSON.stringify(buildBoxPrediction(2, timestamp, className)).length;
    const bytesPerBox = twoBoxBytes - oneBoxBytes;
    const firstGuess = 1 + Math.ceil((options.padToBytes - oneBoxBytes) / bytesPerBox);
    if (firstGuess <= boxCount) {
      return buildBoxPrediction(boxCount, timestamp, className);
    }

    // Boxes with larger indexes are a few bytes longer, so correct the guess once by the
    // measured average size of a box.
    const guessBytes = JSON.stringify(buildBoxPrediction(firstGuess, timestamp, className)).length;
    const averageBytesPerBox = (guessBytes - oneBoxBytes) / (firstGuess - 1);
    boxCount = Math.max(boxCount, 1 + Math.ceil((options.padToBytes - oneBoxBytes) / averageBytesPerBox));
  }

  return buildBoxPrediction(boxCount, timestamp, className);
}

/** Reads a synthetic fixture from `test/fixtures/openlabel/synthetic/` as a fresh, parsed document. */
export function readSyntheticPrediction(fileName: string): PredictionDocument {
  const url = new URL(`../fixtures/openlabel/synthetic/${fileName}`, import.meta.url);
  return JSON.parse(readFileSync(url, 'utf8')) as PredictionDocument;
}
