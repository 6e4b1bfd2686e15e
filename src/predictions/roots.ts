/**
 * The folders that tool calls may read prediction files from. Every path is resolved to its real
 * path (symlinks followed) before the containment check, so neither a link nor `..` segments can
 * lead out of a root.
 */
import { realpath, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export type PathAccessErrorCode =
  | 'path_outside_roots'
  | 'path_not_found'
  | 'path_unreadable'
  | 'no_roots'
  | 'unsupported_file_type';

/** A path that may not or cannot be read. `path` is the path as the caller wrote it. */
export class PathAccessError extends Error {
  override readonly name = 'PathAccessError';

  constructor(
    readonly code: PathAccessErrorCode,
    readonly path: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Origin of the roots in force: the server's start settings (`command-line`: --root,
 * KOGNIC_MCP_ROOTS, or the working directory in sandbox mode), or the MCP roots that the client
 * offers (`client`), which replace them.
 */
export type RootsSource = 'command-line' | 'client';

/** A root offered by the client that could not be used, with the reason. */
export interface IgnoredRoot {
  uri: string;
  reason: string;
}

/**
 * Returns whether `child` is `parent` or lies below it. Both must be absolute and normalized.
 * Windows paths are compared case-insensitively, as the file system does by default.
 */
export function isPathInside(parent: string, child: string, platform: NodeJS.Platform = process.platform): boolean {
  const pathApi = platform === 'win32' ? path.win32 : path.posix;
  const fold = (text: string) => (platform === 'win32' ? text.toLowerCase() : text);
  const parentKey = fold(parent);
  const childKey = fold(child);

  if (childKey === parentKey) {
    return true;
  }

  // A root such as `/` or `C:\` already ends with the separator.
  const prefix = parentKey.endsWith(pathApi.sep) ? parentKey : parentKey + pathApi.sep;
  return childKey.startsWith(prefix);
}

/** Replaces a leading `~` with the home directory. `~user` forms are left as they are. */
function expandHome(input: string): string {
  if (input === '~') {
    return homedir();
  }
  if (input.startsWith('~/') || (process.platform === 'win32' && input.startsWith('~\\'))) {
    return path.join(homedir(), input.slice(2));
  }
  return input;
}

function errnoCode(error: unknown): string | undefined {
  return error instanceof Error && 'code' in error && typeof error.code === 'string' ? error.code : undefined;
}

/** Resolves `dir` to the real path of an existing directory, or throws a PathAccessError naming it. */
async function resolveRootDir(dir: string, howToFix: string): Promise<string> {
  const absolute = path.resolve(expandHome(dir));

  let real: string;
  try {
    real = await realpath(absolute);
  } catch (error) {
    const code = errnoCode(error);
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new PathAccessError('path_not_found', dir, `Root directory ${absolute} was not found. ${howToFix}`);
    }
    throw new PathAccessError('path_unreadable', dir, `Root directory ${absolute} cannot be read (${code ?? String(error)}). ${howToFix}`);
  }

  if (!(await stat(real)).isDirectory()) {
    throw new PathAccessError('unsupported_file_type', dir, `Root ${absolute} is not a directory. ${howToFix}`);
  }
  return real;
}

export class AllowedRoots {
  private constructor(
    /** Real absolute paths of the roots, without duplicates, in the order given. */
    readonly dirs: readonly string[],
    readonly source: RootsSource,
    /** Client roots that were skipped because they are not local directories. */
    readonly ignored: readonly IgnoredRoot[] = [],
  ) {}

  /**
   * Creates the roots from directories given on the command line. `~` is expanded and relative
   * paths resolve against the working directory. Throws a PathAccessError naming the first
   * directory that does not exist or is not a directory.
   */
  static async create(dirs: string[]): Promise<AllowedRoots> {
    const resolved: string[] = [];
    for (const dir of dirs) {
      resolved.push(await resolveRootDir(dir, 'Create it or pass an existing directory with --root.'));
    }
    return new AllowedRoots(unique(resolved), 'command-line');
  }

  /**
   * Creates the roots from the `file://` URIs of MCP roots (percent-encoding decoded). URIs of
   * other schemes, and directories that do not exist on this machine, are skipped and listed in
   * `ignored`, because a client may offer roots that this server cannot read.
   */
  static async fromFileUris(uris: string[]): Promise<AllowedRoots> {
    const resolved: string[] = [];
    const ignored: IgnoredRoot[] = [];

    for (const uri of uris) {
      let dir: string;
      try {
        const url = new URL(uri);
        if (url.protocol !== 'file:') {
          ignored.push({ uri, reason: `the scheme ${url.protocol} is not file:` });
          continue;
        }
        dir = fileURLToPath(url);
      } catch (error) {
        ignored.push({ uri, reason: `it is not a valid local file URI (${(error as Error).message})` });
        continue;
      }

      try {
        resolved.push(await resolveRootDir(dir, 'Offer an existing local directory as an MCP root.'));
      } catch (error) {
        if (!(error instanceof PathAccessError)) {
          throw error;
        }
        ignored.push({ uri, reason: error.message });
      }
    }

    return new AllowedRoots(unique(resolved), 'client', ignored);
  }

  /**
   * Resolves `input` to the real absolute path of an existing file or folder inside a root.
   * Relative paths resolve against the first root and `~` is expanded. Symlinks are followed
   * before the check, and the root itself is allowed. Throws a PathAccessError otherwise.
   */
  async resolve(input: string): Promise<string> {
    const firstRoot = this.dirs[0];
    if (firstRoot === undefined) {
      throw new PathAccessError(
        'no_roots',
        input,
        `No allowed roots are configured, so ${input} cannot be read. Start the server with --root DIR or use a client that offers MCP roots.`,
      );
    }

    const absolute = path.resolve(firstRoot, expandHome(input));

    let real: string;
    try {
      real = await realpath(absolute);
    } catch (error) {
      // A path outside every root gets the same error whether or not it exists, so that a
      // caller cannot probe the rest of the file system.
      if (!(await this.containsMissingPath(absolute))) {
        throw this.outsideError(input, absolute);
      }

      const code = errnoCode(error);
      if (code === 'ENOENT' || code === 'ENOTDIR') {
        throw new PathAccessError(
          'path_not_found',
          input,
          `${absolute} was not found. Check the path. Relative paths are resolved against the first allowed root, ${firstRoot}.`,
        );
      }
      throw new PathAccessError('path_unreadable', input, `${absolute} cannot be read (${code ?? String(error)}). Check its permissions.`);
    }

    if (!this.contains(real)) {
      throw this.outsideError(input, absolute, real);
    }
    return real;
  }

  private contains(absolute: string): boolean {
    return this.dirs.some((dir) => isPathInside(dir, absolute));
  }

  /** Checks a path that cannot be resolved by the real path of its nearest existing ancestor. */
  private async containsMissingPath(absolute: string): Promise<boolean> {
    let current = absolute;
    for (;;) {
      const parent = path.dirname(current);
      if (parent === current) {
        return false;
      }
      current = parent;

      try {
        return this.contains(await realpath(current));
      } catch {
        // This ancestor does not exist or cannot be read either, so try the next one up.
      }
    }
  }

  private outsideError(input: string, absolute: string, real?: string): PathAccessError {
    const subject = real === undefined || real === absolute ? absolute : `${absolute} resolves to ${real}, which`;
    const roots = this.dirs.join(', ');
    // The advice comes before the list of roots because tool results cut long messages
    // (validation reports keep the first 240 characters of each).
    const message =
      this.source === 'client'
        ? `${subject} is outside the MCP roots that the client offers, which replace --root. ` +
          `Pass a path inside one of them, or add its folder as a root in the MCP client (host). Client roots: ${roots}.`
        : `${subject} is outside the server's allowed roots. Move the file under one of them, ` +
          `or add its folder with --root DIR or KOGNIC_MCP_ROOTS and restart the server. Allowed roots: ${roots}.`;
    return new PathAccessError('path_outside_roots', input, message);
  }
}

function unique(dirs: string[]): string[] {
  return [...new Set(dirs)];
}
