/**
 * The journal's lock file, with real files and real processes: a dead process stands for a
 * crashed server, and a sleeping child process for a server that is still uploading.
 */
import { type ChildProcess, execFile, execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { silentLogger } from '../src/log.js';
import { JournalLock, UploadBusyError } from '../src/predictions/journal-lock.js';
import { UploadJournal, journalPath } from '../src/predictions/journal.js';

const BUILT_JOURNAL = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../dist/predictions/journal.js');

const ORIGIN = 'https://dataset.app.kognic.com';
const GROUP = '6f1d2c3b-4a5e-4f60-8a7b-9c0d1e2f3a4b';

let stateDir: string;
let lockPath: string;
const children: ChildProcess[] = [];

beforeEach(() => {
  stateDir = mkdtempSync(path.join(tmpdir(), 'journal-lock-test-'));
  lockPath = `${journalPath(stateDir, ORIGIN, GROUP)}.lock`;
  mkdirSync(path.dirname(lockPath), { recursive: true });
});

afterEach(() => {
  for (const child of children.splice(0)) {
    child.kill('SIGKILL');
  }
  rmSync(stateDir, { recursive: true, force: true });
});

function openJournal(): Promise<UploadJournal> {
  return UploadJournal.open({ stateDir, apiOrigin: ORIGIN, groupUuid: GROUP, logger: silentLogger });
}

function writeLock(owner: { pid: number; host: string }): void {
  writeFileSync(lockPath, `${JSON.stringify({ ...owner, since: '2026-12-05T03:00:00.000Z' })}\n`);
}

/** Returns the pid of a process that has exited. */
function deadPid(): number {
  const result = spawnSync(process.execPath, ['-e', '']);
  return result.pid;
}

/** Starts a process that sleeps until the test kills it, and returns its pid. */
function runningPid(): number {
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)'], { stdio: 'ignore' });
  children.push(child);
  return child.pid as number;
}

async function openError(): Promise<unknown> {
  return openJournal().then(
    (journal) => {
      journal.close();
      return undefined;
    },
    (error: unknown) => error,
  );
}

describe('journal lock', () => {
  it('exists while the journal is open', async () => {
    const journal = await openJournal();
    const owner = JSON.parse(readFileSync(lockPath, 'utf8')) as { pid: number; host: string };
    journal.close();

    expect(owner.pid).toBe(process.pid);
    expect(owner.host).toBe(hostname());
    expect(existsSync(lockPath)).toBe(false);
  });

  it('blocks a second open in this process', async () => {
    const journal = await openJournal();
    const error = await openError();
    journal.close();

    expect(error).toBeInstanceOf(UploadBusyError);
    expect((error as Error).message).toContain(`Prediction group ${GROUP}`);
    expect((error as Error).message).toContain('another upload of this server');
  });

  it('allows an open after close', async () => {
    (await openJournal()).close();

    const reopened = await openJournal();
    reopened.close();

    expect(reopened.path).toBe(journalPath(stateDir, ORIGIN, GROUP));
  });

  it('blocks an open while another process holds it', async () => {
    const pid = runningPid();
    writeLock({ pid, host: hostname() });

    const error = await openError();

    expect(error).toBeInstanceOf(UploadBusyError);
    expect((error as Error).message).toContain(`process ${pid} on host ${hostname()}`);
    expect((error as Error).message).toContain(`delete the lock file ${lockPath}`);
    expect(JSON.parse(readFileSync(lockPath, 'utf8'))).toMatchObject({ pid });
  });

  it('takes over the lock of a dead process', async () => {
    writeLock({ pid: deadPid(), host: hostname() });

    const journal = await openJournal();
    const owner = JSON.parse(readFileSync(lockPath, 'utf8')) as { pid: number };
    journal.close();

    expect(owner.pid).toBe(process.pid);
  });

  it('takes over its own pid\'s old lock', async () => {
    // A restarted container gives the new server the pid of the killed one.
    writeLock({ pid: process.pid, host: hostname() });

    const journal = await openJournal();
    const owner = JSON.parse(readFileSync(lockPath, 'utf8')) as { since: string };
    journal.close();

    expect(owner.since).not.toBe('2026-12-05T03:00:00.000Z');
  });

  it('keeps a lock that is a folder', async () => {
    mkdirSync(lockPath);

    const error = await openError();

    expect(error).toBeInstanceOf(UploadBusyError);
    expect((error as Error).message).toContain('it is not a regular file');
    expect(statSync(lockPath).isDirectory()).toBe(true);
  });

  it('keeps a lock that is a FIFO', async () => {
    // Reading a FIFO would block the server until a writer opens it.
    execFileSync('mkfifo', [lockPath]);

    const error = await openError();

    expect(error).toBeInstanceOf(UploadBusyError);
    expect((error as Error).message).toContain('it is not a regular file');
  });

  it('waits for a takeover in progress', async () => {
    writeLock({ pid: deadPid(), host: hostname() });
    writeFileSync(`${lockPath}.takeover`, '');

    const error = await openError();

    expect(error).toBeInstanceOf(UploadBusyError);
    expect(existsSync(`${lockPath}.takeover`)).toBe(true);
  });

  it('clears an abandoned takeover', async () => {
    const pid = deadPid();
    writeLock({ pid, host: hostname() });
    writeFileSync(`${lockPath}.takeover`, '');
    const minuteAgo = new Date(Date.now() - 60_000);
    utimesSync(`${lockPath}.takeover`, minuteAgo, minuteAgo);

    const journal = await openJournal();
    const owner = JSON.parse(readFileSync(lockPath, 'utf8')) as { pid: number };
    journal.close();

    expect(owner.pid).toBe(process.pid);
    expect(existsSync(`${lockPath}.takeover`)).toBe(false);
  });

  it('checks a live lock without taking it', () => {
    const pid = runningPid();
    writeLock({ pid, host: hostname() });

    expect(() => JournalLock.assertFree(journalPath(stateDir, ORIGIN, GROUP), GROUP)).toThrow(UploadBusyError);
    expect(JSON.parse(readFileSync(lockPath, 'utf8'))).toMatchObject({ pid });
  });

  it('checks a stale lock as free', () => {
    writeLock({ pid: deadPid(), host: hostname() });

    expect(() => JournalLock.assertFree(journalPath(stateDir, ORIGIN, GROUP), GROUP)).not.toThrow();
    expect(existsSync(lockPath)).toBe(true);
  });

  it('keeps a lock from another host', async () => {
    writeLock({ pid: deadPid(), host: 'other-host.example' });

    const error = await openError();

    expect(error).toBeInstanceOf(UploadBusyError);
    expect((error as Error).message).toContain('on host other-host.example');
  });

  it('keeps a new lock file without an owner', async () => {
    writeFileSync(lockPath, '');

    const error = await openError();

    expect(error).toBeInstanceOf(UploadBusyError);
    expect((error as Error).message).toContain('by another process');
  });

  it('leaves a replaced lock on close', async () => {
    const journal = await openJournal();
    const pid = runningPid();
    writeLock({ pid, host: hostname() });

    journal.close();

    expect(JSON.parse(readFileSync(lockPath, 'utf8'))).toMatchObject({ pid });
  });

  it('takes over an old lock file without an owner', async () => {
    writeFileSync(lockPath, 'not json');
    const minuteAgo = new Date(Date.now() - 60_000);
    utimesSync(lockPath, minuteAgo, minuteAgo);

    const journal = await openJournal();
    journal.close();

    expect(existsSync(lockPath)).toBe(false);
  });

  it('is removed when the process exits', async () => {
    expect(existsSync(BUILT_JOURNAL), `${BUILT_JOURNAL} is missing: run npm run build first (npm test does).`).toBe(true);
    // The process opens the journal and exits without closing it, as the server does on a
    // shutdown that times out.
    const script = `
      import { existsSync } from 'node:fs';
      import { UploadJournal } from ${JSON.stringify(pathToFileURL(BUILT_JOURNAL).href)};
      const logger = { debug() {}, info() {}, warn() {}, error() {}, child() { return logger; } };
      await UploadJournal.open({ stateDir: ${JSON.stringify(stateDir)}, apiOrigin: ${JSON.stringify(ORIGIN)}, groupUuid: ${JSON.stringify(GROUP)}, logger });
      process.stdout.write(String(existsSync(${JSON.stringify(lockPath)})));
      process.exit(0);
    `;

    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { timeout: 10_000 });

    expect(stdout).toBe('true');
    expect(existsSync(lockPath)).toBe(false);
  });
});
