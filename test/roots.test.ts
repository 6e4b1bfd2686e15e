import { mkdir, mkdtemp, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { AllowedRoots, isPathInside, PathAccessError } from '../src/predictions/roots.js';

let base: string;
let rootA: string;
let rootB: string;
let outside: string;

beforeAll(async () => {
  base = await realpath(await mkdtemp(path.join(tmpdir(), 'roots-test-')));
  rootA = path.join(base, 'root a');
  rootB = path.join(base, 'root-b');
  outside = path.join(base, 'outside');
  for (const dir of [rootA, rootB, outside, path.join(rootA, 'sub')]) {
    await mkdir(dir, { recursive: true });
  }

  await writeFile(path.join(rootA, 'inside.json'), '{}');
  await writeFile(path.join(rootA, 'sub', 'deep.json'), '{}');
  await writeFile(path.join(rootB, 'only-in-b.json'), '{}');
  await writeFile(path.join(outside, 'secret.json'), '{}');
  await symlink(path.join(outside, 'secret.json'), path.join(rootA, 'link-out.json'));
  await symlink(path.join(rootA, 'sub', 'deep.json'), path.join(rootA, 'link-in.json'));
  await symlink(outside, path.join(rootA, 'dir-link-out'));
});

afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

/** Returns the PathAccessError that `promise` rejects with, or fails the test. */
async function accessError(promise: Promise<unknown>): Promise<PathAccessError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof PathAccessError) {
      return error;
    }
    throw error;
  }
  throw new Error('expected a PathAccessError, but the call succeeded');
}

describe('AllowedRoots.create', () => {
  it('resolves directories to real paths', async () => {
    const roots = await AllowedRoots.create([path.join(rootA, 'sub', '..'), rootB]);

    expect(roots.dirs).toEqual([rootA, rootB]);
  });

  it('expands the home directory', async () => {
    const roots = await AllowedRoots.create(['~']);

    expect(roots.dirs).toEqual([await realpath(homedir())]);
  });

  it('drops duplicate roots', async () => {
    const roots = await AllowedRoots.create([rootA, `${rootA}/`]);

    expect(roots.dirs).toEqual([rootA]);
  });

  it('rejects a missing directory', async () => {
    const missing = path.join(base, 'no-such-dir');

    const error = await accessError(AllowedRoots.create([rootA, missing]));

    expect(error.code).toBe('path_not_found');
    expect(error.path).toBe(missing);
    expect(error.message).toContain(missing);
    expect(error.message).toContain('--root');
  });

  it('rejects a file as root', async () => {
    const error = await accessError(AllowedRoots.create([path.join(rootA, 'inside.json')]));

    expect(error.code).toBe('unsupported_file_type');
    expect(error.message).toContain('is not a directory');
  });
});

describe('AllowedRoots.fromFileUris', () => {
  it('decodes URIs with spaces', async () => {
    const uri = pathToFileURL(rootA).href;

    const roots = await AllowedRoots.fromFileUris([uri]);

    expect(uri).toContain('root%20a');
    expect(roots.dirs).toEqual([rootA]);
  });

  it('ignores non-file URIs', async () => {
    const roots = await AllowedRoots.fromFileUris(['https://example.com/data', pathToFileURL(rootB).href]);

    expect(roots.dirs).toEqual([rootB]);
    expect(roots.ignored).toHaveLength(1);
    expect(roots.ignored[0]?.uri).toBe('https://example.com/data');
  });

  it('ignores missing directories', async () => {
    const missingUri = pathToFileURL(path.join(base, 'gone')).href;

    const roots = await AllowedRoots.fromFileUris([missingUri, pathToFileURL(rootA).href]);

    expect(roots.dirs).toEqual([rootA]);
    expect(roots.ignored[0]?.uri).toBe(missingUri);
    expect(roots.ignored[0]?.reason).toContain('was not found');
  });
});

describe('AllowedRoots.resolve', () => {
  let roots: AllowedRoots;

  beforeAll(async () => {
    roots = await AllowedRoots.create([rootA, rootB]);
  });

  it('accepts a file inside a root', async () => {
    await expect(roots.resolve(path.join(rootB, 'only-in-b.json'))).resolves.toBe(path.join(rootB, 'only-in-b.json'));
  });

  it('accepts the root itself', async () => {
    await expect(roots.resolve(rootB)).resolves.toBe(rootB);
  });

  it('resolves relative paths against first root', async () => {
    await expect(roots.resolve('sub/deep.json')).resolves.toBe(path.join(rootA, 'sub', 'deep.json'));
  });

  it('does not search later roots', async () => {
    const error = await accessError(roots.resolve('only-in-b.json'));

    expect(error.code).toBe('path_not_found');
    expect(error.message).toContain(path.join(rootA, 'only-in-b.json'));
    expect(error.message).toContain('first allowed root');
  });

  it('rejects a path outside roots', async () => {
    const target = path.join(outside, 'secret.json');

    const error = await accessError(roots.resolve(target));

    expect(error.code).toBe('path_outside_roots');
    expect(error.path).toBe(target);
    expect(error.message).toContain(`${target} is outside the server's allowed roots.`);
    expect(error.message).toContain('add its folder with --root DIR or KOGNIC_MCP_ROOTS');
    expect(error.message).toContain(`Allowed roots: ${rootA}, ${rootB}.`);
  });

  it('records command-line roots source', () => {
    expect(roots.source).toBe('command-line');
  });

  it('gives client-root advice outside client roots', async () => {
    const clientRoots = await AllowedRoots.fromFileUris([pathToFileURL(rootA).href, pathToFileURL(rootB).href]);
    const target = path.join(outside, 'secret.json');

    const error = await accessError(clientRoots.resolve(target));

    expect(clientRoots.source).toBe('client');
    expect(error.code).toBe('path_outside_roots');
    expect(error.message).toContain(`${target} is outside the MCP roots that the client offers`);
    expect(error.message).toContain('add its folder as a root in the MCP client (host)');
    expect(error.message).toContain(`Client roots: ${rootA}, ${rootB}.`);
    expect(error.message).not.toContain('--root DIR');
    expect(error.message).not.toContain('KOGNIC_MCP_ROOTS');
  });

  it('names client roots for outward link', async () => {
    const clientRoots = await AllowedRoots.fromFileUris([pathToFileURL(rootA).href]);

    const error = await accessError(clientRoots.resolve('link-out.json'));

    expect(error.code).toBe('path_outside_roots');
    expect(error.message).toContain(`resolves to ${path.join(outside, 'secret.json')}, which is outside the MCP roots that the client offers`);
    expect(error.message).toContain(`Client roots: ${rootA}.`);
  });

  it('rejects .. segments leaving a root', async () => {
    const error = await accessError(roots.resolve('sub/../../outside/secret.json'));

    expect(error.code).toBe('path_outside_roots');
  });

  it('accepts .. segments staying inside', async () => {
    await expect(roots.resolve('sub/../inside.json')).resolves.toBe(path.join(rootA, 'inside.json'));
  });

  it('rejects a symlink leading out', async () => {
    const error = await accessError(roots.resolve('link-out.json'));

    expect(error.code).toBe('path_outside_roots');
    expect(error.message).toContain(`resolves to ${path.join(outside, 'secret.json')}`);
  });

  it('rejects a path below an outward folder link', async () => {
    const error = await accessError(roots.resolve('dir-link-out/secret.json'));

    expect(error.code).toBe('path_outside_roots');
  });

  it('follows a symlink within roots', async () => {
    await expect(roots.resolve('link-in.json')).resolves.toBe(path.join(rootA, 'sub', 'deep.json'));
  });

  it('reports a missing file inside', async () => {
    const error = await accessError(roots.resolve('missing.json'));

    expect(error.code).toBe('path_not_found');
    expect(error.path).toBe('missing.json');
  });

  it('hides whether outside files exist', async () => {
    const missing = await accessError(roots.resolve(path.join(outside, 'missing.json')));
    const missingBelowLink = await accessError(roots.resolve('dir-link-out/missing.json'));

    expect(missing.code).toBe('path_outside_roots');
    expect(missingBelowLink.code).toBe('path_outside_roots');
  });

  it('rejects every path without roots', async () => {
    const empty = await AllowedRoots.create([]);

    const error = await accessError(empty.resolve('a.json'));

    expect(error.code).toBe('no_roots');
    expect(error.message).toContain('--root DIR');
    expect(error.message).toContain('MCP roots');
  });
});

describe('isPathInside', () => {
  it('accepts the same path', () => {
    expect(isPathInside('/data', '/data', 'linux')).toBe(true);
  });

  it('accepts a descendant', () => {
    expect(isPathInside('/data', '/data/a/b.json', 'linux')).toBe(true);
  });

  it('rejects a sibling sharing a prefix', () => {
    expect(isPathInside('/data', '/database/a.json', 'linux')).toBe(false);
  });

  it('accepts everything below /', () => {
    expect(isPathInside('/', '/etc/hosts', 'linux')).toBe(true);
  });

  it('is case-sensitive on POSIX', () => {
    expect(isPathInside('/Data', '/data/a.json', 'linux')).toBe(false);
  });

  it('ignores case on Windows', () => {
    expect(isPathInside('C:\\Data', 'c:\\data\\a.json', 'win32')).toBe(true);
  });

  it('rejects a Windows sibling prefix', () => {
    expect(isPathInside('C:\\Data', 'C:\\Database\\a.json', 'win32')).toBe(false);
  });
});
