/** The README's examples stay true: its JSONL line is a valid prediction. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

import { validatePrediction } from '../src/predictions/validation.js';

const README = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../README.md');

/** Returns the first ```json block after `marker` in the README. */
function jsonBlockAfter(marker: string): string {
  const text = readFileSync(README, 'utf8');
  const start = text.indexOf(marker);
  expect(start, `README.md has no "${marker}"`).toBeGreaterThanOrEqual(0);
  const block = /```json\n([\s\S]*?)\n```/.exec(text.slice(start));
  expect(block, `README.md has no json block after "${marker}"`).not.toBeNull();
  return (block as RegExpExecArray)[1] as string;
}

describe('README', () => {
  it('shows a valid JSONL line', () => {
    const line = jsonBlockAfter('line of a `.jsonl` file');
    const item = JSON.parse(line) as { sceneUuid: string; openlabel: unknown };

    const result = validatePrediction({ sceneUuid: item.sceneUuid, openlabel: item.openlabel });

    expect(line).not.toContain('\n');
    expect(result.findings).toEqual([]);
    expect(result.valid).toBe(true);
  });
});
