/** Writes large JSONL prediction files for the benchmarks without holding them in memory. */
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { statfs } from 'node:fs/promises';

import { makeBoxPrediction } from '../test/helpers/predictions.js';

/**
 * Writes one `{"sceneUuid", "openlabel"}` line per scene, each carrying the same valid 2D-box
 * prediction of about `predictionBytes` bytes, and returns the file size in bytes. Lines are
 * written as the stream drains, so memory stays at one line whatever the number of scenes.
 */
export async function writePredictionFile(file: string, sceneUuids: readonly string[], predictionBytes: number): Promise<number> {
  const openlabelJson = JSON.stringify(makeBoxPrediction({ padToBytes: predictionBytes }));
  const stream = createWriteStream(file);
  let bytes = 0;

  for (const sceneUuid of sceneUuids) {
    const line = `{"sceneUuid":${JSON.stringify(sceneUuid)},"openlabel":${openlabelJson}}\n`;
    bytes += Buffer.byteLength(line);
    if (!stream.write(line)) {
      await once(stream, 'drain');
    }
  }

  stream.end();
  await once(stream, 'finish');
  return bytes;
}

/** Free bytes on the file system that contains `folder`, for an unprivileged user. */
export async function freeBytes(folder: string): Promise<number> {
  const stats = await statfs(folder);
  return stats.bavail * stats.bsize;
}
