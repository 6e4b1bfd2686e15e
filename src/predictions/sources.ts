/**
 * Turns what a tool call names (inline predictions, files, folders) into one lazy stream of
 * source entries. Files are read as streams, so a large JSONL file is never held in memory
 * whole, and every path goes through the allowed roots first.
 */
import { Buffer, isUtf8 } from 'node:buffer';
import { createReadStream } from 'node:fs';
import { open, readdir, stat } from 'node:fs/promises';
import path from 'node:path';

import { AllowedRoots, PathAccessError } from './roots.js';
import type { PredictionItem, SourceEntry, SourceProblem } from './types.js';
import { MAX_PREDICTION_BYTES } from './validation.js';

export interface InlinePrediction {
  sceneUuid?: unknown;
  openlabel?: unknown;
}

export interface SourceRequest {
  predictions?: InlinePrediction[];
  /** Files and folders, absolute or relative to the first allowed root. */
  paths?: string[];
  /** Whether folders are read with their subfolders. */
  recursive?: boolean;
}

export interface SourceOptions {
  /** Stops the stream and closes the open file when aborted. */
  signal?: AbortSignal;
}

/** Maximum size in bytes of one `.json` file or one `.jsonl` line, checked before parsing. It is the validation's cap. */
export const MAX_FILE_BYTES = MAX_PREDICTION_BYTES;

/** Size in bytes of one read from a `.jsonl` file. Reading runs ahead of the consumer by about this much. */
const JSONL_READ_CHUNK_BYTES = 256 * 1024;

const PREDICTION_FILE_TYPES = ['.json', '.jsonl'] as const;
type PredictionFileType = (typeof PREDICTION_FILE_TYPES)[number];

const SCENE_UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const ACCEPTED_FILE_SHAPES =
  'A .json file must contain {"sceneUuid": "<scene UUID>", "openlabel": {"openlabel": {...}}}, ' +
  'or {"openlabel": {...}} in a file named <scene UUID>.json.';

const ACCEPTED_LINE_SHAPE = 'Each line of a .jsonl file must be {"sceneUuid": "<scene UUID>", "openlabel": {"openlabel": {...}}}.';

/** A source entry before it gets its position in the whole request. */
type DraftEntry =
  | { kind: 'item'; item: Omit<PredictionItem, 'index'> }
  | { kind: 'problem'; problem: Omit<SourceProblem, 'index'> };

/** A prediction file to read, or a problem found while looking for files. */
type Target =
  | { kind: 'file'; file: string; name: string; type: PredictionFileType }
  | { kind: 'problem'; problem: Omit<SourceProblem, 'index'> };

/**
 * Streams the entries of a request: inline predictions first, then each path in the given order.
 * Entries are numbered from 0 across all sources.
 *
 * The generator reads a file, folder or line only when the consumer pulls the next entry. A path
 * or line that cannot be used becomes a `problem` entry and the stream goes on. When `signal` is
 * aborted, the stream ends without an error and closes the open file.
 */
export async function* readSourceEntries(
  request: SourceRequest,
  roots: AllowedRoots | undefined,
  options: SourceOptions = {},
): AsyncGenerator<SourceEntry> {
  const { signal } = options;
  let index = 0;

  const predictions = request.predictions ?? [];
  for (let position = 0; position < predictions.length; position++) {
    if (signal?.aborted) {
      return;
    }
    yield numberEntry(inlineEntry(predictions[position], position), index++);
  }

  for await (const target of listTargets(request, roots, signal)) {
    if (signal?.aborted) {
      return;
    }

    if (target.kind === 'problem') {
      yield numberEntry(target, index++);
      continue;
    }

    const entries = target.type === '.json' ? readJsonFile(target.file, target.name, signal) : readJsonlFile(target.file, signal);
    for await (const entry of entries) {
      if (signal?.aborted) {
        return;
      }
      yield numberEntry(entry, index++);
    }
  }
}

/**
 * Counts the entries that `readSourceEntries` would yield, for progress totals. It reads each
 * `.jsonl` file once to count its non-blank lines and does not open `.json` files. Returns
 * undefined when it cannot tell, for example when a read fails or `signal` is aborted.
 */
export async function countSourceItems(
  request: SourceRequest,
  roots: AllowedRoots | undefined,
  options: SourceOptions = {},
): Promise<number | undefined> {
  const { signal } = options;
  let count = request.predictions?.length ?? 0;

  try {
    for await (const target of listTargets(request, roots, signal)) {
      if (target.kind === 'file' && target.type === '.jsonl') {
        count += await countJsonlLines(target.file, signal);
      } else {
        count += 1;
      }
    }
  } catch {
    // The count only sizes a progress bar, so a failed read leaves it unknown. The read itself
    // reports the failure as a problem entry.
    return undefined;
  }

  return signal?.aborted ? undefined : count;
}

function numberEntry(draft: DraftEntry, index: number): SourceEntry {
  return draft.kind === 'item'
    ? { kind: 'item', item: { index, ...draft.item } }
    : { kind: 'problem', problem: { index, ...draft.problem } };
}

function inlineEntry(prediction: InlinePrediction | undefined, position: number): DraftEntry {
  const openlabel = prediction?.openlabel;
  const item: Omit<PredictionItem, 'index'> = {
    source: `predictions[${position}]`,
    sceneUuid: prediction?.sceneUuid,
    openlabel,
  };

  // Only JSON text has a known size here, because the MCP message was parsed before it arrived.
  if (typeof openlabel === 'string') {
    item.sizeBytes = Buffer.byteLength(openlabel);
  }
  return { kind: 'item', item };
}

// ---------------------------------------------------------------------------------------------
// Paths and folders

function problemFromAccessError(source: string, error: PathAccessError): Target {
  return { kind: 'problem', problem: { source, code: error.code, message: error.message } };
}

function predictionFileType(name: string): PredictionFileType | undefined {
  const extension = path.extname(name).toLowerCase();
  return PREDICTION_FILE_TYPES.find((type) => type === extension);
}

function errnoCode(error: unknown): string {
  return error instanceof Error && 'code' in error && typeof error.code === 'string' ? error.code : String(error);
}

function compareNameBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** Yields the prediction files that the request's paths name, in order, with a problem for each path that cannot be used. */
async function* listTargets(request: SourceRequest, roots: AllowedRoots | undefined, signal: AbortSignal | undefined): AsyncGenerator<Target> {
  const allowedRoots = roots ?? (await AllowedRoots.create([]));
  const recursive = request.recursive ?? false;

  for (const requested of request.paths ?? []) {
    if (signal?.aborted) {
      return;
    }

    let real: string;
    try {
      real = await allowedRoots.resolve(requested);
    } catch (error) {
      if (!(error instanceof PathAccessError)) {
        throw error;
      }
      yield problemFromAccessError(requested, error);
      continue;
    }

    yield* classifyPath(real, path.basename(requested), allowedRoots, recursive, signal);
  }
}

/**
 * Yields the targets of one resolved path: itself when it is a prediction file, the files in it
 * when it is a folder, and a problem otherwise. The file type comes from `name`, the name the
 * caller used, which for a symlink can differ from the real path's name.
 */
async function* classifyPath(
  real: string,
  name: string,
  roots: AllowedRoots,
  recursive: boolean,
  signal: AbortSignal | undefined,
): AsyncGenerator<Target> {
  let stats;
  try {
    stats = await stat(real);
  } catch (error) {
    yield { kind: 'problem', problem: { source: real, code: 'path_unreadable', message: `${real} cannot be read (${errnoCode(error)}). Check its permissions.` } };
    return;
  }

  if (stats.isDirectory()) {
    yield* listFolder(real, roots, recursive, signal);
    return;
  }

  const type = predictionFileType(name);
  if (stats.isFile() && type !== undefined) {
    yield { kind: 'file', file: real, name, type };
    return;
  }

  yield {
    kind: 'problem',
    problem: {
      source: real,
      code: 'unsupported_file_type',
      message: `${real} is not a .json or .jsonl file. Pass prediction files with one of these extensions, or a folder that contains them.`,
    },
  };
}

/** Yields the prediction files of a folder, or one `empty_folder` problem when it has none. */
async function* listFolder(dir: string, roots: AllowedRoots, recursive: boolean, signal: AbortSignal | undefined): AsyncGenerator<Target> {
  const walk = { targets: 0, skippedSubfolders: 0, visited: new Set<string>() };

  for await (const target of walkFolder(dir, roots, recursive, signal, walk)) {
    walk.targets++;
    yield target;
  }

  if (walk.targets === 0 && !signal?.aborted) {
    const hint = walk.skippedSubfolders > 0 ? ' Pass recursive: true to read its subfolders too.' : '';
    yield {
      kind: 'problem',
      problem: { source: dir, code: 'empty_folder', message: `${dir} contains no .json or .jsonl files.${hint}` },
    };
  }
}

interface FolderWalk {
  targets: number;
  skippedSubfolders: number;
  /** Real paths of the folders read so far, so that a symlink loop is read only once. */
  visited: Set<string>;
}

/**
 * Yields the prediction files of `dir` sorted by name in byte order, descending into subfolders
 * where they sort when `recursive` is true. Files of other types are ignored. A symlink is
 * resolved and checked against the roots like any path.
 */
async function* walkFolder(
  dir: string,
  roots: AllowedRoots,
  recursive: boolean,
  signal: AbortSignal | undefined,
  walk: FolderWalk,
): AsyncGenerator<Target> {
  walk.visited.add(dir);

  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    yield { kind: 'problem', problem: { source: dir, code: 'path_unreadable', message: `Folder ${dir} cannot be read (${errnoCode(error)}). Check its permissions.` } };
    return;
  }
  entries.sort((a, b) => compareNameBytes(a.name, b.name));

  for (const entry of entries) {
    if (signal?.aborted) {
      return;
    }
    const entryPath = path.join(dir, entry.name);

    if (entry.isSymbolicLink()) {
      yield* followLink(entryPath, entry.name, roots, recursive, signal, walk);
    } else if (entry.isDirectory()) {
      if (recursive) {
        yield* walkFolder(entryPath, roots, recursive, signal, walk);
      } else {
        walk.skippedSubfolders++;
      }
    } else if (entry.isFile()) {
      const type = predictionFileType(entry.name);
      if (type !== undefined) {
        yield { kind: 'file', file: entryPath, name: entry.name, type };
      }
    }
  }
}

/**
 * Yields the target of a symlink found in a folder. Links whose targets would be ignored anyway
 * (other file types, folders when not recursive, dangling links) are skipped without a problem.
 */
async function* followLink(
  linkPath: string,
  name: string,
  roots: AllowedRoots,
  recursive: boolean,
  signal: AbortSignal | undefined,
  walk: FolderWalk,
): AsyncGenerator<Target> {
  const type = predictionFileType(name);

  let isDirectory: boolean;
  try {
    isDirectory = (await stat(linkPath)).isDirectory();
  } catch {
    isDirectory = false;
  }

  if (isDirectory && !recursive) {
    walk.skippedSubfolders++;
    return;
  }
  if (!isDirectory && type === undefined) {
    return;
  }

  let real: string;
  try {
    real = await roots.resolve(linkPath);
  } catch (error) {
    if (!(error instanceof PathAccessError)) {
      throw error;
    }
    yield problemFromAccessError(linkPath, error);
    return;
  }

  if (isDirectory) {
    if (!walk.visited.has(real)) {
      yield* walkFolder(real, roots, recursive, signal, walk);
    }
    return;
  }
  yield* classifyPath(real, name, roots, recursive, signal);
}

// ---------------------------------------------------------------------------------------------
// .json files

/** Reads `file` whole, or returns undefined when it contains more than `maxBytes`. */
async function readCapped(file: string, maxBytes: number, signal: AbortSignal | undefined): Promise<Buffer | undefined> {
  // `end` is inclusive, so one byte past the cap is read when the file is too large.
  const stream = createReadStream(file, { end: maxBytes, ...(signal ? { signal } : {}) });
  const chunks: Buffer[] = [];
  let total = 0;

  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      chunks.push(chunk);
      total += chunk.length;
    }
  } finally {
    stream.destroy();
  }

  return total > maxBytes ? undefined : Buffer.concat(chunks, total);
}

function sceneUuidFromFileName(name: string): string {
  return path.basename(name, path.extname(name));
}

function tooLargeProblem(
  code: 'file_too_large' | 'line_too_large',
  source: string,
  subject: string,
  sizeBytes: number,
  sceneUuid: string | undefined,
): DraftEntry {
  return {
    kind: 'problem',
    problem: {
      source,
      code,
      message: `${subject} is ${sizeBytes} bytes, above the maximum of ${MAX_FILE_BYTES} bytes for one prediction. Reduce the prediction's size.`,
      ...(sceneUuid !== undefined ? { sceneUuid } : {}),
    },
  };
}

/** Reads a `.json` file that contains one prediction. */
async function* readJsonFile(file: string, name: string, signal: AbortSignal | undefined): AsyncGenerator<DraftEntry> {
  const nameUuid = sceneUuidFromFileName(name);
  const knownSceneUuid = SCENE_UUID_PATTERN.test(nameUuid) ? nameUuid : undefined;
  const withScene = knownSceneUuid !== undefined ? { sceneUuid: knownSceneUuid } : {};

  let buffer: Buffer | undefined;
  let sizeBytes: number;
  try {
    sizeBytes = (await stat(file)).size;
    buffer = sizeBytes > MAX_FILE_BYTES ? undefined : await readCapped(file, MAX_FILE_BYTES, signal);
  } catch (error) {
    if (signal?.aborted) {
      return;
    }
    yield { kind: 'problem', problem: { source: file, code: 'path_unreadable', message: `${file} cannot be read (${errnoCode(error)}). Check its permissions.`, ...withScene } };
    return;
  }

  if (buffer === undefined) {
    // The file may have grown since `stat`, so report at least one byte past the cap.
    yield tooLargeProblem('file_too_large', file, file, Math.max(sizeBytes, MAX_FILE_BYTES + 1), knownSceneUuid);
    return;
  }

  const parsed = parseJson(buffer, file, file);
  if (!parsed.ok) {
    yield { kind: 'problem', problem: { ...parsed.problem, ...withScene } };
    return;
  }

  const value = parsed.value;
  if (isPlainObject(value) && Object.hasOwn(value, 'openlabel')) {
    const item: Omit<PredictionItem, 'index'> = Object.hasOwn(value, 'sceneUuid')
      ? { source: file, sceneUuid: value.sceneUuid, openlabel: value.openlabel, sizeBytes: buffer.length }
      : { source: file, sceneUuid: nameUuid, openlabel: value, sizeBytes: buffer.length };
    yield { kind: 'item', item };
    return;
  }

  yield {
    kind: 'problem',
    problem: {
      source: file,
      code: 'unrecognized_prediction_file',
      message: `${file} is JSON but not a prediction. ${ACCEPTED_FILE_SHAPES}${shapeHint(value, true)}`,
      ...sceneUuidProblemField(value, knownSceneUuid),
    },
  };
}

// ---------------------------------------------------------------------------------------------
// .jsonl files

interface JsonlLine {
  /** Line number, counting from 1. */
  number: number;
  /** The line's bytes without its line ending, or undefined when it is longer than the cap. */
  bytes: Buffer | undefined;
  /** The line's length in bytes, without its line ending. */
  sizeBytes: number;
}

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;
const UTF8_BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/**
 * Splits a byte stream into lines. A line longer than `maxLineBytes` is counted but its bytes are
 * dropped as they arrive, so memory stays bounded by the cap plus one chunk.
 */
async function* splitLines(chunks: AsyncIterable<Buffer>, maxLineBytes: number): AsyncGenerator<JsonlLine> {
  let parts: Buffer[] = [];
  let lineBytes = 0;
  let lastByte = -1;
  let number = 1;

  const finishLine = (): JsonlLine => {
    const endsWithCarriageReturn = lastByte === CARRIAGE_RETURN;
    const sizeBytes = lineBytes - (endsWithCarriageReturn ? 1 : 0);

    let bytes: Buffer | undefined;
    if (sizeBytes <= maxLineBytes) {
      const whole = parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts, lineBytes);
      bytes = whole.subarray(0, sizeBytes);
    }

    const line = { number, bytes, sizeBytes };
    parts = [];
    lineBytes = 0;
    lastByte = -1;
    number++;
    return line;
  };

  for await (const chunk of chunks) {
    let start = 0;
    while (start <= chunk.length) {
      const newline = chunk.indexOf(NEWLINE, start);
      const end = newline === -1 ? chunk.length : newline;

      if (end > start) {
        lineBytes += end - start;
        lastByte = chunk[end - 1] as number;
        // One byte of slack keeps a line that is exactly at the cap plus its `\r`.
        if (lineBytes <= maxLineBytes + 1) {
          parts.push(chunk.subarray(start, end));
        } else {
          parts = [];
        }
      }

      if (newline === -1) {
        break;
      }
      yield finishLine();
      start = newline + 1;
    }
  }

  if (lineBytes > 0) {
    yield finishLine();
  }
}

function isJsonWhitespace(byte: number): boolean {
  return byte === 0x20 || byte === 0x09 || byte === CARRIAGE_RETURN || byte === NEWLINE;
}

function isBlank(bytes: Buffer): boolean {
  for (const byte of bytes) {
    if (!isJsonWhitespace(byte)) {
      return false;
    }
  }
  return true;
}

function stripBom(bytes: Buffer): Buffer {
  return bytes.subarray(0, 3).equals(UTF8_BOM) ? bytes.subarray(3) : bytes;
}

/** Reads a `.jsonl` file line by line, one prediction per non-blank line. */
async function* readJsonlFile(file: string, signal: AbortSignal | undefined): AsyncGenerator<DraftEntry> {
  const stream = createReadStream(file, { highWaterMark: JSONL_READ_CHUNK_BYTES, ...(signal ? { signal } : {}) });
  let lastLine = 0;

  try {
    for await (const line of splitLines(stream as AsyncIterable<Buffer>, MAX_FILE_BYTES)) {
      lastLine = line.number;
      const source = `${file}:${line.number}`;

      if (line.bytes === undefined) {
        yield tooLargeProblem('line_too_large', source, `Line ${line.number} of ${file}`, line.sizeBytes, undefined);
        continue;
      }

      const bytes = line.number === 1 ? stripBom(line.bytes) : line.bytes;
      if (isBlank(bytes)) {
        continue;
      }
      yield lineEntry(bytes, source, line.number, line.sizeBytes);
    }
  } catch (error) {
    if (signal?.aborted) {
      return;
    }
    yield {
      kind: 'problem',
      problem: {
        source: file,
        code: 'path_unreadable',
        message: `Reading ${file} failed after line ${lastLine} (${errnoCode(error)}). The lines after it were not read.`,
      },
    };
  } finally {
    stream.destroy();
  }
}

function lineEntry(bytes: Buffer, source: string, lineNumber: number, sizeBytes: number): DraftEntry {
  const parsed = parseJson(bytes, source, `Line ${lineNumber}`);
  if (!parsed.ok) {
    return { kind: 'problem', problem: parsed.problem };
  }

  const value = parsed.value;
  if (isPlainObject(value) && Object.hasOwn(value, 'sceneUuid') && Object.hasOwn(value, 'openlabel')) {
    return { kind: 'item', item: { source, sceneUuid: value.sceneUuid, openlabel: value.openlabel, sizeBytes } };
  }

  return {
    kind: 'problem',
    problem: {
      source,
      code: 'unrecognized_prediction_line',
      message: `Line ${lineNumber} is JSON but not a prediction. ${ACCEPTED_LINE_SHAPE}${shapeHint(value, false)}`,
      ...sceneUuidProblemField(value, undefined),
    },
  };
}

/** Counts the non-blank lines of a `.jsonl` file the way `readJsonlFile` skips blank lines. */
async function countJsonlLines(file: string, signal: AbortSignal | undefined): Promise<number> {
  // One buffer, reused for every read: the count often runs beside an upload of the same file,
  // and a stream's fresh chunk per read would leave hundreds of MB of garbage for the collector.
  const chunk = Buffer.allocUnsafe(JSONL_READ_CHUNK_BYTES);
  const handle = await open(file, 'r');
  let count = 0;
  let lineHasContent = false;
  let firstChunk = true;

  try {
    for (;;) {
      signal?.throwIfAborted();
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, null);
      if (bytesRead === 0) {
        break;
      }

      let position = firstChunk && bytesRead >= 3 && chunk.subarray(0, 3).equals(UTF8_BOM) ? 3 : 0;
      firstChunk = false;

      while (position < bytesRead) {
        // Only leading whitespace is scanned byte by byte. The rest of a line is skipped with indexOf.
        if (!lineHasContent) {
          const byte = chunk[position] as number;
          position++;
          if (!isJsonWhitespace(byte)) {
            lineHasContent = true;
          }
          continue;
        }

        const newline = chunk.indexOf(NEWLINE, position);
        if (newline === -1 || newline >= bytesRead) {
          break;
        }
        count++;
        lineHasContent = false;
        position = newline + 1;
      }
    }
  } finally {
    await handle.close();
  }

  return lineHasContent ? count + 1 : count;
}

// ---------------------------------------------------------------------------------------------
// Parsing

type ParseResult = { ok: true; value: unknown } | { ok: false; problem: Omit<SourceProblem, 'index'> };

/** Parses UTF-8 JSON text. `subject` names the text in messages ("Line 4", "/data/a.json"). */
function parseJson(bytes: Buffer, source: string, subject: string): ParseResult {
  if (!isUtf8(bytes)) {
    return {
      ok: false,
      problem: { source, code: 'invalid_encoding', message: `${subject} is not valid UTF-8 text. Save it as UTF-8.` },
    };
  }

  const text = stripBom(bytes).toString('utf8');
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (error) {
    if (!(error instanceof SyntaxError)) {
      throw error;
    }
    return {
      ok: false,
      problem: { source, code: 'invalid_json', message: `${subject} is not valid JSON: ${describeSyntaxError(error, text)}.` },
    };
  }
}

/**
 * Returns the parser's message, with the line and column added when it gives only an offset.
 * NOTE: V8 in Node 20 gives no offset for "Unexpected token" errors. Those messages quote the
 * text around the error instead, so no line or column is added.
 */
function describeSyntaxError(error: SyntaxError, text: string): string {
  const offsetMatch = /at position (\d+)/.exec(error.message);
  if (offsetMatch === null || /line \d+/.test(error.message)) {
    return error.message;
  }

  const offset = Number(offsetMatch[1]);
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  const column = offset - before.lastIndexOf('\n');
  return `${error.message} (line ${line}, column ${column})`;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Suggests the fix for the wrong shapes that are easy to recognize. */
function shapeHint(value: unknown, isJsonFile: boolean): string {
  if (Array.isArray(value)) {
    return isJsonFile ? ' To upload many predictions from one file, write one prediction object per line in a .jsonl file.' : '';
  }
  if (!isPlainObject(value)) {
    return '';
  }
  if (Object.hasOwn(value, 'openlabelContent')) {
    return ' Rename the key openlabelContent to openlabel.';
  }

  const missing = ['sceneUuid', 'openlabel'].filter((key) => !Object.hasOwn(value, key));
  if (isJsonFile || missing.length === 0) {
    return '';
  }
  return missing.length === 1 ? ` The key ${missing[0]} is missing.` : ` The keys ${missing.join(' and ')} are missing.`;
}

function sceneUuidProblemField(value: unknown, fallback: string | undefined): { sceneUuid?: string } {
  const sceneUuid = isPlainObject(value) && typeof value.sceneUuid === 'string' ? value.sceneUuid : fallback;
  return sceneUuid !== undefined ? { sceneUuid } : {};
}
