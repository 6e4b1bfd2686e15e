/**
 * The built server (`dist/cli.js`) as a child process, spawned and driven the way an MCP host
 * does it: the SDK's Client over StdioClientTransport. CPU time and memory of the child come from
 * /proc, so these readings need Linux.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';

import { SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET } from '../src/sandbox/index.js';

export const SERVER_CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../dist/cli.js');

/** Characters of the child's stderr kept for error messages. Older output is dropped. */
const MAX_STDERR_TAIL_CHARS = 4_000;

/** Clock ticks per second of utime and stime in /proc/<pid>/stat, read once from `getconf CLK_TCK`. */
const CLOCK_TICKS_PER_SECOND = readClockTicksPerSecond();

export interface ServerProcessOptions {
  /** Base URL of the sandbox, used as both the dataset API and the auth server. */
  sandboxUrl: string;
  /** Folder the server may read prediction files from (`--root`). */
  root: string;
  /** Folder for the upload journals and reports (`--state-dir`). */
  stateDir: string;
  /** When set, the child runs with `node --cpu-prof` and writes its V8 CPU profile here on exit. */
  cpuProfileDir?: string;
  /** More Node or V8 flags for the child, such as `--trace-gc`. */
  nodeFlags?: string[];
}

export interface ProcessMemory {
  /** Resident set size now (VmRSS), in bytes. */
  rssBytes: number;
  /** Peak resident set size since the process started (VmHWM), in bytes. */
  peakRssBytes: number;
}

/** Output of the child so far, updated as it arrives. */
interface ChildOutput {
  /** The last MAX_STDERR_TAIL_CHARS characters of stderr. */
  stderrTail: string;
  /** `performance.now()` when the last JSON-RPC message arrived, before the SDK client handled it. */
  lastMessageAt: number;
}

export class ServerProcess {
  private constructor(
    readonly client: Client,
    private readonly transport: StdioClientTransport,
    readonly pid: number,
    private readonly output: ChildOutput,
  ) {}

  /** Spawns the built server and completes the MCP initialize handshake with it. */
  static async start(options: ServerProcessOptions): Promise<ServerProcess> {
    if (!existsSync(SERVER_CLI)) {
      throw new Error(`${SERVER_CLI} is missing: run npm run build first, because the benchmarks drive the built server.`);
    }

    const nodeFlags = [...(options.nodeFlags ?? [])];
    if (options.cpuProfileDir !== undefined) {
      nodeFlags.push('--cpu-prof', `--cpu-prof-dir=${options.cpuProfileDir}`);
    }
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [...nodeFlags, SERVER_CLI, '--root', options.root, '--state-dir', options.stateDir, '--log-level', 'warning'],
      env: {
        KOGNIC_DATASET_URL: options.sandboxUrl,
        KOGNIC_AUTH_URL: options.sandboxUrl,
        KOGNIC_CLIENT_ID: SANDBOX_CLIENT_ID,
        KOGNIC_CLIENT_SECRET: SANDBOX_CLIENT_SECRET,
        // A folder that does not exist, so that no environments.json of the user is read.
        XDG_CONFIG_HOME: path.join(options.stateDir, 'no-config'),
      },
      stderr: 'pipe',
    });
    const client = new Client({ name: 'kognic-dataset-mcp-bench', version: '0' });

    // The stderr pipe must be read, or a chatty child would block once the pipe buffer is full.
    const output: ChildOutput = { stderrTail: '', lastMessageAt: 0 };
    (transport.stderr as Readable | null)?.on('data', (chunk: Buffer) => {
      output.stderrTail = (output.stderrTail + chunk.toString('utf8')).slice(-MAX_STDERR_TAIL_CHARS);
    });

    // Client.connect() keeps a handler that is already set and calls it before its own, so this one
    // receives each message as it arrives, before the client validates or compiles anything.
    transport.onmessage = () => {
      output.lastMessageAt = performance.now();
    };

    await client.connect(transport);
    const pid = transport.pid;
    if (pid === null) {
      throw new Error('The server process has no pid after connecting; it may have exited at start.');
    }

    return new ServerProcess(client, transport, pid, output);
  }

  /** Returns the last few thousand characters that the server wrote to stderr. */
  recentStderr(): string {
    return this.output.stderrTail;
  }

  /** `performance.now()` when the last message from the server arrived, before the client handled it. */
  lastMessageAt(): number {
    return this.output.lastMessageAt;
  }

  /** User plus system CPU time the server process has used so far, in milliseconds. */
  cpuTimeMs(): number {
    const stat = readFileSync(`/proc/${this.pid}/stat`, 'utf8');

    // The command name in field 2 may contain spaces, so fields are counted after its ")".
    const fieldsAfterName = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const userTicks = Number(fieldsAfterName[11]);
    const systemTicks = Number(fieldsAfterName[12]);
    return ((userTicks + systemTicks) * 1000) / CLOCK_TICKS_PER_SECOND;
  }

  memory(): ProcessMemory {
    const status = readFileSync(`/proc/${this.pid}/status`, 'utf8');
    return { rssBytes: readStatusKilobytes(status, 'VmRSS') * 1024, peakRssBytes: readStatusKilobytes(status, 'VmHWM') * 1024 };
  }

  /**
   * Closes stdin and waits for the server to exit, as a host does. When the process has not
   * exited 2 s after a step, the SDK sends SIGTERM, and 2 s later SIGKILL.
   */
  async close(): Promise<void> {
    await this.client.close();
    await this.transport.close();
  }
}

function readStatusKilobytes(status: string, field: string): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(status);
  if (match === null) {
    throw new Error(`/proc/<pid>/status has no ${field} line. The benchmarks read memory from /proc, so they need Linux.`);
  }
  return Number(match[1]);
}

function readClockTicksPerSecond(): number {
  try {
    const ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return Number.isFinite(ticks) && ticks > 0 ? ticks : 100;
  } catch {
    // Linux has used 100 ticks per second on every common architecture for decades.
    return 100;
  }
}
