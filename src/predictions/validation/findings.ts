/** Collecting findings, and the small formatting helpers their messages share. */
import type { Finding, FindingSeverity } from '../types.js';
import type { FindingCode } from './codes.js';

/** Longest quoted value in a message, in characters, so that a message stays near 200 characters. */
const MAX_QUOTED_VALUE_CHARS = 40;

/** Escapes one JSON pointer token (RFC 6901: `~` becomes `~0`, `/` becomes `~1`). */
export function escapePointerToken(token: string): string {
  if (!token.includes('~') && !token.includes('/')) {
    return token;
  }
  return token.replace(/~/g, '~0').replace(/\//g, '~1');
}

/** Appends tokens to a JSON pointer, escaping each. */
export function joinPointer(pointer: string, ...tokens: Array<string | number>): string {
  let result = pointer;
  for (const token of tokens) {
    result += `/${escapePointerToken(String(token))}`;
  }
  return result;
}

/** Formats a value for a message as JSON, cut to MAX_QUOTED_VALUE_CHARS. */
export function quote(value: unknown): string {
  let text: string;
  try {
    text = value === undefined ? 'undefined' : JSON.stringify(value);
  } catch {
    text = String(value);
  }

  if (text.length > MAX_QUOTED_VALUE_CHARS) {
    return `${text.slice(0, MAX_QUOTED_VALUE_CHARS - 1)}…`;
  }
  return text;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The findings of one item. An exact repeat (same pointer and code) is dropped. The schema
 * mapping calls `isCoveredByError` to skip a pointer where a Kognic rule already reported an
 * error, so that one problem is not reported twice.
 */
export class FindingList {
  private readonly all: Finding[] = [];
  private readonly keys = new Set<string>();
  private readonly errorPointers = new Set<string>();
  /** Pointers whose whole subtree a rule error already describes, such as a geometry's `val`. */
  private readonly errorSubtrees = new Set<string>();

  get length(): number {
    return this.all.length;
  }

  /**
   * Adds an error. `coversSubtree` marks every pointer below `pointer` as reported too.
   * `leading` lists the error before all others, for problems that make the rest moot.
   */
  error(pointer: string, code: FindingCode, message: string, options: { coversSubtree?: boolean; leading?: boolean } = {}): void {
    this.add(pointer, code, 'error', message, options.leading === true);
    this.errorPointers.add(pointer);
    if (options.coversSubtree === true) {
      this.errorSubtrees.add(pointer);
    }
  }

  warning(pointer: string, code: FindingCode, message: string): void {
    this.add(pointer, code, 'warning', message, false);
  }

  /** Returns true when an error was already reported at `pointer` or above it in a covered subtree. */
  isCoveredByError(pointer: string): boolean {
    if (this.errorPointers.has(pointer)) {
      return true;
    }

    for (let end = pointer.lastIndexOf('/'); end > 0; end = pointer.lastIndexOf('/', end - 1)) {
      if (this.errorSubtrees.has(pointer.slice(0, end))) {
        return true;
      }
    }
    return false;
  }

  /** Returns every finding, errors first, each severity in the order found. */
  sorted(): Finding[] {
    const errors = this.all.filter((finding) => finding.severity === 'error');
    const warnings = this.all.filter((finding) => finding.severity === 'warning');
    return [...errors, ...warnings];
  }

  private add(pointer: string, code: FindingCode, severity: FindingSeverity, message: string, leading: boolean): void {
    const key = `${pointer}\u0000${code}`;
    if (this.keys.has(key)) {
      return;
    }

    this.keys.add(key);
    if (leading) {
      this.all.unshift({ pointer, code, severity, message });
    } else {
      this.all.push({ pointer, code, severity, message });
    }
  }
}
