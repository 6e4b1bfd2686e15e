/**
 * Uploads of two server processes that share a state folder, as two hosts on one machine do. The
 * built server (dist/cli.js) is spawned over stdio as a host spawns it. In the first case it is
 * killed with SIGKILL mid-upload, and a new server reruns the upload. In the second, a server
 * uploads to a group that another server is uploading to. No scene may get two predictions.
 * `npm test` builds dist/ before the suite runs.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { journalPath } from '../src/predictions/journal.js';
import type { UploadSummary } from '../src/predictions/summary.js';
import { KognicSandbox, SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET } from '../src/sandbox/index.js';
import {
  addUploadTarget,
  makeTempDir,
  readReport,
  removeTempDirs,
  summaryOf,
  type UploadTarget,
  waitFor,
  writeSceneFiles,
} from './helpers/upload-tools.js';

const CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../dist/cli.js');

const SCENE_COUNT = 300;

/** Predictions created before the kill: about a third of the upload. */
const CREATED_BEFORE_KILL = 100;

interface SpawnedServer {
  client: Client;
  transport: StdioClientTransport;
  stderr: () => string;
}

async function spawnServer(env: Record<string, string>, args: string[]): Promise<SpawnedServer> {
  const transport = new StdioClientTransport({ command: process.execPath, args: [CLI, ...args], env, stderr: 'pipe' });
  let stderr = '';
  transport.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  const client = new Client({ name: 'upload-crash-test', version: '0' });
  await client.connect(transport);
  return { client, transport, stderr: () => stderr };
}

/** Returns the environment of a server that uses the sandbox, with no config file to find. */
function sandboxEnv(sandbox: KognicSandbox): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '',
    KOGNIC_DATASET_URL: sandbox.url,
    KOGNIC_AUTH_URL: sandbox.url,
    KOGNIC_CLIENT_ID: SANDBOX_CLIENT_ID,
    KOGNIC_CLIENT_SECRET: SANDBOX_CLIENT_SECRET,
    XDG_CONFIG_HOME: '/nonexistent-config',
  };
}

describe('upload after a server crash', () => {
  let sandbox: KognicSandbox;
  let target: UploadTarget;
  let root: string;
  let env: Record<string, string>;
  let serverArgs: string[];
  let createdBeforeRerun: number;
  let rerun: UploadSummary;
  let firstCallError: unknown;
  let lockPath: string;
  let firstPid: number;
  let lockOwnerAfterKill: unknown;
  let lockLeftAfterRerun: boolean;

  beforeAll(async () => {
    if (!existsSync(CLI)) {
      throw new Error(`${CLI} is missing: run npm run build first (npm test does).`);
    }

    sandbox = await KognicSandbox.start({ latencyMs: 50 });
    target = addUploadTarget(sandbox, SCENE_COUNT);
    root = makeTempDir('upload-crash-root-');
    writeSceneFiles(root, target.sceneUuids);
    const stateDir = makeTempDir('upload-crash-state-');
    serverArgs = ['--state-dir', stateDir, '--root', root, '--log-level', 'warning'];
    lockPath = `${journalPath(stateDir, sandbox.url, target.groupUuid)}.lock`;
    env = sandboxEnv(sandbox);
    const uploadArgs = { predictionGroupUuid: target.groupUuid, paths: [root], waitSeconds: 55 };

    const first = await spawnServer(env, serverArgs);
    const firstCall = first.client.callTool({ name: 'upload_predictions', arguments: uploadArgs }, undefined, { timeout: 120_000 }).then(
      () => undefined,
      (error: unknown) => error,
    );
    await waitFor(() => sandbox.predictions(target.groupUuid).length >= CREATED_BEFORE_KILL, `${CREATED_BEFORE_KILL} predictions exist`);
    firstPid = first.transport.pid as number;
    process.kill(firstPid, 'SIGKILL');
    firstCallError = await firstCall;
    await first.client.close();
    // The kernel closes the dead server's sockets, and the sandbox must count every close first.
    await waitFor(() => sandbox.stats.inFlight === 0 && sandbox.stats.openConnections === 0, 'the killed server is disconnected');
    await sleep(100);
    createdBeforeRerun = sandbox.predictions(target.groupUuid).length;
    lockOwnerAfterKill = JSON.parse(readFileSync(lockPath, 'utf8'));

    const second = await spawnServer(env, serverArgs);
    rerun = summaryOf((await second.client.callTool({ name: 'upload_predictions', arguments: uploadArgs }, undefined, { timeout: 120_000 })) as never);
    lockLeftAfterRerun = existsSync(lockPath);
    await second.client.close();
  }, 120_000);

  afterAll(async () => {
    await sandbox?.close();
    removeTempDirs();
  });

  it('was killed mid-upload', () => {
    expect(firstCallError).toBeInstanceOf(Error);
    expect(createdBeforeRerun).toBeGreaterThanOrEqual(CREATED_BEFORE_KILL);
    expect(createdBeforeRerun).toBeLessThan(SCENE_COUNT);
  });

  it('takes over the killed server\'s lock', () => {
    expect(lockOwnerAfterKill).toMatchObject({ pid: firstPid });
    expect(lockLeftAfterRerun).toBe(false);
  });

  it('reruns without duplicates', () => {
    const counts = sandbox.predictionCountByScene(target.groupUuid);
    const unknownScenes = new Set(readReport(rerun.reportPath).filter((line) => line.outcome === 'unknown').map((line) => line.sceneUuid));
    const withoutOne = target.sceneUuids.filter((scene) => counts.get(scene) !== 1 && !unknownScenes.has(scene));

    expect(rerun.status).toBe('completed');
    expect(rerun.counts.total).toBe(SCENE_COUNT);
    expect(rerun.counts.skipped + rerun.counts.created + rerun.counts.unknown).toBe(SCENE_COUNT);
    expect(rerun.counts.skipped).toBeGreaterThanOrEqual(CREATED_BEFORE_KILL - 10);
    expect(Math.max(...counts.values())).toBe(1);
    expect(withoutOne).toEqual([]);
    expect(sandbox.predictions(target.groupUuid)).toHaveLength(createdBeforeRerun + rerun.counts.created);
  });
});

describe('uploads of two servers to one group', () => {
  let sandbox: KognicSandbox;
  let target: UploadTarget;
  let firstPid: number;
  let busy: CallToolResult;
  let firstSummary: UploadSummary;
  let rerun: UploadSummary;

  beforeAll(async () => {
    sandbox = await KognicSandbox.start({ latencyMs: 50 });
    target = addUploadTarget(sandbox, SCENE_COUNT);
    const root = makeTempDir('upload-lock-root-');
    writeSceneFiles(root, target.sceneUuids);
    const serverArgs = ['--state-dir', makeTempDir('upload-lock-state-'), '--root', root, '--log-level', 'warning'];
    const env = sandboxEnv(sandbox);
    const uploadArgs = { predictionGroupUuid: target.groupUuid, paths: [root], waitSeconds: 55 };

    const first = await spawnServer(env, serverArgs);
    const second = await spawnServer(env, serverArgs);
    try {
      firstPid = first.transport.pid as number;
      const firstCall = first.client.callTool({ name: 'upload_predictions', arguments: uploadArgs }, undefined, { timeout: 120_000 });
      await waitFor(() => sandbox.predictions(target.groupUuid).length >= 10, 'the first upload has begun');

      busy = (await second.client.callTool({ name: 'upload_predictions', arguments: uploadArgs }, undefined, { timeout: 120_000 })) as CallToolResult;
      firstSummary = summaryOf((await firstCall) as never);
      rerun = summaryOf((await second.client.callTool({ name: 'upload_predictions', arguments: uploadArgs }, undefined, { timeout: 120_000 })) as never);
    } finally {
      await Promise.allSettled([first.client.close(), second.client.close()]);
    }
  }, 120_000);

  afterAll(async () => {
    await sandbox?.close();
    removeTempDirs();
  });

  it('rejects the second upload', () => {
    const text = busy.content[0]?.type === 'text' ? busy.content[0].text : '';

    expect(busy.isError).toBe(true);
    expect(busy.structuredContent).toBeUndefined();
    expect(text).toContain(`process ${firstPid}`);
    expect(text).toContain('Wait until that upload ends');
  });

  it('lets the first upload finish', () => {
    expect(firstSummary.status).toBe('completed');
    expect(firstSummary.counts.created).toBe(SCENE_COUNT);
  });

  it('skips everything after the first', () => {
    expect(rerun.status).toBe('completed');
    expect(rerun.counts.skipped).toBe(SCENE_COUNT);
    expect(Math.max(...sandbox.predictionCountByScene(target.groupUuid).values())).toBe(1);
  });
});
