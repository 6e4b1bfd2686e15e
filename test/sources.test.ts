import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readdir, readlink, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { AllowedRoots } from '../src/predictions/roots.js';
import {
  countSourceItems,
  MAX_FILE_BYTES,
  readSourceEntries,
  type SourceRequest,
} from '../src/predictions/sources.js';
import type { PredictionItem, SourceEntry, SourceProblem } from '../src/predictions/types.js';

const SCENE_A = '0b5a4c0e-2f7e-4a39-9b1a-3c3f7a0d9e11';
const SCENE_B = '6f1d2e3c-4b5a-4968-8776-a5b4c3d2e1f0';
const DOCUMENT = { openlabel: { metadata: { schema_version: '1.0.0' } } };

const LARGE_FILE_LINES = 100_000;

let base: string;
let root: string;
let outside: string;
let roots: AllowedRoots;
let largeFile: string;
let folderCount = 0;

beforeAll(async () => {
  base = await realpath(await mkdtemp(path.join(tmpdir(), 'sources-test-')));
  root = path.join(base, 'root');
  outside = path.join(base, 'outside');
  await mkdir(root);
  await mkdir(outside);
  await writeFile(path.join(outside, `${SCENE_A}.json`), JSON.stringify(DOCUMENT));
  roots = await AllowedRoots.create([root]);

  largeFile = path.join(root, 'large.jsonl');
  await writeLargeJsonl(largeFile, LARGE_FILE_LINES);
});

afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

/** Writes about 1 KB per line, in batches, so that building the file leaves little garbage. */
async function writeLargeJsonl(file: string, lines: number): Promise<void> {
  const out = createWriteStream(file);
  const padding = 'x'.repeat(900);
  const batchLines = 1_000;

  for (let first = 0; first < lines; first += batchLines) {
    let batch = '';
    for (let i = first; i < Math.min(first + batchLines, lines); i++) {
      const sceneUuid = `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
      batch += `${JSON.stringify({ sceneUuid, openlabel: { openlabel: { metadata: { schema_version: '1.0.0', note: padding } } } })}\n`;
    }
    if (!out.write(batch)) {
      await once(out, 'drain');
    }
  }

  out.end();
  await once(out, 'finish');
}

/** Creates an empty folder inside the root for one test. */
async function makeFolder(name = 'case'): Promise<string> {
  folderCount++;
  const dir = path.join(root, `${name}-${folderCount}`);
  await mkdir(dir, { recursive: true });
  return dir;
}

/** Writes files given as relative path → content, creating subfolders. */
async function writeFiles(dir: string, files: Record<string, string | Buffer>): Promise<void> {
  for (const [relative, content] of Object.entries(files)) {
    const file = path.join(dir, relative);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, content);
  }
}

async function drain(stream: AsyncIterable<SourceEntry>): Promise<SourceEntry[]> {
  const entries: SourceEntry[] = [];
  for await (const entry of stream) {
    entries.push(entry);
  }
  return entries;
}

/** Reads every entry of `request` with the test root as the only allowed root. */
async function collect(request: SourceRequest): Promise<SourceEntry[]> {
  return drain(readSourceEntries(request, roots));
}

function itemOf(entry: SourceEntry | undefined): PredictionItem {
  if (entry?.kind !== 'item') {
    throw new Error(`expected an item, got ${JSON.stringify(entry)}`);
  }
  return entry.item;
}

function problemOf(entry: SourceEntry | undefined): SourceProblem {
  if (entry?.kind !== 'problem') {
    throw new Error(`expected a problem, got ${JSON.stringify(entry)}`);
  }
  return entry.problem;
}

function sourcesOf(entries: SourceEntry[]): string[] {
  return entries.map((entry) => (entry.kind === 'item' ? entry.item.source : entry.problem.source));
}

function line(sceneUuid: string): string {
  return JSON.stringify({ sceneUuid, openlabel: DOCUMENT });
}

/** Counts this process's open file descriptors that point at `file` (Linux only). */
async function openDescriptorsOf(file: string): Promise<number> {
  let count = 0;
  for (const descriptor of await readdir('/proc/self/fd')) {
    try {
      if ((await readlink(`/proc/self/fd/${descriptor}`)) === file) {
        count++;
      }
    } catch {
      // The descriptor was closed between readdir and readlink.
    }
  }
  return count;
}

/** Waits until no descriptor points at `file`, because a stream closes its file asynchronously. */
async function waitUntilClosed(file: string): Promise<number> {
  const deadline = Date.now() + 10_000;
  let open = await openDescriptorsOf(file);
  while (open > 0 && Date.now() < deadline) {
    await sleep(20);
    open = await openDescriptorsOf(file);
  }
  return open;
}

// Vitest does not start workers with --expose-gc, so the flag is set at run time. A full
// collection before each baseline keeps garbage from earlier tests out of the measurement.
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

/** Returns the heap plus Buffer memory in use, after a full garbage collection. */
function memoryBaseline(): number {
  collectGarbage();
  return memoryInUse();
}

function memoryInUse(): number {
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.arrayBuffers;
}

const MEGABYTE = 1024 * 1024;

describe('readSourceEntries inline predictions', () => {
  it('numbers inline items first', async () => {
    const dir = await makeFolder();
    await writeFiles(dir, { [`${SCENE_B}.json`]: JSON.stringify(DOCUMENT) });

    const entries = await collect({
      paths: [path.join(dir, `${SCENE_B}.json`)],
      predictions: [
        { sceneUuid: SCENE_A, openlabel: DOCUMENT },
        { sceneUuid: SCENE_B, openlabel: DOCUMENT },
      ],
    });

    expect(entries.map((entry) => itemOf(entry).index)).toEqual([0, 1, 2]);
    expect(sourcesOf(entries)).toEqual(['predictions[0]', 'predictions[1]', path.join(dir, `${SCENE_B}.json`)]);
  });

  it('passes inline values through', async () => {
    const text = JSON.stringify({ openlabel: { metadata: { note: 'größe' } } });

    const entries = await collect({ predictions: [{ sceneUuid: 42, openlabel: text }, {}] });

    expect(itemOf(entries[0]).sceneUuid).toBe(42);
    expect(itemOf(entries[0]).openlabel).toBe(text);
    expect(itemOf(entries[0]).sizeBytes).toBe(Buffer.byteLength(text));
    expect(itemOf(entries[1]).sceneUuid).toBeUndefined();
    expect(itemOf(entries[1]).sizeBytes).toBeUndefined();
  });
});

describe('readSourceEntries .json files', () => {
  it('reads the sceneUuid shape', async () => {
    const dir = await makeFolder();
    const content = JSON.stringify({ sceneUuid: SCENE_A, openlabel: DOCUMENT });
    await writeFiles(dir, { 'prediction.json': content });

    const [entry] = await collect({ paths: [path.join(dir, 'prediction.json')] });

    expect(itemOf(entry).sceneUuid).toBe(SCENE_A);
    expect(itemOf(entry).openlabel).toEqual(DOCUMENT);
    expect(itemOf(entry).sizeBytes).toBe(Buffer.byteLength(content));
  });

  it('takes scene from file name', async () => {
    const dir = await makeFolder();
    await writeFiles(dir, { [`${SCENE_B}.json`]: JSON.stringify(DOCUMENT) });

    const [entry] = await collect({ paths: [path.join(dir, `${SCENE_B}.json`)] });

    expect(itemOf(entry).sceneUuid).toBe(SCENE_B);
    expect(itemOf(entry).openlabel).toEqual(DOCUMENT);
  });

  it('reports invalid JSON with position', async () => {
    const dir = await makeFolder();
    await writeFiles(dir, { 'broken.json': '{\n  "sceneUuid": 1,\n}' });

    const problem = problemOf((await collect({ paths: [path.join(dir, 'broken.json')] }))[0]);

    expect(problem.code).toBe('invalid_json');
    expect(problem.source).toBe(path.join(dir, 'broken.json'));
    expect(problem.message).toContain('at position 20');
    expect(problem.message).toContain('line 3, column 1');
  });

  it('reports invalid UTF-8', async () => {
    const dir = await makeFolder();
    await writeFiles(dir, { 'latin1.json': Buffer.from([0x7b, 0x22, 0xe9, 0x22, 0x3a, 0x31, 0x7d]) });

    const problem = problemOf((await collect({ paths: [path.join(dir, 'latin1.json')] }))[0]);

    expect(problem.code).toBe('invalid_encoding');
  });

  it('rejects unrecognized JSON shapes', async () => {
    const dir = await makeFolder();
    await writeFiles(dir, {
      'list.json': JSON.stringify([{ sceneUuid: SCENE_A, openlabel: DOCUMENT }]),
      'api-body.json': JSON.stringify({ sceneUuid: SCENE_A, openlabelContent: DOCUMENT }),
    });

    const entries = await collect({ paths: [path.join(dir, 'list.json'), path.join(dir, 'api-body.json')] });

    expect(problemOf(entries[0]).code).toBe('unrecognized_prediction_file');
    expect(problemOf(entries[0]).message).toContain('.jsonl');
    expect(problemOf(entries[1]).code).toBe('unrecognized_prediction_file');
    expect(problemOf(entries[1]).message).toContain('Rename the key openlabelContent to openlabel');
    expect(problemOf(entries[1]).sceneUuid).toBe(SCENE_A);
  });

  it('rejects a file over the cap', async () => {
    const dir = await makeFolder();
    const file = path.join(dir, `${SCENE_A}.json`);
    await writeFile(file, Buffer.alloc(MAX_FILE_BYTES + 1, 0x20));

    const problem = problemOf((await collect({ paths: [file] }))[0]);

    expect(problem.code).toBe('file_too_large');
    expect(problem.sceneUuid).toBe(SCENE_A);
    expect(problem.message).toContain(String(MAX_FILE_BYTES + 1));
  });
});

describe('readSourceEntries .jsonl files', () => {
  it('skips blank and isolates broken lines', async () => {
    const dir = await makeFolder();
    const file = path.join(dir, 'predictions.jsonl');
    await writeFiles(dir, { 'predictions.jsonl': `${line(SCENE_A)}\n{"sceneUuid": \n\n  \n${line(SCENE_B)}\n` });

    const entries = await collect({ paths: [file] });

    expect(sourcesOf(entries)).toEqual([`${file}:1`, `${file}:2`, `${file}:5`]);
    expect(itemOf(entries[0]).sceneUuid).toBe(SCENE_A);
    expect(itemOf(entries[0]).sizeBytes).toBe(Buffer.byteLength(line(SCENE_A)));
    expect(problemOf(entries[1]).code).toBe('invalid_json');
    expect(itemOf(entries[2]).sceneUuid).toBe(SCENE_B);
    expect(itemOf(entries[2]).openlabel).toEqual(DOCUMENT);
  });

  it('handles CRLF and a BOM', async () => {
    const dir = await makeFolder();
    const file = path.join(dir, 'windows.jsonl');
    await writeFiles(dir, { 'windows.jsonl': `\uFEFF${line(SCENE_A)}\r\n${line(SCENE_B)}` });

    const entries = await collect({ paths: [file] });

    expect(itemOf(entries[0]).sceneUuid).toBe(SCENE_A);
    expect(itemOf(entries[1]).sceneUuid).toBe(SCENE_B);
    expect(itemOf(entries[1]).sizeBytes).toBe(Buffer.byteLength(line(SCENE_B)));
    expect(entries).toHaveLength(2);
  });

  it('rejects a line missing sceneUuid', async () => {
    const dir = await makeFolder();
    const file = path.join(dir, 'bare.jsonl');
    await writeFiles(dir, { 'bare.jsonl': `${JSON.stringify(DOCUMENT)}\n` });

    const problem = problemOf((await collect({ paths: [file] }))[0]);

    expect(problem.code).toBe('unrecognized_prediction_line');
    expect(problem.source).toBe(`${file}:1`);
    expect(problem.message).toContain('The key sceneUuid is missing');
  });

  it('rejects a line over the cap', async () => {
    const dir = await makeFolder();
    const file = path.join(dir, 'huge-line.jsonl');
    const hugeLine = Buffer.alloc(MAX_FILE_BYTES + 1, 0x20);
    hugeLine[0] = 0x7b;
    await writeFile(file, Buffer.concat([Buffer.from(`${line(SCENE_A)}\n`), hugeLine, Buffer.from(`\n${line(SCENE_B)}\n`)]));

    const entries = await collect({ paths: [file] });

    expect(itemOf(entries[0]).sceneUuid).toBe(SCENE_A);
    expect(problemOf(entries[1]).code).toBe('line_too_large');
    expect(problemOf(entries[1]).source).toBe(`${file}:2`);
    expect(problemOf(entries[1]).message).toContain(String(MAX_FILE_BYTES + 1));
    expect(itemOf(entries[2]).sceneUuid).toBe(SCENE_B);
  });

  it('accepts a line at the cap', async () => {
    const dir = await makeFolder();
    const file = path.join(dir, 'cap-line.jsonl');
    const prefix = `{"sceneUuid":"${SCENE_A}","openlabel":"`;
    const padding = 'x'.repeat(MAX_FILE_BYTES - prefix.length - 2);
    await writeFile(file, `${prefix}${padding}"}\r\n`);

    const [entry] = await collect({ paths: [file] });

    expect(itemOf(entry).sizeBytes).toBe(MAX_FILE_BYTES);
  });
});

describe('readSourceEntries folders', () => {
  it('reads files in byte order', async () => {
    const dir = await makeFolder();
    await writeFiles(dir, {
      'b.json': line(SCENE_B),
      'a.jsonl': `${line(SCENE_A)}\n${line(SCENE_B)}\n`,
      'C.json': line(SCENE_A),
      'notes.txt': 'not a prediction',
      'sub/d.json': line(SCENE_A),
    });

    const entries = await collect({ paths: [dir] });

    expect(sourcesOf(entries)).toEqual([
      path.join(dir, 'C.json'),
      `${path.join(dir, 'a.jsonl')}:1`,
      `${path.join(dir, 'a.jsonl')}:2`,
      path.join(dir, 'b.json'),
    ]);
  });

  it('reads subfolders depth-first when recursive', async () => {
    const dir = await makeFolder();
    await writeFiles(dir, {
      'z.json': line(SCENE_A),
      'a.json': line(SCENE_A),
      'm/x.json': line(SCENE_A),
      'm/n/y.json': line(SCENE_A),
      'm/n/skip.csv': 'a,b',
    });

    const entries = await collect({ paths: [dir], recursive: true });

    expect(sourcesOf(entries)).toEqual(['a.json', 'm/n/y.json', 'm/x.json', 'z.json'].map((name) => path.join(dir, name)));
  });

  it('reports an empty folder', async () => {
    const dir = await makeFolder();
    await writeFiles(dir, { 'readme.md': '#', 'sub/a.json': line(SCENE_A) });

    const entries = await collect({ paths: [dir] });

    expect(entries).toHaveLength(1);
    expect(problemOf(entries[0]).code).toBe('empty_folder');
    expect(problemOf(entries[0]).message).toContain('recursive: true');
  });

  it('rejects a link out of root', async () => {
    const dir = await makeFolder();
    await writeFiles(dir, { 'good.json': line(SCENE_B) });
    await symlink(path.join(outside, `${SCENE_A}.json`), path.join(dir, 'evil.json'));

    const entries = await collect({ paths: [dir, path.join(dir, 'evil.json')] });

    expect(problemOf(entries[0]).code).toBe('path_outside_roots');
    expect(problemOf(entries[0]).source).toBe(path.join(dir, 'evil.json'));
    expect(itemOf(entries[1]).sceneUuid).toBe(SCENE_B);
    expect(problemOf(entries[2]).code).toBe('path_outside_roots');
  });

  it('follows links inside the root', async () => {
    const dir = await makeFolder();
    await writeFiles(dir, { 'store/blob.json': JSON.stringify(DOCUMENT) });
    await symlink(path.join(dir, 'store', 'blob.json'), path.join(dir, `${SCENE_A}.json`));

    const [entry] = await collect({ paths: [dir] });

    expect(itemOf(entry).source).toBe(path.join(dir, 'store', 'blob.json'));
    expect(itemOf(entry).sceneUuid).toBe(SCENE_A);
  });

  it('reads a folder link loop once', async () => {
    const dir = await makeFolder();
    await writeFiles(dir, { 'a.json': line(SCENE_A) });
    await symlink(dir, path.join(dir, 'again'));

    const entries = await collect({ paths: [dir], recursive: true });

    expect(sourcesOf(entries)).toEqual([path.join(dir, 'a.json')]);
  });
});

describe('readSourceEntries paths', () => {
  it('continues after a path outside roots', async () => {
    const dir = await makeFolder();
    await writeFiles(dir, { 'a.json': line(SCENE_A) });
    const outsideFile = path.join(outside, `${SCENE_A}.json`);

    const entries = await collect({ paths: [outsideFile, path.join(dir, 'a.json')] });

    expect(problemOf(entries[0]).code).toBe('path_outside_roots');
    expect(problemOf(entries[0]).source).toBe(outsideFile);
    expect(problemOf(entries[0]).index).toBe(0);
    expect(itemOf(entries[1]).index).toBe(1);
  });

  it('rejects .. segments leaving root', async () => {
    const problem = problemOf((await collect({ paths: [`../outside/${SCENE_A}.json`] }))[0]);

    expect(problem.code).toBe('path_outside_roots');
  });

  it('reports a missing file', async () => {
    const dir = await makeFolder();
    await writeFiles(dir, { 'a.json': line(SCENE_A) });

    const entries = await collect({ paths: [path.join(dir, 'missing.json'), path.join(dir, 'a.json')] });

    expect(problemOf(entries[0]).code).toBe('path_not_found');
    expect(itemOf(entries[1]).sceneUuid).toBe(SCENE_A);
  });

  it('rejects an explicit .txt file', async () => {
    const dir = await makeFolder();
    await writeFiles(dir, { 'notes.txt': line(SCENE_A) });

    const problem = problemOf((await collect({ paths: [path.join(dir, 'notes.txt')] }))[0]);

    expect(problem.code).toBe('unsupported_file_type');
    expect(problem.message).toContain('.jsonl');
  });

  it('resolves relative paths against first root', async () => {
    const dir = await makeFolder();
    await writeFiles(dir, { 'a.json': line(SCENE_A) });
    const otherRoot = await makeFolder('other-root');
    const twoRoots = await AllowedRoots.create([root, otherRoot]);

    const [entry] = await drain(readSourceEntries({ paths: [path.join(path.basename(dir), 'a.json')] }, twoRoots));

    expect(itemOf(entry).source).toBe(path.join(dir, 'a.json'));
  });

  it('reads roots from file URIs', async () => {
    const dir = await makeFolder('with spaces');
    await writeFiles(dir, { 'a b.json': line(SCENE_A) });
    const uri = pathToFileURL(dir).href;
    const uriRoots = await AllowedRoots.fromFileUris([uri]);

    const [entry] = await drain(readSourceEntries({ paths: ['a b.json'] }, uriRoots));

    expect(uri).toContain('with%20spaces');
    expect(itemOf(entry).source).toBe(path.join(dir, 'a b.json'));
  });

  it('reports each path without roots', async () => {
    const request: SourceRequest = { predictions: [{ sceneUuid: SCENE_A, openlabel: DOCUMENT }], paths: ['a.json', 'b.jsonl'] };

    const entries = await drain(readSourceEntries(request, undefined));

    expect(itemOf(entries[0]).sceneUuid).toBe(SCENE_A);
    expect(problemOf(entries[1]).code).toBe('no_roots');
    expect(problemOf(entries[1]).message).toContain('--root DIR');
    expect(problemOf(entries[2]).code).toBe('no_roots');
  });
});

describe('readSourceEntries laziness', () => {
  it('resolves paths only when pulled', async () => {
    const dir = await makeFolder();
    const file = path.join(dir, 'late.json');
    const entries = readSourceEntries({ paths: [file] }, roots);

    await writeFiles(dir, { 'late.json': line(SCENE_A) });
    const first = await entries.next();

    expect(itemOf(first.value as SourceEntry).sceneUuid).toBe(SCENE_A);
  });

  it.runIf(process.platform === 'linux')('pulls ten entries cheaply', async () => {
    const before = memoryBaseline();
    const entries = readSourceEntries({ paths: [largeFile] }, roots);

    const pulled: SourceEntry[] = [];
    for (let i = 0; i < 10; i++) {
      pulled.push((await entries.next()).value as SourceEntry);
    }
    const grown = memoryInUse() - before;
    const openWhilePulling = await openDescriptorsOf(largeFile);
    await entries.return(undefined);

    expect(itemOf(pulled[9]).source).toBe(`${largeFile}:10`);
    expect(grown).toBeLessThan(32 * MEGABYTE);
    expect(openWhilePulling).toBe(1);
    expect(await waitUntilClosed(largeFile)).toBe(0);
  });

  it('keeps memory flat over a long file', async () => {
    const before = memoryBaseline();
    let peak = 0;
    let count = 0;

    for await (const entry of readSourceEntries({ paths: [largeFile] }, roots)) {
      count += entry.kind === 'item' ? 1 : 0;
      if (count % 1_000 === 0) {
        peak = Math.max(peak, memoryInUse() - before);
      }
    }

    // The file is about 100 MB, so holding its lines would add far more than this.
    expect(count).toBe(LARGE_FILE_LINES);
    expect(peak).toBeLessThan(48 * MEGABYTE);
  });

  it.runIf(process.platform === 'linux')('stops when the signal aborts', async () => {
    const controller = new AbortController();
    const seen: SourceEntry[] = [];

    for await (const entry of readSourceEntries({ paths: [largeFile] }, roots, { signal: controller.signal })) {
      seen.push(entry);
      if (seen.length === 5) {
        controller.abort();
      }
    }

    expect(seen).toHaveLength(5);
    expect(await waitUntilClosed(largeFile)).toBe(0);
  });
});

describe('countSourceItems', () => {
  it('matches the entries read', async () => {
    const dir = await makeFolder();
    await writeFiles(dir, {
      'lines.jsonl': `\uFEFF${line(SCENE_A)}\n\n  \r\nnot json\r\n${line(SCENE_B)}`,
      'folder/a.json': line(SCENE_A),
      'folder/b.json': '{',
      'empty/readme.md': '#',
    });
    const request: SourceRequest = {
      predictions: [{ sceneUuid: SCENE_A, openlabel: DOCUMENT }],
      paths: [path.join(dir, 'lines.jsonl'), path.join(dir, 'folder'), path.join(dir, 'empty'), 'missing.json'],
    };

    const count = await countSourceItems(request, roots);
    const entries = await collect(request);

    expect(count).toBe(8);
    expect(entries).toHaveLength(8);
  });

  it('counts a long file', async () => {
    await expect(countSourceItems({ paths: [largeFile] }, roots)).resolves.toBe(LARGE_FILE_LINES);
  });

  it('returns undefined when aborted', async () => {
    const controller = new AbortController();
    controller.abort();

    await expect(countSourceItems({ paths: [largeFile] }, roots, { signal: controller.signal })).resolves.toBeUndefined();
  });
});
