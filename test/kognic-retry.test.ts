import { describe, expect, it } from 'vitest';

import {
  backoffDelayMs,
  MAX_RETRY_AFTER_MS,
  parseRetryAfter,
  RETRYABLE_STATUSES,
  waitMs,
} from '../src/kognic/retry.js';

const NOW_MS = Date.parse('2026-03-01T12:00:00Z');

describe('parseRetryAfter', () => {
  it('reads integer seconds', () => {
    expect(parseRetryAfter('2', NOW_MS)).toBe(2000);
  });

  it('reads decimal seconds', () => {
    expect(parseRetryAfter('1.5', NOW_MS)).toBe(1500);
  });

  it('reads zero seconds', () => {
    expect(parseRetryAfter('0', NOW_MS)).toBe(0);
  });

  it('trims surrounding whitespace', () => {
    expect(parseRetryAfter(' 3 ', NOW_MS)).toBe(3000);
  });

  it('takes the first array value', () => {
    expect(parseRetryAfter(['4', '9'], NOW_MS)).toBe(4000);
  });

  it('reads a future HTTP-date', () => {
    expect(parseRetryAfter('Sun, 01 Mar 2026 12:00:05 GMT', NOW_MS)).toBe(5000);
  });

  it('gives 0 for a past HTTP-date', () => {
    expect(parseRetryAfter('Sun, 01 Mar 2026 11:59:00 GMT', NOW_MS)).toBe(0);
  });

  it('caps large delays', () => {
    expect(parseRetryAfter('86400', NOW_MS)).toBe(MAX_RETRY_AFTER_MS);
  });

  it('caps far HTTP-dates', () => {
    expect(parseRetryAfter('Mon, 02 Mar 2026 12:00:00 GMT', NOW_MS)).toBe(MAX_RETRY_AFTER_MS);
  });

  it.each([
    ['missing', undefined],
    ['empty', ''],
    ['negative', '-1'],
    ['exponent', '3e2'],
    ['garbage', 'soon'],
    ['empty array', []],
  ])('rejects %s values', (_case, value) => {
    expect(parseRetryAfter(value as string | string[] | undefined, NOW_MS)).toBeUndefined();
  });
});

describe('backoffDelayMs', () => {
  it('uses base for attempt one', () => {
    expect(backoffDelayMs(1, { random: () => 0.999_999 })).toBe(499);
  });

  it('doubles per attempt', () => {
    expect(backoffDelayMs(3, { baseMs: 100, random: () => 0.5 })).toBe(200);
  });

  it('caps at maxMs', () => {
    expect(backoffDelayMs(30, { random: () => 0.999_999 })).toBe(14_999);
  });

  it('jitters down to zero', () => {
    expect(backoffDelayMs(5, { random: () => 0 })).toBe(0);
  });

  it('treats attempt zero as one', () => {
    expect(backoffDelayMs(0, { baseMs: 100, random: () => 0.5 })).toBe(50);
  });

  it('stays within the ceiling', () => {
    for (let attempt = 1; attempt <= 10; attempt += 1) {
      expect(backoffDelayMs(attempt)).toBeLessThan(Math.min(15_000, 500 * 2 ** (attempt - 1)));
    }
  });
});

describe('retry constants and waits', () => {
  it('retries gateway statuses only', () => {
    expect([...RETRYABLE_STATUSES].sort()).toEqual([502, 503, 504]);
  });

  it('aborts a wait early', async () => {
    const controller = new AbortController();
    const startedAt = Date.now();
    setTimeout(() => controller.abort(), 20);

    const error = await waitMs(10_000, controller.signal).catch((caught: unknown) => caught);

    expect((error as Error).name).toBe('AbortError');
    expect(Date.now() - startedAt).toBeLessThan(5_000);
  });

  it('rejects an aborted signal', async () => {
    const error = await waitMs(10, AbortSignal.abort()).catch((caught: unknown) => caught);
    expect((error as Error).name).toBe('AbortError');
  });
});
