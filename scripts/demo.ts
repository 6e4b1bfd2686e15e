/**
 * Starts the built server with --sandbox over stdio, the way an MCP host would, and walks through
 * the tools with the SDK client. It lists datasets, creates a prediction group, validates and
 * uploads the predictions in examples/, and prints the summary. It is the first command to run
 * after install.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CLI = path.join(REPO, 'dist', 'cli.js');
const EXAMPLES = path.join(REPO, 'examples');

function newestModification(folder: string): number {
  let newest = 0;
  for (const entry of readdirSync(folder, { withFileTypes: true })) {
    const full = path.join(folder, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestModification(full) : statSync(full).mtimeMs);
  }
  return newest;
}

function buildIfNeeded(): void {
  if (existsSync(CLI) && statSync(CLI).mtimeMs >= newestModification(path.join(REPO, 'src'))) {
    return;
  }
  console.log('Building dist/ (npm run build) ...');
  execFileSync(process.platform === 'win32' ? 'npm.cmd' : 'npm', ['run', 'build'], { cwd: REPO, stdio: 'inherit' });
}

function structured<T>(result: CallToolResult, tool: string): T {
  if (result.isError) {
    throw new Error(`${tool} failed: ${textOf(result)}`);
  }
  return result.structuredContent as T;
}

async function call(
  client: Client,
  name: string,
  args: Record<string, unknown>,
  onprogress?: (progress: { progress: number; total?: number }) => void,
): Promise<CallToolResult> {
  return (await client.callTool({ name, arguments: args }, undefined, onprogress === undefined ? {} : { onprogress })) as CallToolResult;
}

function textOf(result: CallToolResult): string {
  return result.content.map((block) => (block.type === 'text' ? block.text : '')).join('\n');
}

function step(title: string): void {
  console.log(`\n== ${title}`);
}

async function main(): Promise<void> {
  buildIfNeeded();

  const stateDir = mkdtempSync(path.join(tmpdir(), 'kognic-dataset-mcp-demo-'));
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [CLI, '--sandbox', '--root', EXAMPLES, '--state-dir', stateDir, '--log-level', 'warning'],
    stderr: 'inherit',
  });
  const client = new Client({ name: 'kognic-dataset-mcp-demo', version: '1.0.0' });
  await client.connect(transport);

  try {
    step('Tools');
    const { tools } = await client.listTools();
    for (const tool of tools) {
      console.log(`${tool.name.padEnd(24)} ${tool.title ?? ''}`);
    }

    step('list_datasets');
    const datasets = structured<{ datasets: Array<{ uuid: string; name: string }> }>(
      await call(client, 'list_datasets', {}),
      'list_datasets',
    ).datasets;
    for (const dataset of datasets) {
      console.log(`${dataset.uuid}  ${dataset.name}`);
    }
    const dataset = datasets.find((candidate) => candidate.name === 'Urban camera 2D');
    if (dataset === undefined) {
      throw new Error('The sandbox has no dataset named "Urban camera 2D".');
    }

    step('create_prediction_group');
    const { predictionGroupUuid } = structured<{ predictionGroupUuid: string }>(
      await call(client, 'create_prediction_group', {
        datasetUuid: dataset.uuid,
        name: `demo ${new Date().toISOString()}`,
        description: 'kognic-dataset-mcp demo',
      }),
      'create_prediction_group',
    );
    console.log(`Created prediction group ${predictionGroupUuid} in ${dataset.name}`);

    step('validate_predictions on examples/');
    console.log(textOf(await call(client, 'validate_predictions', { paths: ['.'] })));

    step('upload_predictions from examples/');
    let lastProgress = 0;
    const upload = await call(client, 'upload_predictions', { predictionGroupUuid, paths: ['.'] }, (progress) => {
      if (progress.progress - lastProgress >= 50 || progress.progress === progress.total) {
        lastProgress = progress.progress;
        console.log(`progress ${progress.progress}/${progress.total ?? '?'}`);
      }
    });
    console.log(textOf(upload));

    step('Summary (structuredContent, abridged)');
    const summary = structured<Record<string, unknown>>(upload, 'upload_predictions');
    const { jobId, status, counts, durationMs, itemsPerSecond, reportPath } = summary;
    console.log(JSON.stringify({ jobId, status, counts, durationMs, itemsPerSecond, reportPath }, null, 2));
    console.log('The full summary also lists failure reasons with examples and up to 50 items.');
    console.log(`The report and the journal stay in ${stateDir}; delete that folder when you are done with them.`);
  } finally {
    await client.close();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
