import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { KognicSandbox, SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET } from '../src/sandbox/index.js';
import { SEEDED_DATASETS } from '../src/sandbox/seed.js';
import { resultText, startHarness, type Harness } from './helpers/mcp-harness.js';

const CAMERA_DATASET = SEEDED_DATASETS.find((dataset) => dataset.kind === 'camera')!;
const SEGMENTATION_DATASET = SEEDED_DATASETS.find((dataset) => dataset.kind === 'segmentation')!;

function tempFile(name: string, content: unknown): string {
  const folder = mkdtempSync(path.join(tmpdir(), 'kognic-creds-'));
  const file = path.join(folder, name);
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

function credentialsFile(overrides: Record<string, unknown> = {}, omit: string[] = []): string {
  const content: Record<string, unknown> = {
    clientId: SANDBOX_CLIENT_ID,
    clientSecret: SANDBOX_CLIENT_SECRET,
    email: 'ml-engineer@example.com',
    userId: 42,
    issuer: 'auth.app.kognic.com',
    ...overrides,
  };
  for (const key of omit) {
    delete content[key];
  }
  return tempFile('credentials.json', content);
}

describe('dataset tools', () => {
  let sandbox: KognicSandbox;
  let harness: Harness | undefined;

  beforeAll(async () => {
    sandbox = await KognicSandbox.start();
  });

  afterAll(async () => {
    await sandbox.close();
  });

  afterEach(async () => {
    await harness?.close();
    harness = undefined;
    sandbox.setAlwaysResponse('listDatasets', undefined);
    sandbox.rejectClient(false);
    sandbox.resetStats();
  });

  async function start(options: Parameters<typeof startHarness>[0] = {}): Promise<Harness> {
    harness = await startHarness({ existingSandbox: sandbox, ...options });
    return harness;
  }

  describe('list_datasets', () => {
    it('lists the seeded datasets', async () => {
      const h = await start();
      const result = await h.call('list_datasets');
      expect(result.isError).toBeFalsy();
      const structured = result.structuredContent as { datasets: Array<{ uuid: string; name: string }>; total: number };
      expect(structured.total).toBe(sandbox.listDatasets().length);
      expect(structured.datasets.map((dataset) => dataset.uuid)).toContain(CAMERA_DATASET.uuid);
      expect(resultText(result)).toContain(CAMERA_DATASET.uuid);
    });

    it('pages with limit and offset', async () => {
      const h = await start();
      const all = sandbox.listDatasets();
      const first = (await h.call('list_datasets', { limit: 2 })).structuredContent as Record<string, unknown>;
      expect((first.datasets as unknown[]).length).toBe(2);
      expect(first.nextOffset).toBe(2);
      expect(first.total).toBe(all.length);

      const last = (await h.call('list_datasets', { limit: 200, offset: 2 })).structuredContent as Record<string, unknown>;
      expect((last.datasets as unknown[]).length).toBe(all.length - 2);
      expect(last.nextOffset).toBeUndefined();
    });

    it('filters by name case-insensitively', async () => {
      const h = await start();
      const needle = CAMERA_DATASET.name.slice(0, 5).toUpperCase();
      const result = (await h.call('list_datasets', { nameContains: needle })).structuredContent as {
        datasets: Array<{ name: string }>;
        total: number;
      };
      expect(result.total).toBeGreaterThan(0);
      for (const dataset of result.datasets) {
        expect(dataset.name.toLowerCase()).toContain(needle.toLowerCase());
      }
    });

    it('retries a 429 on a list call', async () => {
      const h = await start();
      sandbox.enqueueResponses('listDatasets', { status: 429, headers: { 'retry-after': '1' }, body: { message: 'Too many requests' } });
      const result = await h.call('list_datasets');
      expect(result.isError).toBeFalsy();
      const statuses = sandbox.requests.filter((request) => request.route === 'listDatasets').map((request) => request.status);
      expect(statuses).toEqual([429, 200]);
    });

    it('retries 502 and 503 on a list call', async () => {
      const h = await start();
      sandbox.enqueueResponses('listDatasets', { status: 503, body: { message: 'unavailable' } }, { status: 502, body: '<html>bad gateway</html>' });
      const result = await h.call('list_datasets');
      expect(result.isError).toBeFalsy();
      const statuses = sandbox.requests.filter((request) => request.route === 'listDatasets').map((request) => request.status);
      expect(statuses).toEqual([503, 502, 200]);
    });

    it('reports a lasting 503 with its status', async () => {
      const h = await start();
      sandbox.setAlwaysResponse('listDatasets', { status: 503, body: { message: 'Service is down for maintenance' } });
      const result = await h.call('list_datasets');
      expect(result.isError).toBe(true);
      expect(resultText(result)).toContain('503');
      expect(resultText(result)).toContain('Service is down for maintenance');
      const attempts = sandbox.requests.filter((request) => request.route === 'listDatasets').length;
      expect(attempts).toBeGreaterThan(1);
      expect(attempts).toBeLessThanOrEqual(5);
    });
  });

  describe('list_prediction_groups', () => {
    it('lists the groups of a dataset', async () => {
      const h = await start();
      const groupUuid = sandbox.addPredictionGroup(CAMERA_DATASET.uuid, 'Detector v7 listing');
      const result = await h.call('list_prediction_groups', { datasetUuid: CAMERA_DATASET.uuid, nameContains: 'detector V7' });
      expect(result.isError).toBeFalsy();
      const structured = result.structuredContent as { predictionGroups: Array<{ uuid: string }>; total: number };
      expect(structured.predictionGroups.map((group) => group.uuid)).toContain(groupUuid);
      expect(structured.total).toBe(1);
    });

    it('rejects a malformed dataset UUID', async () => {
      const h = await start();
      const result = await h.call('list_prediction_groups', { datasetUuid: 'dataset-1' });
      expect(result.isError).toBe(true);
      expect(resultText(result)).toContain('datasetUuid');
      expect(resultText(result)).toContain('list_datasets');
      expect(sandbox.requests.filter((request) => request.route === 'listGroups')).toHaveLength(0);
    });

    it('accepts an upper-case dataset UUID', async () => {
      const h = await start();
      const result = await h.call('list_prediction_groups', { datasetUuid: CAMERA_DATASET.uuid.toUpperCase() });

      expect(result.isError).toBeFalsy();
      expect(sandbox.requests.filter((request) => request.route === 'listGroups').at(-1)?.path).toContain(CAMERA_DATASET.uuid);
    });

    it('pages long entries within the result bound', async () => {
      const h = await start();
      const { uuid: datasetUuid } = sandbox.addDataset({ name: 'long group names', sceneCount: 1 });
      for (let index = 0; index < 200; index++) {
        sandbox.addPredictionGroup(datasetUuid, `run-${String(index).padStart(3, '0')}-${'n'.repeat(400)}`);
      }

      const seen = new Set<string>();
      const firstPage = await h.call('list_prediction_groups', { datasetUuid, limit: 200 });
      let page = firstPage;
      for (let calls = 0; calls < 10; calls++) {
        const structured = page.structuredContent as { predictionGroups: Array<{ uuid: string }>; nextOffset?: number };
        structured.predictionGroups.forEach((group) => seen.add(group.uuid));
        if (structured.nextOffset === undefined) {
          break;
        }
        page = await h.call('list_prediction_groups', { datasetUuid, limit: 200, offset: structured.nextOffset });
      }
      const first = firstPage.structuredContent as { predictionGroups: Array<{ name: string }>; nextOffset?: number };

      expect(JSON.stringify(firstPage).length).toBeLessThan(40_000);
      expect(first.predictionGroups.length).toBeLessThan(200);
      expect(first.nextOffset).toBe(first.predictionGroups.length);
      expect(first.predictionGroups[0]?.name.endsWith('…')).toBe(true);
      expect(resultText(firstPage)).toContain(`the structured result lists all of them`);
      expect(resultText(firstPage)).toContain(`More: call again with offset ${first.nextOffset}`);
      expect(seen.size).toBe(200);
    });

    it('reports an unknown dataset', async () => {
      const h = await start();
      const result = await h.call('list_prediction_groups', { datasetUuid: '00000000-0000-4000-8000-000000000000' });
      expect(result.isError).toBe(true);
      expect(resultText(result)).toContain('404');
    });
  });

  describe('create_prediction_group', () => {
    it('creates a group and returns its UUID', async () => {
      const h = await start();
      const result = await h.call('create_prediction_group', {
        datasetUuid: CAMERA_DATASET.uuid,
        name: 'Detector v8',
        description: 'nightly build',
      });
      expect(result.isError).toBeFalsy();
      const uuid = (result.structuredContent as { predictionGroupUuid: string }).predictionGroupUuid;
      const created = sandbox.listPredictionGroups(CAMERA_DATASET.uuid).find((group) => group.uuid === uuid);
      expect(created?.name).toBe('Detector v8');
      expect(resultText(result)).toContain(uuid);
    });

    it('sends a class mapping given as JSON text', async () => {
      const h = await start();
      const result = await h.call('create_prediction_group', {
        datasetUuid: SEGMENTATION_DATASET.uuid,
        name: 'Segmenter v1',
        classMapping: JSON.stringify([{ annotated: '_background' }, { annotated: 'road', predicted: 'drivable' }]),
      });
      expect(result.isError).toBeFalsy();
    });

    it('returns the API message for a missing class mapping', async () => {
      const h = await start();
      const result = await h.call('create_prediction_group', { datasetUuid: SEGMENTATION_DATASET.uuid, name: 'Segmenter v2' });
      expect(result.isError).toBe(true);
      expect(resultText(result)).toContain('400');
      expect(resultText(result).toLowerCase()).toContain('classmapping');
    });

    it('keeps a string field as text', async () => {
      const h = await start();
      const result = await h.call('create_prediction_group', { datasetUuid: CAMERA_DATASET.uuid, name: '{"a": 1}' });
      expect(result.isError).toBeFalsy();
      expect((result.structuredContent as { name: string }).name).toBe('{"a": 1}');
    });

    it('rejects an empty name', async () => {
      const h = await start();
      const result = await h.call('create_prediction_group', { datasetUuid: CAMERA_DATASET.uuid, name: '  ' });
      expect(result.isError).toBe(true);
      expect(resultText(result)).toContain('name');
    });
  });

  describe('input conventions', () => {
    it('accepts a number sent as a string', async () => {
      const h = await start();
      const result = await h.call('list_datasets', { limit: '2' });
      expect(result.isError).toBeFalsy();
      expect((result.structuredContent as { datasets: unknown[] }).datasets).toHaveLength(2);
    });

    it.each(['', 'abc', '12abc', '10.5'])('rejects the limit %j', async (value) => {
      const h = await start();
      const result = await h.call('list_datasets', { limit: value });
      expect(result.isError).toBe(true);
      expect(resultText(result)).toContain('limit');
    });

    it('rejects a limit above the maximum', async () => {
      const h = await start();
      const result = await h.call('list_datasets', { limit: 201 });
      expect(result.isError).toBe(true);
      expect(resultText(result)).toContain('from 1 to 200');
      expect(resultText(result)).toContain('got 201');
    });

    it('rejects a misspelt argument', async () => {
      const h = await start();
      const result = await h.call('list_datasets', { namecontains: 'camera' });
      const text = resultText(result);

      expect(result.isError).toBe(true);
      expect(text).toContain('unknown argument "namecontains"');
      expect(text).toContain('takes only nameContains, limit, offset');
    });

    it('cuts a long bad value in errors', async () => {
      const h = await start();
      const result = await h.call('list_prediction_groups', { datasetUuid: 'y'.repeat(60_000) });
      const text = resultText(result);

      expect(result.isError).toBe(true);
      expect(text).toContain('(60000 characters) is not a dataset UUID');
      expect(text.length).toBeLessThan(1_000);
    });

    it('rejects a class mapping that is not JSON', async () => {
      const h = await start();
      const result = await h.call('create_prediction_group', {
        datasetUuid: CAMERA_DATASET.uuid,
        name: 'x',
        classMapping: '[{annotated: road}]',
      });
      expect(result.isError).toBe(true);
      expect(resultText(result)).toContain('classMapping');
    });

    it('advertises strict-host-friendly schemas', async () => {
      const h = await start();
      const { tools } = await h.client.listTools();
      expect(tools.length).toBeGreaterThanOrEqual(3);

      for (const tool of tools) {
        expect(tool.inputSchema.type).toBe('object');
        expect(tool.inputSchema.additionalProperties, tool.name).toBe(false);
        expect(tool.outputSchema?.type).toBe('object');
        const text = JSON.stringify([tool.inputSchema, tool.outputSchema]);
        expect(text).not.toContain('$ref');
        expect(text).not.toContain('$defs');
        expect(text).not.toContain('exclusiveMinimum');
        expect(JSON.stringify(tool.inputSchema)).not.toContain('"format"');
      }
    });

    it('gives every array schema its items', async () => {
      const h = await start();
      const { tools } = await h.client.listTools();
      const arraysWithoutItems: string[] = [];
      const visit = (node: unknown, where: string): void => {
        if (Array.isArray(node)) {
          node.forEach((child, index) => visit(child, `${where}/${index}`));
          return;
        }
        if (typeof node !== 'object' || node === null) {
          return;
        }
        const record = node as Record<string, unknown>;
        const type = record.type;
        if ((type === 'array' || (Array.isArray(type) && type.includes('array'))) && record.items === undefined) {
          arraysWithoutItems.push(where);
        }
        for (const [key, child] of Object.entries(record)) {
          visit(child, `${where}/${key}`);
        }
      };
      for (const tool of tools) {
        visit(tool.inputSchema, `${tool.name}/input`);
        visit(tool.outputSchema, `${tool.name}/output`);
      }
      expect(arraysWithoutItems).toEqual([]);
    });

    it('sets all four annotation hints', async () => {
      const h = await start();
      const { tools } = await h.client.listTools();
      for (const tool of tools) {
        expect(typeof tool.annotations?.readOnlyHint, tool.name).toBe('boolean');
        expect(typeof tool.annotations?.destructiveHint, tool.name).toBe('boolean');
        expect(typeof tool.annotations?.idempotentHint, tool.name).toBe('boolean');
        expect(typeof tool.annotations?.openWorldHint, tool.name).toBe('boolean');
        expect(tool.title, tool.name).toBeTruthy();
      }
    });
  });

  describe('credentials', () => {
    it('lists tools without credentials', async () => {
      const h = await start({ env: {} });
      const { tools } = await h.client.listTools();
      expect(tools.map((tool) => tool.name)).toContain('list_datasets');
    });

    it('names the variables to set without credentials', async () => {
      const h = await start({ env: {} });
      const result = await h.call('list_datasets');
      expect(result.isError).toBe(true);
      expect(resultText(result)).toContain('KOGNIC_CREDENTIALS');
      expect(resultText(result)).toContain('KOGNIC_CLIENT_ID');
      expect(resultText(result)).toContain('KOGNIC_CLIENT_SECRET');
    });

    it('reads KOGNIC_CREDENTIALS', async () => {
      const h = await start({ env: { KOGNIC_CREDENTIALS: credentialsFile() } });
      expect((await h.call('list_datasets')).isError).toBeFalsy();
    });

    it('reads KOGNIC_CLIENT_ID and KOGNIC_CLIENT_SECRET', async () => {
      const h = await start({ env: { KOGNIC_CLIENT_ID: SANDBOX_CLIENT_ID, KOGNIC_CLIENT_SECRET: SANDBOX_CLIENT_SECRET } });
      expect((await h.call('list_datasets')).isError).toBeFalsy();
    });

    it('prefers KOGNIC_CREDENTIALS over the variable pair', async () => {
      const h = await start({
        env: { KOGNIC_CREDENTIALS: credentialsFile(), KOGNIC_CLIENT_ID: 'wrong-client', KOGNIC_CLIENT_SECRET: 'wrong-secret-value' },
      });
      expect((await h.call('list_datasets')).isError).toBeFalsy();
    });

    it('prefers --credentials over the environment', async () => {
      const h = await start({
        config: { credentialsFile: credentialsFile() },
        env: { KOGNIC_CREDENTIALS: credentialsFile({ clientId: 'wrong-client' }) },
      });
      expect((await h.call('list_datasets')).isError).toBeFalsy();
    });

    it('uses environments.json credentials last', async () => {
      const h = await start({
        env: {},
        config: { environment: { name: 'sandbox', file: '/unused/environments.json', credentials: credentialsFile() } },
      });
      expect((await h.call('list_datasets')).isError).toBeFalsy();
    });

    it('names a missing key in the file', async () => {
      const h = await start({ env: { KOGNIC_CREDENTIALS: credentialsFile({}, ['issuer']) } });
      const result = await h.call('list_datasets');
      expect(result.isError).toBe(true);
      expect(resultText(result)).toContain('issuer');
    });

    it('names the date of expired credentials', async () => {
      const h = await start({ env: { KOGNIC_CREDENTIALS: credentialsFile({ expires: '2020-01-02T03:04:05Z' }) } });
      const result = await h.call('list_datasets');
      expect(result.isError).toBe(true);
      expect(resultText(result)).toContain('2020-01-02');
    });

    it('names a missing credentials file', async () => {
      const h = await start({ env: { KOGNIC_CREDENTIALS: '/nonexistent/credentials.json' } });
      const result = await h.call('list_datasets');
      expect(result.isError).toBe(true);
      expect(resultText(result)).toContain('/nonexistent/credentials.json');
    });

    it('names the missing half of the pair', async () => {
      const h = await start({ env: { KOGNIC_CLIENT_ID: SANDBOX_CLIENT_ID } });
      const result = await h.call('list_datasets');
      expect(result.isError).toBe(true);
      expect(resultText(result)).toContain('KOGNIC_CLIENT_SECRET');
    });
  });

  describe('tokens', () => {
    it('reuses one token across calls', async () => {
      const h = await start();
      await h.call('list_datasets');
      await h.call('list_datasets');
      await h.call('list_prediction_groups', { datasetUuid: CAMERA_DATASET.uuid });
      expect(sandbox.stats.tokenRequests).toHaveLength(1);
    });

    it('requests one token for ten concurrent calls', async () => {
      const h = await start();
      const results = await Promise.all(Array.from({ length: 10 }, () => h.call('list_datasets')));
      expect(results.every((result) => !result.isError)).toBe(true);
      expect(sandbox.stats.tokenRequests).toHaveLength(1);
    });

    it('renews the token before it expires', async () => {
      const shortLived = await KognicSandbox.start({ tokenLifetimeSeconds: 61 });
      try {
        const h = await start({ existingSandbox: shortLived });
        await h.call('list_datasets');
        // With a 61 s lifetime and a 60 s renewal margin, the token is due for renewal after 1 s.
        await new Promise((resolve) => setTimeout(resolve, 1_200));
        await h.call('list_datasets');
        const grants = shortLived.stats.tokenRequests.map((request) => request.grantType);
        expect(grants).toEqual(['client_credentials', 'refresh_token']);
        expect(shortLived.requests.every((request) => request.status !== 401)).toBe(true);
      } finally {
        await harness?.close();
        harness = undefined;
        await shortLived.close();
      }
    });

    it('renews once after a 401 and retries', async () => {
      const h = await start();
      await h.call('list_datasets');
      sandbox.revokeTokens();
      const result = await h.call('list_datasets');
      expect(result.isError).toBeFalsy();
      expect(sandbox.stats.tokenRequests).toHaveLength(2);
      const statuses = sandbox.requests.filter((request) => request.route === 'listDatasets').map((request) => request.status);
      expect(statuses).toEqual([200, 401, 200]);
    });

    it('reports invalid_client once for concurrent calls', async () => {
      const h = await start();
      sandbox.rejectClient(true);
      const results = await Promise.all(Array.from({ length: 10 }, () => h.call('list_datasets')));
      for (const result of results) {
        expect(result.isError).toBe(true);
        expect(resultText(result)).toContain('invalid_client');
      }
      expect(sandbox.stats.tokenRequests).toHaveLength(1);
      expect(sandbox.stats.requestCount).toBe(0);
    });
  });

  describe('secrets', () => {
    it('never shows the secret or a token', async () => {
      const h = await start();
      const outputs: string[] = [];
      const record = (result: unknown): void => {
        outputs.push(JSON.stringify(result));
      };

      record(await h.call('list_datasets'));
      const token = await h.context.kognic().tokenProvider.getToken();
      record(await h.call('list_prediction_groups', { datasetUuid: CAMERA_DATASET.uuid }));
      record(await h.call('create_prediction_group', { datasetUuid: CAMERA_DATASET.uuid, name: 'secret check' }));
      sandbox.enqueueResponses('listDatasets', { status: 429, body: { message: 'slow down' } });
      record(await h.call('list_datasets'));
      sandbox.setAlwaysResponse('listDatasets', { status: 500, body: { message: `echo ${SANDBOX_CLIENT_SECRET} ${token}` } });
      record(await h.call('list_datasets'));
      sandbox.setAlwaysResponse('listDatasets', undefined);
      sandbox.revokeTokens();
      record(await h.call('list_datasets'));
      const newToken = await h.context.kognic().tokenProvider.getToken();
      sandbox.rejectClient(true);
      sandbox.revokeTokens();
      record(await h.call('list_datasets'));
      record(await h.call('create_prediction_group', { datasetUuid: SEGMENTATION_DATASET.uuid, name: 'no mapping' }));

      const everything = [...outputs, ...h.logLines].join('\n');
      expect(everything).not.toContain(SANDBOX_CLIENT_SECRET);
      expect(everything).not.toContain(token);
      expect(everything).not.toContain(newToken);
    });

    it('hides secrets of a broken credentials file', async () => {
      const secret = 'file-secret-that-must-not-leak-123';
      const file = credentialsFile({ clientSecret: secret }, ['email']);
      const h = await start({ env: { KOGNIC_CREDENTIALS: file } });
      const result = await h.call('list_datasets');
      expect(result.isError).toBe(true);
      expect([JSON.stringify(result), ...h.logLines].join('\n')).not.toContain(secret);
    });
  });
});
