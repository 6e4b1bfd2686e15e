import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { DatasetApi, parseListedItem, predictionRequest } from '../src/kognic/dataset-api.js';
import { KognicApiError, KognicResponseError } from '../src/kognic/errors.js';
import { KognicHttpClient } from '../src/kognic/http-client.js';
import { TokenProvider } from '../src/kognic/token-provider.js';
import { silentLogger } from '../src/log.js';
import { KognicSandbox, SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET } from '../src/sandbox/index.js';

const OPENLABEL_JSON = '{"openlabel":{"metadata":{"schema_version":"1.0.0"}}}';

let sandbox: KognicSandbox;
let tokenProvider: TokenProvider;
let http: KognicHttpClient;
let api: DatasetApi;

async function captureRejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the promise to reject');
}

beforeEach(async () => {
  sandbox = await KognicSandbox.start();
  tokenProvider = new TokenProvider({
    authUrl: sandbox.url,
    credentials: { clientId: SANDBOX_CLIENT_ID, clientSecret: SANDBOX_CLIENT_SECRET, source: 'test' },
    logger: silentLogger,
  });
  http = new KognicHttpClient({ baseUrl: sandbox.url, tokenProvider, logger: silentLogger });
  api = new DatasetApi(http);
});

afterEach(async () => {
  await http.destroy();
  await tokenProvider.close();
  await sandbox.close();
});

describe('parseListedItem', () => {
  it('reads uuid and name', () => {
    expect(parseListedItem({ uuid: 'a-1', name: 'Urban' })).toEqual({ uuid: 'a-1', name: 'Urban' });
  });

  it('falls back to id', () => {
    expect(parseListedItem({ id: 'b-2', name: 'Highway' })?.uuid).toBe('b-2');
  });

  it('stringifies a number id', () => {
    expect(parseListedItem({ id: 17 })?.uuid).toBe('17');
  });

  it('defaults the name', () => {
    expect(parseListedItem({ uuid: 'c-3' })?.name).toBe('');
  });

  it('replaces a non-string name', () => {
    expect(parseListedItem({ uuid: 'c-3', name: 42 })?.name).toBe('');
  });

  it('keeps scalar fields', () => {
    const item = parseListedItem({ uuid: 'd-4', name: 'x', sceneCount: 3, public: false, archived: null, created: '2026-01-01' });

    expect(item).toEqual({ uuid: 'd-4', name: 'x', sceneCount: 3, public: false, archived: null, created: '2026-01-01' });
  });

  it('drops nested values', () => {
    const item = parseListedItem({ uuid: 'e-5', name: 'x', owner: { id: 1 }, tags: ['a'] });

    expect(item).toEqual({ uuid: 'e-5', name: 'x' });
  });

  it.each([
    ['no id', { name: 'orphan' }],
    ['empty uuid', { uuid: '' }],
    ['object id', { id: { value: 1 } }],
    ['null', null],
    ['array', ['uuid']],
    ['string', 'uuid'],
  ])('rejects %s', (_case, raw) => {
    expect(parseListedItem(raw)).toBeUndefined();
  });
});

describe('predictionRequest', () => {
  it('builds the prediction POST', () => {
    const request = predictionRequest('group-1', 'scene-1', OPENLABEL_JSON);

    expect(request).toEqual({
      method: 'POST',
      path: '/v1/predictions-groups/group-1/predictions',
      rawBody: `{"sceneUuid":"scene-1","openlabelContent":${OPENLABEL_JSON}}`,
      signal: undefined,
      retry: 'none',
    });
  });

  it('produces valid JSON', () => {
    const request = predictionRequest('group-1', 'scene "quoted"', OPENLABEL_JSON);

    expect(JSON.parse(request.rawBody!)).toEqual({
      sceneUuid: 'scene "quoted"',
      openlabelContent: JSON.parse(OPENLABEL_JSON),
    });
  });

  it('encodes the group UUID', () => {
    expect(predictionRequest('a/b?c', 's', OPENLABEL_JSON).path).toBe('/v1/predictions-groups/a%2Fb%3Fc/predictions');
  });

  it('creates a prediction', async () => {
    const dataset = sandbox.addDataset({ name: 'Prediction test', sceneCount: 2 });
    const groupUuid = sandbox.addPredictionGroup(dataset.uuid, 'model-v1');

    const response = await http.request<string>(predictionRequest(groupUuid, dataset.sceneUuids[1]!, OPENLABEL_JSON));

    expect(sandbox.predictions(groupUuid).map((prediction) => prediction.uuid)).toEqual([response.data]);
    expect(sandbox.predictions(groupUuid)[0]?.sceneUuid).toBe(dataset.sceneUuids[1]);
  });
});

describe('DatasetApi', () => {
  it('lists datasets', async () => {
    const datasets = await api.listDatasets();

    expect(datasets.map((dataset) => dataset.uuid).sort()).toEqual(sandbox.listDatasets().map((dataset) => dataset.uuid).sort());
    expect(datasets.every((dataset) => typeof dataset.name === 'string' && dataset.name !== '')).toBe(true);
  });

  it('keeps extra dataset fields', async () => {
    const added = sandbox.addDataset({ name: 'Extra fields', sceneCount: 3, extra: { region: 'EU', frozen: true } });

    const datasets = await api.listDatasets();

    const dataset = datasets.find((candidate) => candidate.uuid === added.uuid);
    expect(dataset).toMatchObject({ name: 'Extra fields', sceneCount: 3, region: 'EU', frozen: true });
  });

  it('skips items without an id', async () => {
    sandbox.enqueueResponses('listDatasets', { status: 200, body: { data: [{ name: 'no id' }, { id: 7, name: 'seven' }] } });

    const datasets = await api.listDatasets();

    expect(datasets).toEqual([{ uuid: '7', name: 'seven', id: 7 }]);
  });

  it('rejects a non-list response', async () => {
    sandbox.enqueueResponses('listDatasets', { status: 200, body: { data: { datasets: [] } } });

    const error = await captureRejection(api.listDatasets());

    expect(error).toBeInstanceOf(KognicResponseError);
    expect(error.message).toContain('not a list');
  });

  it('lists prediction groups', async () => {
    const dataset = sandbox.addDataset({ name: 'Groups', sceneCount: 1 });
    const groupUuid = sandbox.addPredictionGroup(dataset.uuid, 'baseline');

    const groups = await api.listPredictionGroups(dataset.uuid);

    expect(groups).toHaveLength(1);
    expect(groups[0]).toMatchObject({ uuid: groupUuid, name: 'baseline', datasetUuid: dataset.uuid });
  });

  it('reports an unknown dataset', async () => {
    const error = await captureRejection(api.listPredictionGroups('00000000-0000-4000-8000-000000000000'));

    expect(error).toBeInstanceOf(KognicApiError);
    expect((error as KognicApiError).status).toBe(404);
  });

  it('encodes the dataset UUID', async () => {
    await captureRejection(api.listPredictionGroups('a/b'));

    const request = sandbox.requests.find((candidate) => candidate.route !== 'token');
    expect(request?.path).toBe('/v1/datasets/a%2Fb/predictions-groups');
  });

  it('creates a prediction group', async () => {
    const dataset = sandbox.addDataset({ name: 'Create', sceneCount: 1 });

    const groupUuid = await api.createPredictionGroup(dataset.uuid, { name: 'model-v2', description: 'Second run' });

    const groups = sandbox.listPredictionGroups(dataset.uuid);
    expect(groups.map((group) => group.uuid)).toEqual([groupUuid]);
    expect(groups[0]?.description).toBe('Second run');
  });

  it('sends a class mapping', async () => {
    const dataset = sandbox.addDataset({ name: 'Segmentation', sceneCount: 1, segmentation: true });
    const classMapping = [{ annotated: 'road', predicted: 'drivable' }, { annotated: '_background' }];

    const groupUuid = await api.createPredictionGroup(dataset.uuid, { name: 'seg-v1', classMapping });

    expect(sandbox.listPredictionGroups(dataset.uuid)[0]?.uuid).toBe(groupUuid);
  });

  it('reports a missing class mapping', async () => {
    const dataset = sandbox.addDataset({ name: 'Segmentation', sceneCount: 1, segmentation: true });

    const error = await captureRejection(api.createPredictionGroup(dataset.uuid, { name: 'seg-v1' }));

    expect((error as KognicApiError).status).toBe(400);
    expect((error as KognicApiError).apiMessage).toContain('classMapping');
  });

  it('reports an empty name', async () => {
    const dataset = sandbox.addDataset({ name: 'Names', sceneCount: 1 });

    const error = await captureRejection(api.createPredictionGroup(dataset.uuid, { name: ' ' }));

    expect((error as KognicApiError).status).toBe(400);
  });

  it('accepts an object with an id', async () => {
    const dataset = sandbox.addDataset({ name: 'Object answer', sceneCount: 1 });
    sandbox.enqueueResponses('createGroup', { status: 200, body: { data: { uuid: 'f00d-1', name: 'model' } } });

    expect(await api.createPredictionGroup(dataset.uuid, { name: 'model' })).toBe('f00d-1');
  });

  it('rejects an answer without a UUID', async () => {
    const dataset = sandbox.addDataset({ name: 'Odd answer', sceneCount: 1 });
    sandbox.enqueueResponses('createGroup', { status: 200, body: { data: true } });

    const error = await captureRejection(api.createPredictionGroup(dataset.uuid, { name: 'model' }));

    expect(error).toBeInstanceOf(KognicResponseError);
    expect(error.message).toContain('list the prediction groups');
  });

  it('does not retry group creation', async () => {
    const dataset = sandbox.addDataset({ name: 'No retry', sceneCount: 1 });
    sandbox.enqueueResponses('createGroup', { status: 503 });

    await captureRejection(api.createPredictionGroup(dataset.uuid, { name: 'model' }));

    expect(sandbox.requests.filter((request) => request.route === 'createGroup')).toHaveLength(1);
  });
});
