/**
 * A lock file beside a group's journal, so that two server processes never upload to one
 * prediction group at the same time. Each reads the journal once when its upload starts, so
 * without the lock both could send the same scene.
 *
 * The lock file is `<journal>.lock` and contains the owner's pid, host name and start time. It is
 * created with O_EXCL, which is atomic on local file systems. A lock is taken over when its owner
 * no longer runs: its pid is not running on this host, or it is this process's pid but this
 * process does not own the lock (a restarted container reuses its pid). Takeovers go through a
 * second O_EXCL file, `<journal>.lock.takeover`, so that two processes never both remove a stale
 * lock and then each create their own.
 */
import { closeSync, lstatSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';

import { UserInputError } from '../errors.js';

interface LockOwner {
  pid: number;
  host: string;
  /** ISO 8601 time the lock was taken. */
  since: string;
}

/** Content of a lock file: a valid owner, or why there is none. */
type LockState =
  | LockOwner
  /** No file. */
  | { kind: 'missing' }
  /** A regular file without a valid owner: torn, empty or foreign. */
  | { kind: 'unreadable'; modifiedMs: number }
  /** Not a regular file, or a file this process may not read; it is never removed. */
  | { kind: 'inaccessible'; reason: string };

/**
 * Age after which a lock file without a valid owner, or a takeover file, counts as abandoned. A
 * new lock file is empty between its creation and the write of its owner, two consecutive system
 * calls, and a takeover lasts a few system calls.
 */
const ABANDONED_FILE_AGE_MS = 10_000;

/** Lock files of this process by path, removed on exit even when a journal is never closed. */
const ownedLocks = new Map<string, LockOwner>();
let exitHandlerInstalled = false;

/** Another upload owns the lock of a prediction group's journal. */
export class UploadBusyError extends UserInputError {}

export class JournalLock {
  private released = false;

  private constructor(
    readonly path: string,
    private readonly owner: LockOwner,
  ) {}

  /**
   * Takes the lock of the journal at `journalPath`, creating the lock file with `fileMode`. Throws
   * UploadBusyError when another process, or another upload of this one, owns it.
   */
  static acquire(journalPath: string, groupUuid: string, fileMode: number): JournalLock {
    const path = `${journalPath}.lock`;
    const owner: LockOwner = { pid: process.pid, host: hostname(), since: new Date().toISOString() };

    // Two tries: the second follows the removal of an abandoned lock.
    for (let attempt = 1; attempt <= 2; attempt++) {
      if (tryCreate(path, owner, fileMode)) {
        rememberOwnedLock(path, owner);
        return new JournalLock(path, owner);
      }

      const state = readLock(path);
      if ('kind' in state && state.kind === 'missing') {
        continue;
      }
      if (!isAbandoned(path, state) || !takeOver(path, state, fileMode)) {
        throw new UploadBusyError(busyMessage(path, groupUuid, state));
      }
    }

    throw new UploadBusyError(busyMessage(path, groupUuid, readLock(path)));
  }

  /**
   * Throws UploadBusyError when a live owner holds the lock of the journal at `journalPath`. An
   * upload calls it before it starts, so that a busy group fails the tool call itself. The upload
   * still takes the lock, because another process may take it in between.
   */
  static assertFree(journalPath: string, groupUuid: string): void {
    const path = `${journalPath}.lock`;
    const state = readLock(path);
    if ('kind' in state && state.kind === 'missing') {
      return;
    }
    if (!isAbandoned(path, state)) {
      throw new UploadBusyError(busyMessage(path, groupUuid, state));
    }
  }

  /**
   * Removes the lock file unless another process has replaced it, after someone deleted it by
   * hand. Later calls do nothing.
   */
  release(): void {
    if (this.released) {
      return;
    }
    this.released = true;
    ownedLocks.delete(this.path);
    removeIfOwnedBy(this.path, this.owner);
  }
}

/** Creates the lock file with the owner in it; returns false when the file exists. */
function tryCreate(path: string, owner: LockOwner, fileMode: number): boolean {
  const fd = createExclusive(path, fileMode);
  if (fd === undefined) {
    return false;
  }

  try {
    writeSync(fd, `${JSON.stringify(owner)}\n`);
  } catch (error) {
    removeQuietly(path);
    throw error;
  } finally {
    closeSync(fd);
  }
  return true;
}

/** Opens a new file with O_EXCL; returns undefined when it exists. */
function createExclusive(path: string, fileMode: number): number | undefined {
  try {
    return openSync(path, 'wx', fileMode);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') {
      return undefined;
    }
    throw new Error(
      `Cannot create the upload lock file ${path} (${code ?? (error as Error).message}). ` +
        'Make the state folder writable, or choose another with --state-dir or KOGNIC_MCP_STATE_DIR.',
    );
  }
}

function readLock(path: string): LockState {
  let modifiedMs: number;
  try {
    const stats = lstatSync(path);
    // A FIFO would block the read, and with it the whole server.
    if (!stats.isFile()) {
      return { kind: 'inaccessible', reason: 'it is not a regular file' };
    }
    modifiedMs = stats.mtimeMs;
  } catch (error) {
    return missingOrInaccessible(error);
  }

  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    return missingOrInaccessible(error);
  }

  try {
    const value = JSON.parse(text) as Partial<LockOwner>;
    if (Number.isInteger(value.pid) && (value.pid as number) > 0 && typeof value.host === 'string' && typeof value.since === 'string') {
      return { pid: value.pid as number, host: value.host, since: value.since };
    }
  } catch {
    // Falls through: a torn or foreign file.
  }
  return { kind: 'unreadable', modifiedMs };
}

function missingOrInaccessible(error: unknown): LockState {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'ENOENT' ? { kind: 'missing' } : { kind: 'inaccessible', reason: `it cannot be read (${code ?? 'error'})` };
}

function isAbandoned(path: string, state: LockState): boolean {
  if (!('kind' in state)) {
    if (state.host !== hostname()) {
      // A process on another host, sharing the state folder over a network file system, cannot
      // be checked, so its lock stays until it is removed.
      return false;
    }
    if (state.pid === process.pid) {
      return !ownedLocks.has(path);
    }
    return !isProcessRunning(state.pid);
  }
  return state.kind === 'unreadable' && Date.now() - state.modifiedMs > ABANDONED_FILE_AGE_MS;
}

function isProcessRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes the abandoned lock at `path`, which was read as `judged`, while holding the takeover
 * file. Returns false when another process is taking it over at the same time. Under the
 * takeover file the lock is read again, so a lock that another process took over since it was
 * judged is left alone.
 */
function takeOver(path: string, judged: LockState, fileMode: number): boolean {
  const takeoverPath = `${path}.takeover`;
  let fd = createExclusive(takeoverPath, fileMode);
  if (fd === undefined && isOlderThan(takeoverPath, ABANDONED_FILE_AGE_MS)) {
    // A process died in the middle of a takeover.
    removeQuietly(takeoverPath);
    fd = createExclusive(takeoverPath, fileMode);
  }
  if (fd === undefined) {
    return false;
  }

  try {
    const current = readLock(path);
    if (sameLockState(current, judged) && isAbandoned(path, current)) {
      removeQuietly(path);
    }
    return true;
  } finally {
    closeSync(fd);
    removeQuietly(takeoverPath);
  }
}

function sameLockState(first: LockState, second: LockState): boolean {
  if ('kind' in first || 'kind' in second) {
    return 'kind' in first && 'kind' in second && first.kind === second.kind;
  }
  return first.pid === second.pid && first.host === second.host && first.since === second.since;
}

function isOlderThan(path: string, ageMs: number): boolean {
  try {
    return Date.now() - lstatSync(path).mtimeMs > ageMs;
  } catch {
    return false;
  }
}

/** Removes the lock at `path` if it still names `owner`. */
function removeIfOwnedBy(path: string, owner: LockOwner): void {
  const current = readLock(path);
  if (!('kind' in current) && sameLockState(current, owner)) {
    removeQuietly(path);
  }
}

function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // Already gone, or the folder is gone: either way nothing is locked.
  }
}

function rememberOwnedLock(path: string, owner: LockOwner): void {
  ownedLocks.set(path, owner);
  if (!exitHandlerInstalled) {
    exitHandlerInstalled = true;
    process.once('exit', () => {
      for (const [lockPath, lockOwner] of ownedLocks) {
        removeIfOwnedBy(lockPath, lockOwner);
      }
    });
  }
}

function busyMessage(path: string, groupUuid: string, state: LockState): string {
  let holderDescription: string;
  if (!('kind' in state)) {
    holderDescription =
      state.pid === process.pid && state.host === hostname()
        ? `another upload of this server (since ${state.since})`
        : `process ${state.pid} on host ${state.host} (since ${state.since})`;
  } else if (state.kind === 'inaccessible') {
    holderDescription = `another process, as far as the lock file shows: ${state.reason}`;
  } else {
    holderDescription = 'another process';
  }

  return (
    `Prediction group ${groupUuid} is being uploaded to by ${holderDescription}, and two uploads to one group could send a ` +
    `scene twice. Wait until that upload ends, or cancel it in the server that runs it. If no kognic-dataset-mcp ` +
    `process is uploading, delete the lock file ${path} and upload again.`
  );
}
