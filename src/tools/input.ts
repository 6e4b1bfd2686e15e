/**
 * Input schemas shared by the tools. Models and hosts send arguments loosely, so a number or
 * boolean sent as a string is accepted when the string is exactly a number or `true`/`false`,
 * and an object or array sent as JSON text is parsed once. String fields are never parsed.
 * Every schema here advertises plain JSON Schema: no `$ref`, no `format`, no
 * `exclusiveMinimum`, and `items` on every array, which strict hosts require.
 */
import { z } from 'zod';

const NUMBER_TEXT = /^-?(?:\d+|\d*\.\d+)(?:[eE][+-]?\d+)?$/;

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function coerceNumber(value: unknown): unknown {
  return typeof value === 'string' && NUMBER_TEXT.test(value) ? Number(value) : value;
}

function coerceBoolean(value: unknown): unknown {
  if (value === 'true') {
    return true;
  }
  return value === 'false' ? false : value;
}

function parseJsonOnce(value: unknown): unknown {
  if (typeof value !== 'string') {
    return value;
  }
  try {
    return JSON.parse(value);
  } catch {
    // Left as a string, so the schema reports the field as the wrong type.
    return value;
  }
}

/** Characters of a received string that an error message quotes; results must stay small. */
const MAX_QUOTED_CHARS = 40;

/** Returns a string value as JSON, cut after MAX_QUOTED_CHARS characters. */
export function quoteInput(value: string): string {
  return value.length > MAX_QUOTED_CHARS ? `${JSON.stringify(value.slice(0, MAX_QUOTED_CHARS))}... (${value.length} characters)` : JSON.stringify(value);
}

function describeReceived(input: unknown): string {
  if (typeof input === 'string') {
    return `the string ${quoteInput(input)}`;
  }
  return input === null ? 'null' : typeof input;
}

/**
 * Returns a schema for an integer in [min, max]; `"25"` is read as 25, while `""`, `"abc"`, `"12abc"` and `"10.5"` are
 * rejected. `reason` explains the range in the message for a value outside it.
 */
export function integerInput(min: number, max: number, reason?: string) {
  const range = max === Number.MAX_SAFE_INTEGER ? `an integer of at least ${min}` : `an integer from ${min} to ${max}`;
  const expected = reason === undefined ? `expected ${range}` : `expected ${range} (${reason})`;
  const outOfRange = (issue: { input?: unknown }) => `${expected}, got ${String(issue.input)}`;
  return z.preprocess(
    coerceNumber,
    z
      .number({ error: (issue) => `${expected}, got ${describeReceived(issue.input)}` })
      .int({ error: outOfRange })
      .min(min, { error: outOfRange })
      .max(max, { error: outOfRange }),
  );
}

/** `true`/`false`, also as the strings `"true"`/`"false"`. */
export function booleanInput() {
  return z.preprocess(
    coerceBoolean,
    z.boolean({ error: (issue) => `expected true or false, got ${describeReceived(issue.input)}` }),
  );
}

/** Returns a schema for an array, also accepted as the JSON text of an array. */
export function arrayInput<T extends z.ZodType>(item: T) {
  return z.preprocess(
    parseJsonOnce,
    z.array(item, { error: (issue) => `expected an array, got ${describeReceived(issue.input)}` }),
  );
}

/**
 * Returns a schema for a UUID written as 8-4-4-4-12 hexadecimal digits, checked here rather than
 * with `format`, which some hosts reject. The value is lower-cased, the canonical form (RFC 9562
 * reads UUIDs case-insensitively), because the API looks UUIDs up as they are written.
 */
export function uuidInput(what: string, whereToFind: string) {
  return z
    .string({ error: (issue) => `expected a ${what} UUID string, got ${describeReceived(issue.input)}` })
    .trim()
    .toLowerCase()
    .refine((value) => UUID_PATTERN.test(value), {
      error: (issue) => `${quoteInput(String(issue.input))} is not a ${what} UUID; ${whereToFind}`,
    })
    .describe(`The ${what} UUID (8-4-4-4-12 hexadecimal digits).`);
}

export function isUuid(value: string): boolean {
  return UUID_PATTERN.test(value);
}

/** Shared paging and filtering fields of the list tools. */
export const DEFAULT_PAGE_LIMIT = 50;
export const MAX_PAGE_LIMIT = 200;

export const pagingInputShape = {
  nameContains: z
    .string()
    .optional()
    .describe('Case-insensitive text that the name must contain. Omit to list everything.'),
  limit: integerInput(1, MAX_PAGE_LIMIT)
    .default(DEFAULT_PAGE_LIMIT)
    .describe(`Maximum number of entries to return (1 to ${MAX_PAGE_LIMIT}, default ${DEFAULT_PAGE_LIMIT}).`),
  offset: integerInput(0, Number.MAX_SAFE_INTEGER)
    .default(0)
    .describe('Number of matching entries to skip; pass the previous nextOffset to get the next page.'),
};

export interface Page<T> {
  items: T[];
  total: number;
  offset: number;
  nextOffset?: number;
}

/** Filters `items` by a case-insensitive name match, then cuts one page out of the result. */
export function pageByName<T extends { name: string }>(
  items: readonly T[],
  options: { nameContains?: string | undefined; limit: number; offset: number },
): Page<T> {
  const needle = options.nameContains?.trim().toLowerCase() ?? '';
  const matching = needle === '' ? items : items.filter((item) => item.name.toLowerCase().includes(needle));
  const pageItems = matching.slice(options.offset, options.offset + options.limit);
  const end = options.offset + pageItems.length;

  return {
    items: pageItems,
    total: matching.length,
    offset: options.offset,
    nextOffset: end < matching.length ? end : undefined,
  };
}
