/** Summary statistics of repeated measurements. */

export interface Spread {
  median: number;
  min: number;
  max: number;
  /** Every measurement, in run order. */
  runs: number[];
}

/** Returns the median of `values`: the middle value, or the mean of the two middle values. */
export function median(values: readonly number[]): number {
  if (values.length === 0) {
    throw new Error('median() needs at least one value.');
  }

  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

export function spreadOf(runs: readonly number[]): Spread {
  return { median: median(runs), min: Math.min(...runs), max: Math.max(...runs), runs: [...runs] };
}

/** Returns `1 run` or `<count> runs`. */
export function describeRunCount(count: number): string {
  return count === 1 ? '1 run' : `${count} runs`;
}
