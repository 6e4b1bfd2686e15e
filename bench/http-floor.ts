/**
 * The floor of the throughput benchmark: the project's HTTP client alone, in a child process of
 * its own, posting the predictions of a JSONL file with MAX_UPLOAD_CONNECTIONS requests in flight.
 * It has no MCP, no file reading while timed, no validation and no journal, so the gap between
 * its time and the server's is what the upload pipeline adds.
 *
 * The parent starts it with `node --import tsx bench/http-floor.ts` and the environment below;
 * it prints one JSON line, FloorResult, on stdout.
 */
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { predictionRequest } from '../src/kognic/dataset-api.js';
import { KognicHttpClient } from '../src/kognic/http-client.js';
import { TokenProvider } from '../src/kognic/token-provider.js';
import { silentLogger } from '../src/log.js';
import { MAX_UPLOAD_CONNECTIONS } from '../src/predictions/uploader.js';
import { SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET } from '../src/sandbox/index.js';

const THIS_FILE = fileURLToPath(import.meta.url);

export interface FloorResult {
  /** From the first request to the last response, in milliseconds. */
  wallMs: number;
  /** CPU time of the child while it sent, in milliseconds. */
  cpuMs: number;
  created: number;
}

/** Runs the floor client in a child process against `sandboxUrl` and returns what it measured. */
export async function measureHttpFloor(sandboxUrl: string, groupUuid: string, file: string): Promise<FloorResult> {
  const child = spawn(process.execPath, ['--import', 'tsx', THIS_FILE], {
    cwd: path.resolve(path.dirname(THIS_FILE), '..'),
    env: { ...process.env, BENCH_SANDBOX_URL: sandboxUrl, BENCH_GROUP_UUID: groupUuid, BENCH_FILE: file },
    stdio: ['ignore', 'pipe', 'pipe'],
  });

  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));

  if (code !== 0) {
    throw new Error(`The HTTP floor client exited with code ${String(code)}:\n${stderr.slice(-2_000)}`);
  }
  return JSON.parse(stdout) as FloorResult;
}

/** Reads every line before timing, then posts them all. Runs in the child. */
async function postEveryPrediction(): Promise<FloorResult> {
  const sandboxUrl = requireEnvironment('BENCH_SANDBOX_URL');
  const groupUuid = requireEnvironment('BENCH_GROUP_UUID');
  const file = requireEnvironment('BENCH_FILE');

  const bodies = (await readFile(file, 'utf8'))
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      const { sceneUuid, openlabel } = JSON.parse(line) as { sceneUuid: string; openlabel: unknown };
      return { sceneUuid, openlabelJson: JSON.stringify(openlabel) };
    });

  const tokenProvider = new TokenProvider({
    authUrl: sandboxUrl,
    credentials: { clientId: SANDBOX_CLIENT_ID, clientSecret: SANDBOX_CLIENT_SECRET, source: 'the benchmark' },
    logger: silentLogger,
  });
  const client = new KognicHttpClient({ baseUrl: sandboxUrl, tokenProvider, logger: silentLogger, maxConnections: MAX_UPLOAD_CONNECTIONS });
  await tokenProvider.getToken();

  const cpuBefore = process.cpuUsage();
  const startedAt = performance.now();
  let next = 0;
  let created = 0;
  const worker = async (): Promise<void> => {
    for (let index = next++; index < bodies.length; index = next++) {
      const { sceneUuid, openlabelJson } = bodies[index]!;
      await client.request(predictionRequest(groupUuid, sceneUuid, openlabelJson));
      created += 1;
    }
  };
  await Promise.all(Array.from({ length: MAX_UPLOAD_CONNECTIONS }, worker));
  const wallMs = performance.now() - startedAt;
  const cpu = process.cpuUsage(cpuBefore);

  await client.close();
  await tokenProvider.close();
  return { wallMs, cpuMs: (cpu.user + cpu.system) / 1000, created };
}

function requireEnvironment(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') {
    throw new Error(`${name} is not set. This file runs as a child of the throughput benchmark: run npm run bench -- throughput.`);
  }
  return value;
}

if (process.argv[1] === THIS_FILE) {
  process.stdout.write(`${JSON.stringify(await postEveryPrediction())}\n`);
}
