/** Retry timing: the server's `Retry-After`, capped exponential backoff, and an abortable wait. */
import { setTimeout as sleep } from 'node:timers/promises';

import { abortErrorFrom } from './errors.js';

/** Cap on a pause that the server requests with `Retry-After`, in milliseconds. */
export const MAX_RETRY_AFTER_MS = 120_000;

/** First backoff step, in milliseconds; the n-th retry waits up to `BACKOFF_BASE_MS * 2^(n-1)`. */
export const BACKOFF_BASE_MS = 500;

/** Cap on one backoff wait, in milliseconds. */
export const BACKOFF_MAX_MS = 15_000;

/** Statuses that mean "try again later" with nothing done: bad gateway, unavailable, gateway timeout. */
export const RETRYABLE_STATUSES: ReadonlySet<number> = new Set([502, 503, 504]);

const DELTA_SECONDS = /^\d+(?:\.\d+)?$/;

/**
 * Parses a `Retry-After` header into a delay in milliseconds from `nowMs`, capped at
 * MAX_RETRY_AFTER_MS. Accepts delta-seconds and an HTTP-date (a date in the past gives 0).
 * Returns undefined for a missing, empty, negative or unparsable value.
 */
export function parseRetryAfter(value: string | string[] | undefined, nowMs: number): number | undefined {
  const text = (Array.isArray(value) ? value[0] : value)?.trim();
  if (text === undefined || text === '') {
    return undefined;
  }

  // NOTE: RFC 9110 allows only an integer here. A decimal such as "1.5" is accepted too,
  // because some servers send one.
  if (DELTA_SECONDS.test(text)) {
    return Math.min(Math.round(Number(text) * 1000), MAX_RETRY_AFTER_MS);
  }

  // Only a value with letters can be an HTTP-date ("Wed, 21 Oct 2015 07:28:00 GMT"); this keeps
  // Date.parse from reading "-1" or "3e2" as a year.
  if (!/[a-z]/i.test(text)) {
    return undefined;
  }

  const dateMs = Date.parse(text);
  if (Number.isNaN(dateMs)) {
    return undefined;
  }
  return Math.min(Math.max(dateMs - nowMs, 0), MAX_RETRY_AFTER_MS);
}

export interface BackoffOptions {
  baseMs?: number;
  maxMs?: number;
  /** Source of randomness in [0, 1); tests pass a fixed one. */
  random?: () => number;
}

/**
 * Returns the wait before retry number `attempt` (counting from 1): a uniformly random delay
 * between 0 and `min(maxMs, baseMs * 2^(attempt-1))` ("full jitter"), so that many clients
 * that failed together do not retry together.
 */
export function backoffDelayMs(attempt: number, options: BackoffOptions = {}): number {
  const baseMs = options.baseMs ?? BACKOFF_BASE_MS;
  const maxMs = options.maxMs ?? BACKOFF_MAX_MS;
  const random = options.random ?? Math.random;

  const exponent = Math.max(Math.floor(attempt), 1) - 1;
  const ceilingMs = Math.min(maxMs, baseMs * 2 ** exponent);
  return Math.floor(random() * ceilingMs);
}

/** Waits `ms` milliseconds; rejects with an AbortError as soon as `signal` aborts. */
export async function waitMs(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) {
    throw abortErrorFrom(signal);
  }

  try {
    await sleep(ms, undefined, signal === undefined ? undefined : { signal });
  } catch (error) {
    if (signal?.aborted) {
      throw abortErrorFrom(signal);
    }
    throw error;
  }
}
