/**
 * The CLI's garbage collector settings, checked in fresh Node processes because V8 flags are
 * process-wide: the young generation stops growing at its cap, and without the settings the same
 * allocations grow it past the cap.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { describe, expect, it } from 'vitest';

import { MAX_NEW_SPACE_BYTES } from '../src/heap-settings.js';

const BUILT_HEAP_SETTINGS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../dist/heap-settings.js');

/**
 * Allocates several hundred MB of short-lived objects in turns of about 2 MB, as an upload handles a chunk
 * of lines per turn of the event loop, keeping some alive for a while. It then prints the largest
 * young generation seen after a collection.
 */
const ALLOCATION_SCRIPT = `
const v8 = require('node:v8');
const { PerformanceObserver } = require('node:perf_hooks');
let largest = 0;
new PerformanceObserver(() => {
  const newSpace = v8.getHeapSpaceStatistics().find((space) => space.space_name === 'new_space');
  largest = Math.max(largest, newSpace.space_size);
}).observe({ entryTypes: ['gc'] });
let liveItems = [];
let round = 0;
function allocate() {
  for (let index = 0; index < 20000; index++) {
    liveItems.push({ index, text: 'item ' + index, values: [index, index + 1, index + 2] });
    if (liveItems.length > 10000) liveItems = [];
  }
  if (++round < 400) setImmediate(allocate);
  else setImmediate(() => process.stdout.write(String(largest)));
}
allocate();
`;

function largestNewSpaceBytes(withSettings: boolean): number {
  const preload = withSettings ? ['--import', pathToFileURL(BUILT_HEAP_SETTINGS).href] : [];
  const output = execFileSync(process.execPath, [...preload, '-e', ALLOCATION_SCRIPT], { encoding: 'utf8', timeout: 60_000 });
  return Number(output);
}

describe('heap settings', () => {
  it('cap the young generation', () => {
    expect(largestNewSpaceBytes(true)).toBeLessThanOrEqual(MAX_NEW_SPACE_BYTES);
  });

  it('cap a generation that grows without them', () => {
    expect(largestNewSpaceBytes(false)).toBeGreaterThan(MAX_NEW_SPACE_BYTES);
  });
});
