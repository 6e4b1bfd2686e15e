/**
 * Garbage collector settings for the server process, imported first by the CLI. They keep the
 * peak memory of a long upload near its live data. BENCHMARKS.md has the measurements.
 *
 * - Old generation: V8 lets it grow to up to four times its live size between full collections
 *   when those are cheap. During an upload that was about 100 MB for 25 MB of live data, so the
 *   growth is limited to OLD_GENERATION_GROWTH_PERCENT.
 * - Young generation: in Node 20, V8 doubles its two semi-spaces up to 16 MB each, 32 MB in all
 *   (measured with `v8.getHeapSpaceStatistics()`). Here they stop growing at MAX_NEW_SPACE_BYTES
 *   in all. The check runs after each collection, so a burst of allocation within one turn of
 *   the event loop, such as parsing one large prediction, can still grow them past it. V8 shrinks
 *   them again when allocation slows down.
 */
import { PerformanceObserver } from 'node:perf_hooks';
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';

/** Growth of the old generation allowed after each full collection, in percent of its live size. */
export const OLD_GENERATION_GROWTH_PERCENT = 30;

/** Size of the young generation (both semi-spaces) at which it stops growing. */
export const MAX_NEW_SPACE_BYTES = 16 * 1024 * 1024;

/** V8's default factor by which the young generation grows. */
const DEFAULT_NEW_SPACE_GROWTH_FACTOR = 2;

// NOTE: V8 reads both flags when it collects, so setting them after start-up takes effect. This
// was measured with the V8 of Node 20 only. A V8 that drops a flag prints one line to stderr.
setFlagsFromString(`--heap-growing-percent=${OLD_GENERATION_GROWTH_PERCENT}`);

let newSpaceGrowthFactor = DEFAULT_NEW_SPACE_GROWTH_FACTOR;

/** Stops the young generation's growth at MAX_NEW_SPACE_BYTES and allows it again after V8 shrank it. */
function limitNewSpace(): void {
  const newSpace = getHeapSpaceStatistics().find((space) => space.space_name === 'new_space');
  if (newSpace === undefined) {
    return;
  }

  const factor = newSpace.space_size >= MAX_NEW_SPACE_BYTES ? 1 : DEFAULT_NEW_SPACE_GROWTH_FACTOR;
  if (factor !== newSpaceGrowthFactor) {
    setFlagsFromString(`--semi-space-growth-factor=${factor}`);
    newSpaceGrowthFactor = factor;
  }
}

const observer = new PerformanceObserver(limitNewSpace);
observer.observe({ entryTypes: ['gc'] });
