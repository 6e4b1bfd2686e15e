/**
 * The upload journal: an append-only JSONL file per API origin and prediction group that records
 * every prediction request before it is sent and its outcome after. A later upload to the same
 * group reads it to skip scenes that already have a prediction, and to hold back scenes whose
 * earlier request may or may not have created one.
 */
import { closeSync, createReadStream, fstatSync, mkdirSync, openSync, readSync, writeSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { createInterface } from 'node:readline';

import type { Logger } from '../log.js';
import { JournalLock } from './journal-lock.js';

/** Mode of every folder the server creates under the state folder: only the user may read it. */
export const STATE_DIR_MODE = 0o700;

/** Mode of journal and report files. */
export const STATE_FILE_MODE = 0o600;

export type JournalEvent =
  | { e: 'sent'; scene: string; job: string; at: number }
  | { e: 'created'; scene: string; job: string; prediction: string; at: number }
  | { e: 'failed'; scene: string; job: string; reason: string; status?: number; at: number }
  | { e: 'unknown'; scene: string; job: string; reason: string; at: number };

export type JournalLookup =
  | { state: 'created'; predictionUuid?: string }
  | { state: 'unconfirmed' }
  | undefined;

/**
 * Values of the in-memory scene map besides prediction UUIDs. A scene with a prediction maps to the
 * prediction UUID (or '' when the API returned none), and no UUID is a single letter.
 */
const SENT_MARKER = 'S';
const UNKNOWN_MARKER = 'U';

/**
 * Returns the folder for journals and reports: `$XDG_STATE_HOME/kognic-dataset-mcp`, or
 * `~/.local/state/kognic-dataset-mcp` when XDG_STATE_HOME is unset or not absolute (the XDG
 * base directory specification requires relative values to be ignored).
 */
export function defaultStateDir(env: NodeJS.ProcessEnv): string {
  const xdgStateHome = env.XDG_STATE_HOME;
  if (xdgStateHome !== undefined && isAbsolute(xdgStateHome)) {
    return join(xdgStateHome, 'kognic-dataset-mcp');
  }
  return join(env.HOME ?? homedir(), '.local', 'state', 'kognic-dataset-mcp');
}

/** Returns the folder name for an API origin, such as `dataset.app.kognic.com_443`. */
export function originFolderName(apiOrigin: string): string {
  const url = new URL(apiOrigin);
  let port = url.port;
  if (port === '') {
    port = url.protocol === 'http:' ? '80' : '443';
  }

  // An IPv6 host such as [::1] becomes --1: brackets dropped, colons replaced.
  const host = url.hostname.replace(/^\[|\]$/g, '').replace(/[^A-Za-z0-9.-]/g, '-');
  return `${host}_${port}`;
}

/** Returns the journal path of one prediction group at one API origin. */
export function journalPath(stateDir: string, apiOrigin: string, groupUuid: string): string {
  return join(stateDir, 'journals', originFolderName(apiOrigin), `${groupUuid.toLowerCase()}.jsonl`);
}

export class UploadJournal {
  private constructor(
    readonly path: string,
    private readonly fd: number,
    private readonly lock: JournalLock,
    private readonly scenes: Map<string, string>,
    /** Lines that could not be parsed when the journal was opened, such as a line torn by a crash. */
    readonly unreadableLines: number,
  ) {}

  /**
   * Opens the journal of one group, creating it and its folders when missing, and reads every
   * earlier event into memory. The file is read as a stream, so a long journal is never held
   * as one string. Unparsable lines are skipped and counted.
   *
   * The journal stays locked until close(): while it is open, another open of the same journal,
   * in this process or another one, throws UploadBusyError.
   */
  static async open(options: { stateDir: string; apiOrigin: string; groupUuid: string; logger: Logger }): Promise<UploadJournal> {
    const path = journalPath(options.stateDir, options.apiOrigin, options.groupUuid);
    mkdirSync(join(path, '..'), { recursive: true, mode: STATE_DIR_MODE });
    const lock = JournalLock.acquire(path, options.groupUuid, STATE_FILE_MODE);

    let fd: number | undefined;
    try {
      // Append mode: every write goes to the end of the file, whatever else has the file open.
      fd = openSync(path, 'a+', STATE_FILE_MODE);
      const scenes = new Map<string, string>();
      const unreadableLines = await readEvents(path, (event) => applyEvent(scenes, event));
      endTornLine(fd);

      if (unreadableLines > 0) {
        options.logger.warn('Skipped unreadable lines in the upload journal', { path, lines: unreadableLines });
      }
      return new UploadJournal(path, fd, lock, scenes, unreadableLines);
    } catch (error) {
      if (fd !== undefined) {
        closeSync(fd);
      }
      lock.release();
      throw error;
    }
  }

  /** Number of scenes the journal has a record for. */
  get sceneCount(): number {
    return this.scenes.size;
  }

  /**
   * Returns what earlier requests did for a scene: `created` when a prediction exists,
   * `unconfirmed` when a request was sent and its outcome is unknown, or undefined when no
   * prediction was created (never sent, or every request failed).
   */
  lookup(sceneUuid: string): JournalLookup {
    const value = this.scenes.get(sceneUuid);
    if (value === undefined) {
      return undefined;
    }
    if (value === SENT_MARKER || value === UNKNOWN_MARKER) {
      return { state: 'unconfirmed' };
    }
    return value === '' ? { state: 'created' } : { state: 'created', predictionUuid: value };
  }

  /**
   * Appends one event to the file. The in-memory state stays as the journal was when opened, so
   * it does not grow during an upload. An upload never looks up a scene twice, because the
   * admission rejects a repeated scene first. The next upload opens the journal again. The
   * write is synchronous on a file
   * opened once in append mode, so the line is in the kernel's page cache when this returns: a
   * crash of the process, even `kill -9`, cannot lose it. There is no fsync, so a power loss or
   * kernel crash can still lose the last lines.
   */
  append(event: JournalEvent): void {
    writeSync(this.fd, `${JSON.stringify(event)}\n`);
  }

  /** Closes the file and releases its lock, also when the close fails. */
  close(): void {
    try {
      closeSync(this.fd);
    } finally {
      this.lock.release();
    }
  }
}

/** Applies one event to the scene map. A known prediction always wins over later uncertainty. */
function applyEvent(scenes: Map<string, string>, event: JournalEvent): void {
  const current = scenes.get(event.scene);
  const hasPrediction = current !== undefined && current !== SENT_MARKER && current !== UNKNOWN_MARKER;

  switch (event.e) {
    case 'created':
      scenes.set(event.scene, event.prediction);
      return;
    case 'sent':
      if (current === undefined) {
        scenes.set(event.scene, SENT_MARKER);
      }
      return;
    case 'unknown':
      if (!hasPrediction) {
        scenes.set(event.scene, UNKNOWN_MARKER);
      }
      return;
    case 'failed':
      // A failed request clears only its own `sent` line; an earlier unknown outcome stays unknown.
      if (current === SENT_MARKER) {
        scenes.delete(event.scene);
      }
      return;
  }
}

/** Streams the file line by line into `onEvent`; returns the number of unreadable lines. */
async function readEvents(path: string, onEvent: (event: JournalEvent) => void): Promise<number> {
  let unreadableLines = 0;
  const lines = createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity });

  for await (const line of lines) {
    if (line === '') {
      continue;
    }
    const event = parseEvent(line);
    if (event === undefined) {
      unreadableLines += 1;
    } else {
      onEvent(event);
    }
  }
  return unreadableLines;
}

function parseEvent(line: string): JournalEvent | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) {
    return undefined;
  }

  const event = value as Partial<Record<string, unknown>>;
  if (typeof event.scene !== 'string') {
    return undefined;
  }
  if (event.e === 'created') {
    return typeof event.prediction === 'string' ? (value as JournalEvent) : undefined;
  }
  return event.e === 'sent' || event.e === 'failed' || event.e === 'unknown' ? (value as JournalEvent) : undefined;
}

/**
 * Ends a last line that a crash cut off in the middle, so that the next event starts on a line
 * of its own instead of being glued to the torn one and lost with it.
 */
function endTornLine(fd: number): void {
  const size = fstatSync(fd).size;
  if (size === 0) {
    return;
  }

  const lastByte = Buffer.alloc(1);
  readSync(fd, lastByte, 0, 1, size - 1);
  if (lastByte[0] !== 0x0a) {
    writeSync(fd, '\n');
  }
}
