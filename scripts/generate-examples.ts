/**
 * Writes examples/: synthetic 2D-box predictions for the sandbox's "Urban camera 2D" dataset, used
 * by `npm run demo` and the README. The output is the same on every run, because scene UUIDs come
 * from the sandbox seed and every other value from the item's index.
 */
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { seededSceneUuids, URBAN_CAMERA_DATASET_UUID } from '../src/sandbox/seed.js';
import { BOX_STREAM, makeBoxPrediction, type PredictionDocument } from '../test/helpers/predictions.js';

const EXAMPLES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'examples');
const CLASSES = ['Car', 'Pedestrian', 'Cyclist', 'Truck', 'Bus'];
const JSONL_ITEMS = 280;
const JSON_FILE_ITEMS = 10;

function detections(index: number): PredictionDocument {
  return makeBoxPrediction({ boxCount: 1 + (index % 6), className: CLASSES[index % CLASSES.length]! });
}

/** Returns the first object's first bbox of a document, for the deliberate mistakes below. */
function firstBox(document: PredictionDocument): Record<string, unknown> {
  const frame = (document.openlabel.frames as Record<string, { objects: Record<string, { object_data: { bbox: Array<Record<string, unknown>> } }> }>)['0']!;
  return Object.values(frame.objects)[0]!.object_data.bbox[0]!;
}

/** Predictions with one typical mistake each, so the demo shows how invalid items are reported. */
function mistakes(): Array<{ note: string; document: PredictionDocument }> {
  const polygon = detections(1);
  const polygonFrame = (polygon.openlabel.frames as Record<string, { objects: Record<string, { object_data: Record<string, unknown> }> }>)['0']!;
  const polygonObject = Object.values(polygonFrame.objects)[0]!;
  polygonObject.object_data = {
    poly2d: [
      {
        name: 'outline',
        val: [10, 10, 60, 10, 60, 40],
        mode: 'MODE_POLY2D_ABSOLUTE',
        closed: true,
        attributes: { text: [{ name: 'stream', val: BOX_STREAM }] },
      },
    ],
  };

  const noStream = detections(2);
  delete (firstBox(noStream).attributes as Record<string, unknown>).text;

  const highConfidence = detections(3);
  (firstBox(highConfidence).attributes as { num: Array<{ val: number }> }).num[0]!.val = 1.7;

  const zeroWidth = detections(4);
  (firstBox(zeroWidth).val as number[])[2] = 0;

  const wrongVersion = detections(5);
  wrongVersion.openlabel.metadata = { schema_version: '0.3.0' };

  return [
    { note: 'a poly2d polygon, which predictions do not accept', document: polygon },
    { note: 'a bbox without its stream attribute', document: noStream },
    { note: 'a confidence of 1.7', document: highConfidence },
    { note: 'a bbox of width 0', document: zeroWidth },
    { note: 'schema_version 0.3.0', document: wrongVersion },
  ];
}

function main(): void {
  const scenes = seededSceneUuids(URBAN_CAMERA_DATASET_UUID);
  mkdirSync(EXAMPLES, { recursive: true });
  for (const name of readdirSync(EXAMPLES)) {
    if (name.endsWith('.json') || name.endsWith('.jsonl')) {
      rmSync(path.join(EXAMPLES, name));
    }
  }

  const lines: string[] = [];
  for (let index = 0; index < JSONL_ITEMS; index++) {
    lines.push(JSON.stringify({ sceneUuid: scenes[index], openlabel: detections(index) }));
  }
  writeFileSync(path.join(EXAMPLES, 'urban-camera-detections.jsonl'), `${lines.join('\n')}\n`);

  for (let index = JSONL_ITEMS; index < JSONL_ITEMS + JSON_FILE_ITEMS; index++) {
    writeFileSync(path.join(EXAMPLES, `${scenes[index]}.json`), `${JSON.stringify(detections(index), null, 2)}\n`);
  }

  const broken = mistakes().map(({ document }, offset) =>
    JSON.stringify({ sceneUuid: scenes[JSONL_ITEMS + JSON_FILE_ITEMS + offset], openlabel: document }),
  );
  writeFileSync(path.join(EXAMPLES, 'needs-fixing.jsonl'), `${broken.join('\n')}\n`);

  const total = JSONL_ITEMS + JSON_FILE_ITEMS + broken.length;
  process.stdout.write(`Wrote ${total} predictions to ${EXAMPLES} (${broken.length} invalid on purpose).\n`);
  for (const { note } of mistakes()) {
    process.stdout.write(`  needs-fixing.jsonl: ${note}\n`);
  }
}

main();
