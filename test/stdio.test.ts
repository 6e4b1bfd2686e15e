/**
 * End-to-end: the built server (dist/cli.js) spawned as a host would spawn it, talking MCP over
 * stdio to the sandbox API. `npm test` builds dist/ before the suite runs.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { KognicSandbox, SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET } from '../src/sandbox/index.js';
import { SEEDED_DATASETS } from '../src/sandbox/seed.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CLI = path.join(REPO, 'dist', 'cli.js');
const EXAMPLES = path.join(REPO, 'examples');
const CAMERA_DATASET = SEEDED_DATASETS.find((dataset) => dataset.kind === 'camera')!;

interface RawRun {
  stdoutLines: string[];
  stderr: string;
  exitCode: number | null;
  /** Milliseconds from closing stdin to the process exit. */
  exitAfterStdinCloseMs: number;
}

/**
 * Runs the CLI with the given JSON-RPC messages on stdin, waits for one response per request,
 * then closes stdin and times the exit.
 */
async function runRaw(args: string[], env: NodeJS.ProcessEnv, messages: object[]): Promise<RawRun> {
  const child = spawn(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  const stdoutLines: string[] = [];
  let stderr = '';
  let buffered = '';
  const expectedResponses = messages.filter((message) => 'id' in message).length;
  let responses = 0;
  let onAllResponses: () => void = () => {};
  const allResponses = new Promise<void>((resolve) => {
    onAllResponses = resolve;
  });
  if (expectedResponses === 0) {
    onAllResponses();
  }

  child.stdout.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('utf8');
    let newline = buffered.indexOf('\n');
    while (newline >= 0) {
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      stdoutLines.push(line);
      try {
        if ('id' in JSON.parse(line)) {
          responses += 1;
        }
      } catch {
        // Kept in stdoutLines; the test asserts on it.
      }
      if (responses >= expectedResponses) {
        onAllResponses();
      }
      newline = buffered.indexOf('\n');
    }
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  // 'close' comes after stdout and stderr have ended, so no output is lost.
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));

  for (const message of messages) {
    child.stdin.write(`${JSON.stringify(message)}\n`);
  }
  await Promise.race([allResponses, new Promise((resolve) => setTimeout(resolve, 15_000))]);

  const closedAt = Date.now();
  child.stdin.end();
  const exitCode = await Promise.race([exited, new Promise<null>((resolve) => setTimeout(() => resolve(null), 10_000))]);
  const exitAfterStdinCloseMs = Date.now() - closedAt;
  child.kill('SIGKILL');
  if (buffered !== '') {
    stdoutLines.push(buffered);
  }
  return { stdoutLines, stderr, exitCode, exitAfterStdinCloseMs };
}

const INITIALIZE = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw-test', version: '0' } },
};
const INITIALIZED = { jsonrpc: '2.0', method: 'notifications/initialized' };

describe('stdio server', () => {
  let sandbox: KognicSandbox;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    if (!existsSync(CLI)) {
      throw new Error(`${CLI} is missing: run npm run build first (npm test does).`);
    }
    sandbox = await KognicSandbox.start();
    env = {
      KOGNIC_DATASET_URL: sandbox.url,
      KOGNIC_AUTH_URL: sandbox.url,
      KOGNIC_CLIENT_ID: SANDBOX_CLIENT_ID,
      KOGNIC_CLIENT_SECRET: SANDBOX_CLIENT_SECRET,
      XDG_CONFIG_HOME: '/nonexistent-config',
      XDG_STATE_HOME: path.join(process.env.TMPDIR ?? '/tmp', `kognic-stdio-${process.pid}`),
      KOGNIC_MCP_LOG_LEVEL: 'debug',
    };
  });

  afterAll(async () => {
    await sandbox.close();
  });

  it('runs every tool through the SDK client', async () => {
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [CLI, '--root', EXAMPLES],
      env: env as Record<string, string>,
      stderr: 'pipe',
    });
    const transportErrors: Error[] = [];
    let stderr = '';
    transport.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
    });
    const client = new Client({ name: 'stdio-test', version: '0' });
    client.onerror = (error) => transportErrors.push(error);

    await client.connect(transport);
    const { tools } = await client.listTools();
    expect(tools.map((tool) => tool.name).sort()).toEqual([
      'cancel_upload_job',
      'create_prediction_group',
      'get_upload_job',
      'list_datasets',
      'list_prediction_groups',
      'upload_predictions',
      'validate_predictions',
    ]);

    const datasets = await client.callTool({ name: 'list_datasets', arguments: { limit: 3 } });
    expect(datasets.isError).toBeFalsy();
    const created = await client.callTool({
      name: 'create_prediction_group',
      arguments: { datasetUuid: CAMERA_DATASET.uuid, name: 'stdio group' },
    });
    expect(created.isError).toBeFalsy();
    const predictionGroupUuid = (created.structuredContent as { predictionGroupUuid: string }).predictionGroupUuid;
    const groups = await client.callTool({
      name: 'list_prediction_groups',
      arguments: { datasetUuid: CAMERA_DATASET.uuid, nameContains: 'stdio group' },
    });
    expect((groups.structuredContent as { total: number }).total).toBeGreaterThanOrEqual(1);

    const validation = await client.callTool({ name: 'validate_predictions', arguments: { paths: ['.'] } });
    const validationCounts = (validation.structuredContent as { counts: { valid: number; invalid: number } }).counts;
    expect(validationCounts.invalid).toBe(5);
    expect(validationCounts.valid).toBe(290);

    const upload = await client.callTool({ name: 'upload_predictions', arguments: { predictionGroupUuid, paths: ['.'] } });
    const summary = upload.structuredContent as { jobId: string; status: string; counts: { created: number; invalid: number } };
    expect(summary.status).toBe('completed');
    expect(summary.counts.created).toBe(290);
    expect(summary.counts.invalid).toBe(5);
    expect(sandbox.predictions(predictionGroupUuid)).toHaveLength(290);

    const job = await client.callTool({ name: 'get_upload_job', arguments: { jobId: summary.jobId } });
    expect((job.structuredContent as { counts: { created: number } }).counts.created).toBe(290);
    const cancelled = await client.callTool({ name: 'cancel_upload_job', arguments: { jobId: summary.jobId } });
    expect((cancelled.structuredContent as { status: string }).status).toBe('completed');

    await client.close();
    expect(transportErrors).toEqual([]);
    expect(stderr).toContain('MCP server ready');
    expect(stderr).not.toContain(SANDBOX_CLIENT_SECRET);
  });

  it('writes only JSON-RPC to stdout and exits on stdin close', async () => {
    const run = await runRaw([], env, [
      INITIALIZE,
      INITIALIZED,
      { jsonrpc: '2.0', id: 2, method: 'tools/list' },
      { jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'list_datasets', arguments: {} } },
      { jsonrpc: '2.0', id: 4, method: 'tools/call', params: { name: 'list_prediction_groups', arguments: { datasetUuid: 'bad' } } },
    ]);

    expect(run.stdoutLines.length).toBeGreaterThanOrEqual(4);
    for (const line of run.stdoutLines) {
      const message = JSON.parse(line) as { jsonrpc?: string };
      expect(message.jsonrpc).toBe('2.0');
    }
    expect(run.exitCode).toBe(0);
    expect(run.exitAfterStdinCloseMs).toBeLessThan(2_000);
  });

  it('exits on stdin close during an upload', async () => {
    const groupUuid = sandbox.addPredictionGroup(CAMERA_DATASET.uuid, 'stdio slow group');
    sandbox.setLatency(5_000, 'createPrediction');
    try {
      const run = await runRaw(['--root', EXAMPLES], env, [
        INITIALIZE,
        INITIALIZED,
        {
          jsonrpc: '2.0',
          id: 2,
          method: 'tools/call',
          params: { name: 'upload_predictions', arguments: { predictionGroupUuid: groupUuid, paths: ['.'], waitSeconds: 1 } },
        },
      ]);
      const response = run.stdoutLines
        .map((line) => JSON.parse(line) as { id?: number; result?: { structuredContent?: { status?: string } } })
        .find((message) => message.id === 2);
      expect(response?.result?.structuredContent?.status).toBe('running');
      expect(run.exitCode).toBe(0);
      expect(run.exitAfterStdinCloseMs).toBeLessThan(2_000);
    } finally {
      sandbox.setLatency(0);
    }
  });

  it('starts its own sandbox with --sandbox', async () => {
    const run = await runRaw(['--sandbox'], { XDG_STATE_HOME: env.XDG_STATE_HOME, XDG_CONFIG_HOME: '/nonexistent-config' }, [
      INITIALIZE,
      INITIALIZED,
      { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'list_datasets', arguments: {} } },
    ]);

    const response = run.stdoutLines.map((line) => JSON.parse(line) as { id?: number; result?: { structuredContent?: { total?: number } } }).find((message) => message.id === 2);
    expect(response?.result?.structuredContent?.total).toBe(SEEDED_DATASETS.length);
    expect(run.exitCode).toBe(0);
  });

  it('prints help and version to stdout', async () => {
    const help = await runRaw(['--help'], {}, []);
    expect(help.stdoutLines.join('\n')).toContain('--dataset-url');
    expect(help.exitCode).toBe(0);

    const version = await runRaw(['--version'], {}, []);
    expect(version.stdoutLines[0]).toMatch(/^\d+\.\d+\.\d+/);
    expect(version.exitCode).toBe(0);
  });

  it('exits with an error for a bad flag', async () => {
    const run = await runRaw(['--no-such-flag'], {}, []);
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toContain('--no-such-flag');
    expect(run.stdoutLines).toEqual([]);
  });

  it('rejects plain HTTP for a remote host', async () => {
    const run = await runRaw(['--dataset-url', 'http://dataset.example.com'], {}, []);
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toContain('plain HTTP');
  });
});

describe('stdio server with invalid environments.json', () => {
  let home: string;
  let env: Record<string, string>;
  let environmentsFile: string;

  beforeAll(() => {
    if (!existsSync(CLI)) {
      throw new Error(`${CLI} is missing: run npm run build first (npm test does).`);
    }
    home = mkdtempSync(path.join(tmpdir(), 'kognic-stdio-broken-config-'));
    const kognicConfig = path.join(home, 'config', 'kognic');
    mkdirSync(kognicConfig, { recursive: true });
    environmentsFile = path.join(kognicConfig, 'environments.json');
    writeFileSync(environmentsFile, '{"environments": {');
    env = { XDG_CONFIG_HOME: path.join(home, 'config'), XDG_STATE_HOME: path.join(home, 'state') };
  });

  afterAll(() => {
    rmSync(home, { recursive: true, force: true });
  });

  it('sandbox mode ignores the file', async () => {
    const transport = new StdioClientTransport({ command: process.execPath, args: [CLI, '--sandbox'], env, stderr: 'pipe' });
    let stderr = '';
    transport.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
    });
    const client = new Client({ name: 'stdio-broken-config-test', version: '0' });

    try {
      await client.connect(transport);
      const { tools } = await client.listTools();
      const datasets = await client.callTool({ name: 'list_datasets', arguments: {} });

      expect(tools.map((tool) => tool.name)).toContain('list_datasets');
      expect((datasets.structuredContent as { total: number }).total).toBe(SEEDED_DATASETS.length);
    } finally {
      await client.close();
    }
    expect(stderr).toContain('MCP server ready');
    expect(stderr).not.toContain('environments.json');
  });

  it('normal mode names the file', async () => {
    const run = await runRaw([], env, []);

    expect(run.exitCode).toBe(2);
    expect(run.stderr).toContain(`${environmentsFile} is not valid JSON`);
    expect(run.stderr).toContain('Fix or remove the file.');
    expect(run.stdoutLines).toEqual([]);
  });
});
