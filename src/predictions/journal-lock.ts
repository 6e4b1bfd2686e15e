/**
 * A lock file beside a group's journal, so that two server processes never upload to one
 * prediction group at the same time. Each reads the journal once when its upload starts, so
 * without the lock both could send the same scene.
 *
 * The lock file is `<journal>.lock` and contains the owner's pid, host name and start time. It is
 * created with O_EXCL, which is atomic on local file systems. A lock whose owner process no longer
 * runs on this host, such as one left by `kill -9`, is taken over.
 */
import { closeSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';

import { UserInputError } from '../errors.js';

interface LockOwner {
  pid: number;
  host: string;
  /** ISO 8601 time the lock was taken. */
  since: string;
}

/**
 * Age after which a lock file that is empty or unreadable counts as abandoned. A new lock file is
 * empty between its creation and the write of its owner, two consecutive system calls.
 */
const UNREADABLE_LOCK_MAX_AGE_MS = 10_000;

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

      const holder = readOwner(path);
      if (holder === 'missing') {
        continue;
      }
      if (!isAbandoned(path, holder)) {
        throw new UploadBusyError(busyMessage(path, groupUuid, holder));
      }
      removeIfUnchanged(path, holder);
    }

    throw new UploadBusyError(busyMessage(path, groupUuid, readOwner(path)));
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
    removeIfUnchanged(this.path, this.owner);
  }
}

/** Creates the lock file with the owner in it; returns false when the file exists. */
function tryCreate(path: string, owner: LockOwner, fileMode: number): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'wx', fileMode);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
      return false;
    }
    throw error;
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

/** Returns the lock's owner, 'unreadable' for a file without a valid owner, or 'missing'. */
function readOwner(path: string): LockOwner | 'unreadable' | 'missing' {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing' : 'unreadable';
  }

  try {
    const value = JSON.parse(text) as Partial<LockOwner>;
    if (Number.isInteger(value.pid) && typeof value.host === 'string' && typeof value.since === 'string') {
      return value as LockOwner;
    }
  } catch {
    // Falls through: a torn or foreign file.
  }
  return 'unreadable';
}

function isAbandoned(path: string, holder: LockOwner | 'unreadable'): boolean {
  if (holder === 'unreadable') {
    try {
      return Date.now() - statSync(path).mtimeMs > UNREADABLE_LOCK_MAX_AGE_MS;
    } catch {
      return true;
    }
  }
  // A process on another host, sharing the state folder over a network file system, cannot be
  // checked, so its lock holds until it is removed.
  return holder.host === hostname() && !isProcessRunning(holder.pid);
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
 * Removes a lock unless its content changed since it was read as `expected`. Another process that
 * took the lock over in between thus keeps it, except in the instant between this read and the
 * removal.
 */
function removeIfUnchanged(path: string, expected: LockOwner | 'unreadable'): void {
  const current = readOwner(path);
  if (current === 'missing') {
    return;
  }
  if (JSON.stringify(current) === JSON.stringify(expected)) {
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
        removeIfUnchanged(lockPath, lockOwner);
      }
    });
  }
}

function busyMessage(path: string, groupUuid: string, holder: LockOwner | 'unreadable' | 'missing'): string {
  const holderDescription =
    typeof holder === 'object'
      ? holder.pid === process.pid && holder.host === hostname()
        ? `another upload of this server (since ${holder.since})`
        : `process ${holder.pid} on host ${holder.host} (since ${holder.since})`
      : 'another process';
  return (
    `Prediction group ${groupUuid} is being uploaded to by ${holderDescription}, and two uploads to one group could send a ` +
    `scene twice. Wait until that upload ends, or cancel it in the server that runs it. If no kognic-dataset-mcp ` +
    `process is uploading, delete the lock file ${path} and upload again.`
  );
}
