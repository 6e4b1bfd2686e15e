import { appendFileSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { silentLogger } from '../src/log.js';
import { UploadJournal, defaultStateDir, journalPath, originFolderName } from '../src/predictions/journal.js';

const ORIGIN = 'https://dataset.app.kognic.com';
const GROUP = '6f1d2c3b-4a5e-4f60-8a7b-9c0d1e2f3a4b';
const SCENE_A = '11111111-1111-4111-8111-111111111111';
const SCENE_B = '22222222-2222-4222-8222-222222222222';
const SCENE_C = '33333333-3333-4333-8333-333333333333';
const PREDICTION_A = 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa';

let stateDir: string;

beforeEach(() => {
  stateDir = mkdtempSync(join(tmpdir(), 'journal-test-'));
});

afterEach(() => {
  rmSync(stateDir, { recursive: true, force: true });
});

function openJournal(): Promise<UploadJournal> {
  return UploadJournal.open({ stateDir, apiOrigin: ORIGIN, groupUuid: GROUP, logger: silentLogger });
}

describe('journal paths', () => {
  it('names origin folders by host and port', () => {
    expect(originFolderName('https://dataset.app.kognic.com')).toBe('dataset.app.kognic.com_443');
    expect(originFolderName('http://127.0.0.1:4455/prefix')).toBe('127.0.0.1_4455');
    expect(originFolderName('http://[::1]:8080')).toBe('--1_8080');
  });

  it('places journals per origin and group', () => {
    expect(journalPath('/state', ORIGIN, GROUP.toUpperCase())).toBe(`/state/journals/dataset.app.kognic.com_443/${GROUP}.jsonl`);
  });

  it('prefers an absolute XDG_STATE_HOME', () => {
    expect(defaultStateDir({ XDG_STATE_HOME: '/x/state', HOME: '/home/u' })).toBe('/x/state/kognic-dataset-mcp');
  });

  it('falls back to ~/.local/state', () => {
    expect(defaultStateDir({ HOME: '/home/u' })).toBe('/home/u/.local/state/kognic-dataset-mcp');
  });

  it('ignores a relative XDG_STATE_HOME', () => {
    expect(defaultStateDir({ XDG_STATE_HOME: 'state', HOME: '/home/u' })).toBe('/home/u/.local/state/kognic-dataset-mcp');
  });
});

describe('UploadJournal', () => {
  it('creates private folders and file', async () => {
    const journal = await openJournal();
    journal.close();

    expect(statSync(dirname(journal.path)).mode & 0o777).toBe(0o700);
    expect(statSync(join(stateDir, 'journals')).mode & 0o777).toBe(0o700);
    expect(statSync(journal.path).mode & 0o777).toBe(0o600);
  });

  it('remembers created scenes across opens', async () => {
    const first = await openJournal();
    first.append({ e: 'sent', scene: SCENE_A, job: 'upl_1', at: 1 });
    first.append({ e: 'created', scene: SCENE_A, job: 'upl_1', prediction: PREDICTION_A, at: 2 });
    first.close();

    const second = await openJournal();
    expect(second.lookup(SCENE_A)).toEqual({ state: 'created', predictionUuid: PREDICTION_A });
    expect(second.lookup(SCENE_B)).toBeUndefined();
    second.close();
  });

  it('reports a send without outcome', async () => {
    const first = await openJournal();
    first.append({ e: 'sent', scene: SCENE_A, job: 'upl_1', at: 1 });
    first.close();

    const second = await openJournal();
    expect(second.lookup(SCENE_A)).toEqual({ state: 'unconfirmed' });
    second.close();
  });

  it('treats a failed send as not created', async () => {
    const journal = await openJournal();
    journal.append({ e: 'sent', scene: SCENE_A, job: 'upl_1', at: 1 });
    journal.append({ e: 'failed', scene: SCENE_A, job: 'upl_1', reason: 'http_400', status: 400, at: 2 });
    expect(journal.lookup(SCENE_A)).toBeUndefined();
    journal.close();
  });

  it('keeps an unknown outcome after a later failure', async () => {
    const journal = await openJournal();
    journal.append({ e: 'sent', scene: SCENE_A, job: 'upl_1', at: 1 });
    journal.append({ e: 'unknown', scene: SCENE_A, job: 'upl_1', reason: 'no_response', at: 2 });
    journal.append({ e: 'sent', scene: SCENE_A, job: 'upl_2', at: 3 });
    journal.append({ e: 'failed', scene: SCENE_A, job: 'upl_2', reason: 'http_400', at: 4 });
    journal.close();

    const reopened = await openJournal();
    expect(reopened.lookup(SCENE_A)).toEqual({ state: 'unconfirmed' });
    reopened.close();
  });

  it('keeps a prediction after a later failure', async () => {
    const journal = await openJournal();
    journal.append({ e: 'created', scene: SCENE_A, job: 'upl_1', prediction: PREDICTION_A, at: 1 });
    journal.append({ e: 'sent', scene: SCENE_A, job: 'upl_2', at: 2 });
    journal.append({ e: 'failed', scene: SCENE_A, job: 'upl_2', reason: 'http_400', at: 3 });
    journal.close();

    const reopened = await openJournal();
    expect(reopened.lookup(SCENE_A)).toEqual({ state: 'created', predictionUuid: PREDICTION_A });
    reopened.close();
  });

  it('keeps its opening state while appending', async () => {
    const journal = await openJournal();
    journal.append({ e: 'created', scene: SCENE_A, job: 'upl_1', prediction: PREDICTION_A, at: 1 });
    expect(journal.lookup(SCENE_A)).toBeUndefined();
    journal.close();
  });

  it('tolerates a torn last line', async () => {
    const first = await openJournal();
    first.append({ e: 'created', scene: SCENE_A, job: 'upl_1', prediction: PREDICTION_A, at: 1 });
    first.close();
    appendFileSync(first.path, `{"e":"created","scene":"${SCENE_B}","job":"upl_1","predic`);

    const second = await openJournal();
    expect(second.unreadableLines).toBe(1);
    expect(second.lookup(SCENE_A)).toEqual({ state: 'created', predictionUuid: PREDICTION_A });
    expect(second.lookup(SCENE_B)).toBeUndefined();

    second.append({ e: 'created', scene: SCENE_C, job: 'upl_2', prediction: PREDICTION_A, at: 2 });
    second.close();

    const third = await openJournal();
    expect(third.lookup(SCENE_C)).toEqual({ state: 'created', predictionUuid: PREDICTION_A });
    expect(third.unreadableLines).toBe(1);
    third.close();
  });

  it('skips lines that are not events', async () => {
    const path = journalPath(stateDir, ORIGIN, GROUP);
    const journal = await openJournal();
    journal.close();
    writeFileSync(path, ['[]', '{"e":"created","scene":1}', '{"e":"other","scene":"x"}', '', `{"e":"sent","scene":"${SCENE_A}","job":"j","at":1}`].join('\n') + '\n');

    const reopened = await openJournal();
    expect(reopened.unreadableLines).toBe(3);
    expect(reopened.lookup(SCENE_A)).toEqual({ state: 'unconfirmed' });
    reopened.close();
  });

  it('writes one JSON line per event', async () => {
    const journal = await openJournal();
    journal.append({ e: 'sent', scene: SCENE_A, job: 'upl_1', at: 5 });
    journal.append({ e: 'created', scene: SCENE_A, job: 'upl_1', prediction: PREDICTION_A, at: 6 });
    journal.close();

    const lines = readFileSync(journal.path, 'utf8').split('\n');
    expect(lines).toHaveLength(3);
    expect(JSON.parse(lines[0] ?? '')).toEqual({ e: 'sent', scene: SCENE_A, job: 'upl_1', at: 5 });
    expect(lines[2]).toBe('');
  });

  it('reads 200,000 lines', async () => {
    const path = journalPath(stateDir, ORIGIN, GROUP);
    const journal = await openJournal();
    journal.close();

    const lines: string[] = [];
    for (let i = 0; i < 100_000; i += 1) {
      const scene = `00000000-0000-4000-8000-${i.toString().padStart(12, '0')}`;
      lines.push(JSON.stringify({ e: 'sent', scene, job: 'upl_big', at: i }));
      lines.push(JSON.stringify({ e: 'created', scene, job: 'upl_big', prediction: PREDICTION_A, at: i }));
    }
    writeFileSync(path, lines.join('\n') + '\n');

    const started = Date.now();
    const reopened = await openJournal();
    const elapsedMs = Date.now() - started;

    expect(reopened.sceneCount).toBe(100_000);
    expect(reopened.lookup('00000000-0000-4000-8000-000000099999')).toEqual({ state: 'created', predictionUuid: PREDICTION_A });
    // Generous for a loaded 2-core machine; the read takes well under a second when idle.
    expect(elapsedMs).toBeLessThan(10_000);
    reopened.close();
  });
});
