/**
 * Loads undici on first use. Importing it takes about 65 ms (measured on Node 20), which would
 * otherwise delay every start of the server, including starts that only list the tools.
 */
type Undici = typeof import('undici');

let loading: Promise<Undici> | undefined;

export function loadUndici(): Promise<Undici> {
  loading ??= import('undici');
  return loading;
}
