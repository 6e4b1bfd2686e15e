import { request as httpRequest } from 'node:http';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Client, Pool, type Dispatcher, request } from 'undici';

import {
  KognicSandbox,
  MAX_BODY_BYTES,
  SANDBOX_CLIENT_ID,
  SANDBOX_CLIENT_SECRET,
  SEEDED_DATASETS,
  SEEDED_PREDICTION_GROUPS,
  type SandboxOptions,
  seededSceneUuids,
} from '../src/sandbox/index.js';

const TOKEN_PATH = '/v1/auth/oauth/token';
const FORM_TYPE = 'application/x-www-form-urlencoded';
const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

const CAMERA = SEEDED_DATASETS.find((dataset) => dataset.kind === 'camera' && dataset.sceneCount === 400)!;
const SEGMENTATION = SEEDED_DATASETS.find((dataset) => dataset.kind === 'segmentation')!;
const CAMERA_GROUP = SEEDED_PREDICTION_GROUPS.find((group) => group.datasetUuid === CAMERA.uuid)!;
/** The first two scene UUIDs of the urban camera dataset; the demo and the examples rely on them. */
const FIRST_CAMERA_SCENES = ['ea6d7237-ab81-430b-b0ca-ec330b134022', 'f19da3ce-f646-4a73-9bb8-c630a20e9035'];
const OPENLABEL_CONTENT = { openlabel: { metadata: { schema_version: '1.0.0' } } };

interface HttpResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: any;
}

async function send(
  url: string,
  options: { method?: 'GET' | 'POST' | 'PUT'; headers?: Record<string, string>; body?: string | Buffer; dispatcher?: Dispatcher; signal?: AbortSignal },
): Promise<HttpResult> {
  const response = await request(url, {
    method: options.method ?? 'GET',
    ...(options.headers === undefined ? {} : { headers: options.headers }),
    ...(options.body === undefined ? {} : { body: options.body }),
    ...(options.dispatcher === undefined ? {} : { dispatcher: options.dispatcher }),
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  });
  const text = await response.body.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.statusCode, headers: response.headers, text, json };
}

function tokenRequest(
  sandbox: KognicSandbox,
  form: Record<string, string>,
  headers: Record<string, string> = {},
  dispatcher?: Dispatcher,
): Promise<HttpResult> {
  return send(`${sandbox.url}${TOKEN_PATH}`, {
    method: 'POST',
    headers: { 'content-type': FORM_TYPE, ...headers },
    body: new URLSearchParams(form).toString(),
    ...(dispatcher === undefined ? {} : { dispatcher }),
  });
}

function clientCredentialsForm(): Record<string, string> {
  return { grant_type: 'client_credentials', client_id: SANDBOX_CLIENT_ID, client_secret: SANDBOX_CLIENT_SECRET };
}

function basicHeader(clientId: string, clientSecret: string): string {
  return `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`;
}

async function fetchToken(sandbox: KognicSandbox, dispatcher?: Dispatcher): Promise<{ access_token: string; refresh_token?: string }> {
  const result = await tokenRequest(sandbox, clientCredentialsForm(), {}, dispatcher);
  if (result.status !== 200) {
    throw new Error(`token request failed with ${result.status}: ${result.text}`);
  }
  return result.json;
}

function getApi(sandbox: KognicSandbox, path: string, token: string | undefined, dispatcher?: Dispatcher): Promise<HttpResult> {
  return send(`${sandbox.url}${path}`, {
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
    ...(dispatcher === undefined ? {} : { dispatcher }),
  });
}

function postApi(
  sandbox: KognicSandbox,
  path: string,
  token: string,
  body: unknown,
  extra: { contentType?: string; dispatcher?: Dispatcher; signal?: AbortSignal } = {},
): Promise<HttpResult> {
  return send(`${sandbox.url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': extra.contentType ?? 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    ...(extra.dispatcher === undefined ? {} : { dispatcher: extra.dispatcher }),
    ...(extra.signal === undefined ? {} : { signal: extra.signal }),
  });
}

function predictionsPath(groupUuid: string): string {
  return `/v1/predictions-groups/${groupUuid}/predictions`;
}

function groupsPath(datasetUuid: string): string {
  return `/v1/datasets/${datasetUuid}/predictions-groups`;
}

async function waitFor(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) {
      throw new Error(`condition not met within ${timeoutMs} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

let sandbox: KognicSandbox;
const dispatchers: Dispatcher[] = [];

async function startSandbox(options?: SandboxOptions): Promise<KognicSandbox> {
  await sandbox.close();
  sandbox = await KognicSandbox.start(options);
  return sandbox;
}

function track<T extends Dispatcher>(dispatcher: T): T {
  dispatchers.push(dispatcher);
  return dispatcher;
}

beforeEach(async () => {
  sandbox = await KognicSandbox.start();
});

afterEach(async () => {
  await Promise.all(dispatchers.splice(0).map((dispatcher) => dispatcher.destroy()));
  await sandbox.close();
});

describe('token endpoint', () => {
  it('issues token for body credentials', async () => {
    const result = await tokenRequest(sandbox, clientCredentialsForm());

    expect(result.status).toBe(200);
    expect(result.headers['content-type']).toBe('application/json');
    expect(result.headers['cache-control']).toBe('no-store');
    expect(result.json.token_type).toBe('bearer');
    expect(result.json.expires_in).toBe(3600);
    expect(result.json.access_token.split('.')).toHaveLength(3);
    expect(typeof result.json.refresh_token).toBe('string');
    expect(sandbox.stats.tokenRequests).toEqual([
      { grantType: 'client_credentials', clientAuth: 'body', status: 200, at: expect.any(Number) },
    ]);
  });

  it('issues token for Basic credentials', async () => {
    const result = await tokenRequest(
      sandbox,
      { grant_type: 'client_credentials' },
      { authorization: basicHeader(SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET) },
    );

    expect(result.status).toBe(200);
    expect(sandbox.stats.tokenRequests[0]?.clientAuth).toBe('basic');
  });

  it('accepts raw and encoded Basic', async () => {
    const clientSecret = 'p+q/r%s:t-0123456789abcdef';
    await startSandbox({ clientSecret });

    const raw = await tokenRequest(
      sandbox,
      { grant_type: 'client_credentials' },
      { authorization: basicHeader(SANDBOX_CLIENT_ID, clientSecret) },
    );
    const encoded = await tokenRequest(
      sandbox,
      { grant_type: 'client_credentials' },
      { authorization: basicHeader(SANDBOX_CLIENT_ID, encodeURIComponent(clientSecret)) },
    );

    expect(raw.status).toBe(200);
    expect(encoded.status).toBe(200);
  });

  it('token claims decode as JWT', async () => {
    const { access_token: accessToken } = await fetchToken(sandbox);
    const claims = JSON.parse(Buffer.from(accessToken.split('.')[1]!, 'base64url').toString('utf8'));

    expect(claims.sub).toBe(SANDBOX_CLIENT_ID);
    expect(claims.exp - claims.iat).toBe(3600);
  });

  it('omits refresh token when disabled', async () => {
    await startSandbox({ issueRefreshToken: false, tokenLifetimeSeconds: 120 });

    const token = await tokenRequest(sandbox, clientCredentialsForm());

    expect(token.json.refresh_token).toBeUndefined();
    expect(token.json.expires_in).toBe(120);
  });

  it('refresh grant issues new token', async () => {
    const first = await fetchToken(sandbox);

    const refreshed = await tokenRequest(sandbox, {
      grant_type: 'refresh_token',
      refresh_token: first.refresh_token!,
      client_id: SANDBOX_CLIENT_ID,
      client_secret: SANDBOX_CLIENT_SECRET,
    });
    const listing = await getApi(sandbox, '/v2/datasets', refreshed.json.access_token);

    expect(refreshed.status).toBe(200);
    expect(refreshed.json.access_token).not.toBe(first.access_token);
    expect(typeof refreshed.json.refresh_token).toBe('string');
    expect(listing.status).toBe(200);
    expect(sandbox.stats.tokenRequests.map((entry) => entry.grantType)).toEqual(['client_credentials', 'refresh_token']);
  });

  it('rejects wrong client secret', async () => {
    const result = await tokenRequest(sandbox, { ...clientCredentialsForm(), client_secret: 'wrong-secret-value' });

    expect(result.status).toBe(401);
    expect(result.json.error).toBe('invalid_client');
    expect(typeof result.json.error_description).toBe('string');
    expect(result.text).not.toContain('wrong-secret-value');
  });

  it('rejects missing client authentication', async () => {
    const result = await tokenRequest(sandbox, { grant_type: 'client_credentials' });

    expect(result.status).toBe(401);
    expect(result.json.error).toBe('invalid_client');
    expect(sandbox.stats.tokenRequests[0]?.clientAuth).toBe('none');
  });

  it('rejects Basic with WWW-Authenticate', async () => {
    const result = await tokenRequest(
      sandbox,
      { grant_type: 'client_credentials' },
      { authorization: basicHeader(SANDBOX_CLIENT_ID, 'not-the-secret') },
    );

    expect(result.status).toBe(401);
    expect(result.headers['www-authenticate']).toMatch(/^Basic /);
  });

  it('rejectClient rejects valid credentials', async () => {
    sandbox.rejectClient(true);
    const rejected = await tokenRequest(sandbox, clientCredentialsForm());
    sandbox.rejectClient(false);
    const accepted = await tokenRequest(sandbox, clientCredentialsForm());

    expect(rejected.status).toBe(401);
    expect(rejected.json.error).toBe('invalid_client');
    expect(accepted.status).toBe(200);
  });

  it('rejects unknown refresh token', async () => {
    const result = await tokenRequest(sandbox, {
      grant_type: 'refresh_token',
      refresh_token: 'not-a-refresh-token',
      client_id: SANDBOX_CLIENT_ID,
      client_secret: SANDBOX_CLIENT_SECRET,
    });

    expect(result.status).toBe(401);
    expect(result.json.error).toBe('invalid_token');
  });

  it('rejects expired refresh token', async () => {
    const first = await fetchToken(sandbox);
    sandbox.expireRefreshTokens();

    const result = await tokenRequest(sandbox, {
      grant_type: 'refresh_token',
      refresh_token: first.refresh_token!,
      client_id: SANDBOX_CLIENT_ID,
      client_secret: SANDBOX_CLIENT_SECRET,
    });
    const fresh = await fetchToken(sandbox);

    expect(result.status).toBe(401);
    expect(result.json.error).toBe('invalid_token');
    expect(typeof fresh.refresh_token).toBe('string');
  });

  it('rejects malformed token requests', async () => {
    const noGrant = await tokenRequest(sandbox, { client_id: SANDBOX_CLIENT_ID, client_secret: SANDBOX_CLIENT_SECRET });
    const unsupported = await tokenRequest(sandbox, { ...clientCredentialsForm(), grant_type: 'password' });
    const noRefreshToken = await tokenRequest(sandbox, { ...clientCredentialsForm(), grant_type: 'refresh_token' });
    const jsonBody = await send(`${sandbox.url}${TOKEN_PATH}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(clientCredentialsForm()),
    });

    expect(noGrant.status).toBe(400);
    expect(noGrant.json.error).toBe('invalid_request');
    expect(unsupported.status).toBe(400);
    expect(unsupported.json.error).toBe('unsupported_grant_type');
    expect(noRefreshToken.status).toBe(400);
    expect(noRefreshToken.json.error).toBe('invalid_request');
    expect(jsonBody.status).toBe(400);
    expect(jsonBody.json.error).toBe('invalid_request');
  });

  it('rejects two client auth methods', async () => {
    const result = await tokenRequest(sandbox, clientCredentialsForm(), {
      authorization: basicHeader(SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET),
    });

    expect(result.status).toBe(401);
    expect(result.json.error).toBe('invalid_client');
  });
});

describe('bearer token check', () => {
  it('rejects missing token', async () => {
    const result = await getApi(sandbox, '/v2/datasets', undefined);

    expect(result.status).toBe(401);
    expect(typeof result.json.message).toBe('string');
    expect(sandbox.requests[0]?.authorization).toBe('none');
  });

  it('rejects unknown token', async () => {
    const result = await getApi(sandbox, '/v2/datasets', 'abc.def.ghi');

    expect(result.status).toBe(401);
    expect(result.headers['www-authenticate']).toContain('invalid_token');
    expect(sandbox.requests[0]?.authorization).toBe('invalid');
  });

  it('rejects token issued expired', async () => {
    await startSandbox({ tokenLifetimeSeconds: 0 });
    const token = await fetchToken(sandbox);

    const result = await getApi(sandbox, '/v2/datasets', token.access_token);

    expect(result.status).toBe(401);
    expect(sandbox.requests.at(-1)?.authorization).toBe('expired');
  });

  it('token expires after its lifetime', async () => {
    await startSandbox({ tokenLifetimeSeconds: 1 });
    const token = await fetchToken(sandbox);

    const before = await getApi(sandbox, '/v2/datasets', token.access_token);
    await sleep(1_200);
    const after = await getApi(sandbox, '/v2/datasets', token.access_token);

    expect(before.status).toBe(200);
    expect(after.status).toBe(401);
    expect(sandbox.requests.at(-1)?.authorization).toBe('expired');
  });

  it('revokeTokens rejects issued tokens', async () => {
    const old = await fetchToken(sandbox);
    sandbox.revokeTokens();

    const rejected = await getApi(sandbox, '/v2/datasets', old.access_token);
    const revokedState = sandbox.requests.at(-1)?.authorization;
    const refreshed = await tokenRequest(sandbox, {
      grant_type: 'refresh_token',
      refresh_token: old.refresh_token!,
      client_id: SANDBOX_CLIENT_ID,
      client_secret: SANDBOX_CLIENT_SECRET,
    });
    const accepted = await getApi(sandbox, '/v2/datasets', refreshed.json.access_token);

    expect(rejected.status).toBe(401);
    expect(revokedState).toBe('revoked');
    expect(refreshed.status).toBe(200);
    expect(accepted.status).toBe(200);
  });
});

describe('dataset routes', () => {
  let token: string;

  beforeEach(async () => {
    token = (await fetchToken(sandbox)).access_token;
  });

  it('lists seeded datasets', async () => {
    const result = await getApi(sandbox, '/v2/datasets', token);

    expect(result.status).toBe(200);
    expect(result.headers['content-type']).toBe('application/json');
    expect(result.json.data).toHaveLength(SEEDED_DATASETS.length);
    expect(result.json.data[0]).toEqual({
      uuid: SEEDED_DATASETS[0]!.uuid,
      name: SEEDED_DATASETS[0]!.name,
      created: expect.any(String),
      sceneCount: SEEDED_DATASETS[0]!.sceneCount,
    });
  });

  it('lists added dataset with extras', async () => {
    const added = sandbox.addDataset({ name: 'Added', sceneCount: 3, extra: { region: 'eu', frames: 2 } });
    sandbox.addScenes(added.uuid, 2);

    const result = await getApi(sandbox, '/v2/datasets', token);
    const listed = result.json.data.find((dataset: { uuid: string }) => dataset.uuid === added.uuid);

    expect(added.sceneUuids).toHaveLength(3);
    expect(listed).toEqual({ uuid: added.uuid, name: 'Added', created: expect.any(String), sceneCount: 5, region: 'eu', frames: 2 });
  });

  it('lists prediction groups', async () => {
    const result = await getApi(sandbox, groupsPath(CAMERA.uuid), token);

    expect(result.status).toBe(200);
    expect(result.json.data.length).toBeGreaterThan(0);
    expect(result.json.data[0]).toEqual({
      uuid: CAMERA_GROUP.uuid,
      name: CAMERA_GROUP.name,
      description: CAMERA_GROUP.description,
      created: CAMERA_GROUP.created,
      datasetUuid: CAMERA.uuid,
    });
  });

  it('groups of unknown dataset 404', async () => {
    const result = await getApi(sandbox, groupsPath('00000000-0000-4000-8000-000000000000'), token);

    expect(result.status).toBe(404);
    expect(result.json.message).toContain('00000000-0000-4000-8000-000000000000');
  });

  it('creates prediction group', async () => {
    const result = await postApi(sandbox, groupsPath(CAMERA.uuid), token, { name: 'new-model', description: 'v3' });
    const listed = sandbox.listPredictionGroups(CAMERA.uuid).find((group) => group.uuid === result.json.data);

    expect(result.status).toBe(200);
    expect(result.json.data).toMatch(UUID_V4);
    expect(listed?.name).toBe('new-model');
    expect(listed?.description).toBe('v3');
  });

  it('rejects invalid group bodies', async () => {
    const noName = await postApi(sandbox, groupsPath(CAMERA.uuid), token, { description: 'x' });
    const emptyName = await postApi(sandbox, groupsPath(CAMERA.uuid), token, { name: '  ' });
    const badDescription = await postApi(sandbox, groupsPath(CAMERA.uuid), token, { name: 'a', description: 5 });
    const badMapping = await postApi(sandbox, groupsPath(CAMERA.uuid), token, { name: 'a', classMapping: [{ predicted: 'car' }] });
    const notJson = await postApi(sandbox, groupsPath(CAMERA.uuid), token, '{"name": ');
    const wrongType = await postApi(sandbox, groupsPath(CAMERA.uuid), token, { name: 'a' }, { contentType: 'text/plain' });

    expect(noName.status).toBe(400);
    expect(noName.json.message).toContain('name');
    expect(emptyName.status).toBe(400);
    expect(badDescription.status).toBe(400);
    expect(badMapping.status).toBe(400);
    expect(badMapping.json.message).toContain('classMapping[0].annotated');
    expect(notJson.status).toBe(400);
    expect(notJson.json.message).toContain('not valid JSON');
    expect(wrongType.status).toBe(415);
  });

  it('create group on unknown dataset 404', async () => {
    const result = await postApi(sandbox, groupsPath('00000000-0000-4000-8000-000000000000'), token, { name: 'x' });

    expect(result.status).toBe(404);
    expect(typeof result.json.message).toBe('string');
  });

  it('segmentation group requires classMapping', async () => {
    const without = await postApi(sandbox, groupsPath(SEGMENTATION.uuid), token, { name: 'seg' });
    const mapping = [{ annotated: '_background', predicted: 'bg' }, { annotated: 'road' }];
    const withMapping = await postApi(sandbox, groupsPath(SEGMENTATION.uuid), token, { name: 'seg', classMapping: mapping });
    const stored = sandbox.listPredictionGroups(SEGMENTATION.uuid).find((group) => group.uuid === withMapping.json.data);

    expect(without.status).toBe(400);
    expect(without.json.message).toContain('classMapping');
    expect(withMapping.status).toBe(200);
    expect(stored?.classMapping).toEqual(mapping);
  });

  it('creates prediction', async () => {
    const sceneUuid = seededSceneUuids(CAMERA.uuid)[7]!;

    const result = await postApi(sandbox, predictionsPath(CAMERA_GROUP.uuid), token, { sceneUuid, openlabelContent: OPENLABEL_CONTENT });
    const stored = sandbox.predictions(CAMERA_GROUP.uuid);

    expect(result.status).toBe(200);
    expect(result.json.data).toMatch(UUID_V4);
    expect(stored).toEqual([{ uuid: result.json.data, sceneUuid, createdAt: expect.any(Number), content: OPENLABEL_CONTENT }]);
    expect(sandbox.requests.at(-1)?.sceneUuid).toBe(sceneUuid);
    expect(sandbox.requests.at(-1)?.contentType).toBe('application/json');
  });

  it('every POST creates a prediction', async () => {
    const sceneUuid = seededSceneUuids(CAMERA.uuid)[0]!;
    const body = { sceneUuid, openlabelContent: OPENLABEL_CONTENT };

    const first = await postApi(sandbox, predictionsPath(CAMERA_GROUP.uuid), token, body);
    const second = await postApi(sandbox, predictionsPath(CAMERA_GROUP.uuid), token, body);

    expect(first.json.data).not.toBe(second.json.data);
    expect(sandbox.predictionCountByScene(CAMERA_GROUP.uuid).get(sceneUuid)).toBe(2);
  });

  it('rejects invalid prediction bodies', async () => {
    const path = predictionsPath(CAMERA_GROUP.uuid);
    const sceneUuid = seededSceneUuids(CAMERA.uuid)[1]!;

    const notJson = await postApi(sandbox, path, token, 'not json');
    const array = await postApi(sandbox, path, token, [1, 2]);
    const noScene = await postApi(sandbox, path, token, { openlabelContent: OPENLABEL_CONTENT });
    const noContent = await postApi(sandbox, path, token, { sceneUuid });
    const noOpenlabel = await postApi(sandbox, path, token, { sceneUuid, openlabelContent: { frames: {} } });

    expect(notJson.status).toBe(400);
    expect(array.status).toBe(400);
    expect(noScene.status).toBe(400);
    expect(noScene.json.message).toContain('sceneUuid');
    expect(noContent.status).toBe(400);
    expect(noContent.json.message).toContain('openlabelContent');
    expect(noOpenlabel.status).toBe(400);
    expect(noOpenlabel.json.message).toContain('openlabelContent.openlabel');
    expect(sandbox.predictions(CAMERA_GROUP.uuid)).toHaveLength(0);
  });

  it('rejects scene of other dataset', async () => {
    const foreignScene = seededSceneUuids(SEGMENTATION.uuid)[0]!;

    const result = await postApi(sandbox, predictionsPath(CAMERA_GROUP.uuid), token, {
      sceneUuid: foreignScene,
      openlabelContent: OPENLABEL_CONTENT,
    });

    expect(result.status).toBe(400);
    expect(result.json.message).toBe(`Scene ${foreignScene} is not part of dataset ${CAMERA.uuid}`);
  });

  it('prediction for unknown group 404', async () => {
    const result = await postApi(sandbox, predictionsPath('00000000-0000-4000-8000-000000000000'), token, {
      sceneUuid: seededSceneUuids(CAMERA.uuid)[0]!,
      openlabelContent: OPENLABEL_CONTENT,
    });

    expect(result.status).toBe(404);
    expect(typeof result.json.message).toBe('string');
  });

  it('unknown route and method', async () => {
    const unknown = await getApi(sandbox, '/v1/nothing-here', token);
    const wrongMethod = await send(`${sandbox.url}/v2/datasets`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${token}` },
      body: '{}',
    });

    expect(unknown.status).toBe(404);
    expect(typeof unknown.json.message).toBe('string');
    expect(sandbox.requests.at(-2)?.route).toBe('unknown');
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.allow).toBe('GET');
  });

  it('rejects body over the cap', async () => {
    const body = Buffer.alloc(MAX_BODY_BYTES + 1, 0x20);

    const result = await postApi(sandbox, predictionsPath(CAMERA_GROUP.uuid), token, body.toString('latin1'));

    expect(result.status).toBe(413);
    expect(typeof result.json.message).toBe('string');
  });

  it('keepPredictionContent false drops content', async () => {
    await startSandbox({ keepPredictionContent: false });
    token = (await fetchToken(sandbox)).access_token;

    await postApi(sandbox, predictionsPath(CAMERA_GROUP.uuid), token, {
      sceneUuid: seededSceneUuids(CAMERA.uuid)[0]!,
      openlabelContent: OPENLABEL_CONTENT,
    });

    expect(sandbox.predictions(CAMERA_GROUP.uuid)).toHaveLength(1);
    expect(sandbox.predictions(CAMERA_GROUP.uuid)[0]?.content).toBeUndefined();
  });

  it('added group and scenes accept predictions', async () => {
    const dataset = sandbox.addDataset({ name: 'Local', sceneCount: 1 });
    const groupUuid = sandbox.addPredictionGroup(dataset.uuid, 'local-model');

    const result = await postApi(sandbox, predictionsPath(groupUuid), token, {
      sceneUuid: dataset.sceneUuids[0]!,
      openlabelContent: OPENLABEL_CONTENT,
    });
    const listing = await getApi(sandbox, groupsPath(dataset.uuid), token);

    expect(result.status).toBe(200);
    expect(listing.json.data).toEqual([expect.objectContaining({ uuid: groupUuid, name: 'local-model', datasetUuid: dataset.uuid })]);
  });
});

describe('scripted responses', () => {
  let token: string;

  beforeEach(async () => {
    token = (await fetchToken(sandbox)).access_token;
  });

  it('queued responses come first, in order', async () => {
    sandbox.enqueueResponses(
      'listDatasets',
      { status: 429, headers: { 'retry-after': '2' }, body: { message: 'slow down' } },
      { status: 503, body: '<html>unavailable</html>' },
    );

    const first = await getApi(sandbox, '/v2/datasets', token);
    const second = await getApi(sandbox, '/v2/datasets', token);
    const third = await getApi(sandbox, '/v2/datasets', token);

    expect(first.status).toBe(429);
    expect(first.headers['retry-after']).toBe('2');
    expect(first.json).toEqual({ message: 'slow down' });
    expect(second.status).toBe(503);
    expect(second.headers['content-type']).toBe('text/html');
    expect(second.text).toBe('<html>unavailable</html>');
    expect(third.status).toBe(200);
    expect(sandbox.requests.slice(-3).map((entry) => entry.status)).toEqual([429, 503, 200]);
  });

  it('scripted response skips the effect', async () => {
    sandbox.enqueueResponses('createPrediction', { status: 502 });

    const result = await postApi(sandbox, predictionsPath(CAMERA_GROUP.uuid), token, {
      sceneUuid: seededSceneUuids(CAMERA.uuid)[0]!,
      openlabelContent: OPENLABEL_CONTENT,
    });

    expect(result.status).toBe(502);
    expect(result.text).toBe('');
    expect(sandbox.predictions(CAMERA_GROUP.uuid)).toHaveLength(0);
  });

  it('always-response until cleared', async () => {
    sandbox.setAlwaysResponse('listGroups', { status: 500, body: { message: 'boom' } });

    const first = await getApi(sandbox, groupsPath(CAMERA.uuid), token);
    const second = await getApi(sandbox, groupsPath(CAMERA.uuid), token);
    sandbox.setAlwaysResponse('listGroups', undefined);
    const third = await getApi(sandbox, groupsPath(CAMERA.uuid), token);

    expect(first.status).toBe(500);
    expect(second.status).toBe(500);
    expect(third.status).toBe(200);
  });

  it('queued response precedes always-response', async () => {
    sandbox.setAlwaysResponse('listDatasets', { status: 500 });
    sandbox.enqueueResponses('listDatasets', { status: 429 });

    const first = await getApi(sandbox, '/v2/datasets', token);
    const second = await getApi(sandbox, '/v2/datasets', token);

    expect(first.status).toBe(429);
    expect(second.status).toBe(500);
  });

  it('scripted token response is recorded', async () => {
    sandbox.enqueueResponses('token', { status: 429, body: { error: 'slow_down' } });

    const result = await tokenRequest(sandbox, clientCredentialsForm());

    expect(result.status).toBe(429);
    expect(sandbox.stats.tokenRequests.at(-1)).toEqual({ grantType: 'client_credentials', clientAuth: 'body', status: 429, at: expect.any(Number) });
  });
});

describe('latency and aborts', () => {
  let token: string;

  beforeEach(async () => {
    token = (await fetchToken(sandbox)).access_token;
  });

  it('latency delays the response', async () => {
    sandbox.setLatency(300);

    const startedAt = Date.now();
    const result = await getApi(sandbox, '/v2/datasets', token);

    expect(result.status).toBe(200);
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(290);
  });

  it('latency counts from request arrival', async () => {
    sandbox.setLatency(300);
    const body = JSON.stringify({ sceneUuid: seededSceneUuids(CAMERA.uuid)[5]!, openlabelContent: OPENLABEL_CONTENT });
    const startedAt = Date.now();

    // The head goes out at once and the body 400 ms later, which is longer than the latency.
    const outgoing = httpRequest(`${sandbox.url}${predictionsPath(CAMERA_GROUP.uuid)}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
    });
    const responded = new Promise<number>((resolve, reject) => {
      outgoing.on('response', (response) => {
        response.resume();
        response.on('end', () => resolve(response.statusCode ?? 0));
      });
      outgoing.on('error', reject);
    });
    outgoing.flushHeaders();
    await sleep(400);
    outgoing.end(body);
    const status = await responded;
    const elapsedMs = Date.now() - startedAt;

    expect(status).toBe(200);
    expect(elapsedMs).toBeGreaterThanOrEqual(390);
    expect(elapsedMs).toBeLessThan(650);
  });

  it('response time stats', async () => {
    sandbox.setLatency(30);
    sandbox.resetStats();

    for (let index = 0; index < 10; index++) {
      await getApi(sandbox, '/v2/datasets', token);
    }

    expect(sandbox.stats.respondedRequests).toBe(10);
    expect(sandbox.stats.totalResponseMs / 10).toBeGreaterThanOrEqual(30);
    expect(sandbox.stats.totalResponseMs / 10).toBeLessThan(200);
  });

  it('route latency leaves others alone', async () => {
    sandbox.setLatency(5_000, 'createPrediction');

    const startedAt = Date.now();
    await getApi(sandbox, '/v2/datasets', token);
    await fetchToken(sandbox);

    expect(Date.now() - startedAt).toBeLessThan(4_000);
  });

  it('token route latency', async () => {
    sandbox.setLatency(300, 'token');

    const startedAt = Date.now();
    await fetchToken(sandbox);

    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(290);
  });

  it('client abort creates no prediction', async () => {
    sandbox.setLatency(800);
    const controller = new AbortController();

    const pending = postApi(
      sandbox,
      predictionsPath(CAMERA_GROUP.uuid),
      token,
      { sceneUuid: seededSceneUuids(CAMERA.uuid)[0]!, openlabelContent: OPENLABEL_CONTENT },
      { signal: controller.signal },
    );
    await waitFor(() => sandbox.stats.inFlight === 1);
    controller.abort();
    await expect(pending).rejects.toThrow();
    await waitFor(() => sandbox.requests.at(-1)?.abortedAt !== undefined);
    await sleep(1_200);
    const record = sandbox.requests.at(-1);

    expect(record?.abortedAt).toEqual(expect.any(Number));
    expect(record?.finishedAt).toBeUndefined();
    expect(record?.status).toBeUndefined();
    expect(sandbox.stats.inFlight).toBe(0);
    expect(sandbox.predictions(CAMERA_GROUP.uuid)).toHaveLength(0);
  });
});

describe('connection faults', () => {
  let token: string;

  beforeEach(async () => {
    token = (await fetchToken(sandbox)).access_token;
  });

  it('destroyed socket after create', async () => {
    sandbox.destroySocketAfterBody('createPrediction');
    const sceneUuid = seededSceneUuids(CAMERA.uuid)[3]!;

    const pending = postApi(sandbox, predictionsPath(CAMERA_GROUP.uuid), token, { sceneUuid, openlabelContent: OPENLABEL_CONTENT });

    await expect(pending).rejects.toMatchObject({ code: 'UND_ERR_SOCKET' });
    await waitFor(() => sandbox.stats.inFlight === 0);
    const record = sandbox.requests.at(-1);
    expect(sandbox.predictions(CAMERA_GROUP.uuid).map((prediction) => prediction.sceneUuid)).toEqual([sceneUuid]);
    expect(record?.destroyedAt).toEqual(expect.any(Number));
    expect(record?.abortedAt).toBeUndefined();
    expect(record?.status).toBeUndefined();
  });

  it('destroyed socket without create', async () => {
    sandbox.destroySocketAfterBody('createPrediction', 2, { createFirst: false });
    const body = { sceneUuid: seededSceneUuids(CAMERA.uuid)[3]!, openlabelContent: OPENLABEL_CONTENT };

    const first = postApi(sandbox, predictionsPath(CAMERA_GROUP.uuid), token, body);
    await expect(first).rejects.toMatchObject({ code: 'UND_ERR_SOCKET' });
    const second = postApi(sandbox, predictionsPath(CAMERA_GROUP.uuid), token, body);
    await expect(second).rejects.toMatchObject({ code: 'UND_ERR_SOCKET' });
    const third = await postApi(sandbox, predictionsPath(CAMERA_GROUP.uuid), token, body);

    expect(third.status).toBe(200);
    expect(sandbox.predictions(CAMERA_GROUP.uuid)).toHaveLength(1);
  });

  it('closeAfterResponse ends the connection', async () => {
    sandbox.setCloseAfterResponse(true);
    // Idle keep-alive connections close after 4 s (undici) or 5 s (node:http), so a disconnect
    // within 2.5 s comes from the sandbox ending the socket.
    const client = track(new Client(sandbox.url, { keepAliveTimeout: 30_000, keepAliveMaxTimeout: 30_000 }));
    let disconnected = false;
    client.on('disconnect', () => {
      disconnected = true;
    });

    const result = await getApi(sandbox, '/v2/datasets', token, client);
    await waitFor(() => disconnected, 2_500);

    expect(result.status).toBe(200);
    expect(result.headers.connection).toBe('keep-alive');
    expect(disconnected).toBe(true);
  });

  it('keep-alive reuses the connection', async () => {
    const client = track(new Client(sandbox.url));

    await getApi(sandbox, '/v2/datasets', token, client);
    await getApi(sandbox, '/v2/datasets', token, client);
    const [first, second] = sandbox.requests.slice(-2);

    expect(first?.connectionId).toBe(second?.connectionId);
  });

  it('close destroys open connections', async () => {
    const client = track(new Client(sandbox.url));
    await getApi(sandbox, '/v2/datasets', token, client);

    await sandbox.close();

    expect(sandbox.stats.openConnections).toBe(0);
    await expect(getApi(sandbox, '/v2/datasets', token)).rejects.toThrow();
  });
});

describe('statistics', () => {
  it('counts ten parallel slow requests', async () => {
    const pool = track(new Pool(sandbox.url, { connections: 10 }));
    const { access_token: token } = await fetchToken(sandbox, pool);
    sandbox.setLatency(1_000);
    sandbox.resetStats();
    const stats = sandbox.stats;

    const results = await Promise.all(Array.from({ length: 10 }, () => getApi(sandbox, '/v2/datasets', token, pool)));

    expect(results.map((result) => result.status)).toEqual(Array(10).fill(200));
    expect(stats.peakInFlight).toBe(10);
    expect(stats.peakConnections).toBe(10);
    expect(stats.requestCount).toBe(10);
    expect(stats.inFlight).toBe(0);
  });

  it('pool of ten caps peaks at ten', async () => {
    const pool = track(new Pool(sandbox.url, { connections: 10 }));
    const { access_token: token } = await fetchToken(sandbox, pool);
    sandbox.setLatency(500);

    await Promise.all(Array.from({ length: 25 }, () => getApi(sandbox, '/v2/datasets', token, pool)));

    expect(sandbox.stats.peakInFlight).toBe(10);
    expect(sandbox.stats.peakConnections).toBe(10);
    expect(sandbox.stats.totalConnections).toBe(10);
    expect(sandbox.stats.requestCount).toBe(25);
  });

  it('counts token-only connections apart', async () => {
    const authPool = track(new Pool(sandbox.url, { connections: 1 }));
    const apiPool = track(new Pool(sandbox.url, { connections: 2 }));
    const { access_token: token } = await fetchToken(sandbox, authPool);
    sandbox.setLatency(300);

    await Promise.all([getApi(sandbox, '/v2/datasets', token, apiPool), getApi(sandbox, '/v2/datasets', token, apiPool)]);

    expect(sandbox.stats.peakConnections).toBe(3);
    expect(sandbox.stats.peakApiConnections).toBe(2);
    expect(sandbox.stats.openApiConnections).toBe(2);
  });

  it('token requests stay out of request counts', async () => {
    await fetchToken(sandbox);

    expect(sandbox.stats.requestCount).toBe(0);
    expect(sandbox.stats.peakInFlight).toBe(0);
    expect(sandbox.requests[0]?.route).toBe('token');
  });

  it('resetStats clears records in place', async () => {
    const client = track(new Client(sandbox.url));
    const stats = sandbox.stats;
    const requests = sandbox.requests;
    const { access_token: token } = await fetchToken(sandbox);
    await getApi(sandbox, '/v2/datasets', token, client);
    await getApi(sandbox, '/v2/datasets', token, client);

    sandbox.resetStats();

    expect(sandbox.stats).toBe(stats);
    expect(sandbox.requests).toBe(requests);
    expect(requests).toHaveLength(0);
    expect(stats.requestCount).toBe(0);
    expect(stats.tokenRequests).toHaveLength(0);
    expect(stats.totalConnections).toBe(0);
    expect(stats.peakInFlight).toBe(stats.inFlight);
    expect(stats.peakConnections).toBe(stats.openConnections);
    expect(stats.openConnections).toBeGreaterThanOrEqual(1);
  });

  it('recordRequests false keeps counters', async () => {
    await startSandbox({ recordRequests: false });
    const { access_token: token } = await fetchToken(sandbox);

    await getApi(sandbox, '/v2/datasets', token);

    expect(sandbox.requests).toHaveLength(0);
    expect(sandbox.stats.requestCount).toBe(1);
    expect(sandbox.stats.tokenRequests).toHaveLength(1);
  });

  it('records connection closes', async () => {
    const client = track(new Client(sandbox.url));
    const { access_token: token } = await fetchToken(sandbox);
    await getApi(sandbox, '/v2/datasets', token, client);
    const closedBefore = sandbox.stats.connectionsClosedAt.length;

    await client.close();
    await waitFor(() => sandbox.stats.connectionsClosedAt.length === closedBefore + 1);

    expect(sandbox.stats.connectionsClosedAt.at(-1)).toEqual(expect.any(Number));
  });
});

describe('seed', () => {
  it('scene UUIDs are deterministic', () => {
    const scenes = seededSceneUuids(CAMERA.uuid);

    expect(scenes).toHaveLength(400);
    expect(scenes[0]).toBe(seededSceneUuids(CAMERA.uuid)[0]);
    expect(scenes.slice(0, 2)).toEqual(FIRST_CAMERA_SCENES);
    expect(new Set(scenes).size).toBe(400);
    expect(scenes.every((uuid) => UUID_V4.test(uuid))).toBe(true);
  });

  it('unknown dataset has no seeded scenes', () => {
    expect(() => seededSceneUuids('00000000-0000-4000-8000-000000000000')).toThrow(/not a seeded dataset/);
  });

  it('sandbox serves the seeded scenes', () => {
    const camera = sandbox.listDatasets().find((dataset) => dataset.uuid === CAMERA.uuid);

    expect(camera?.sceneUuids).toEqual(seededSceneUuids(CAMERA.uuid));
    expect(camera?.segmentation).toBe(false);
  });

  it('seeded datasets have distinct UUIDs', () => {
    const uuids = SEEDED_DATASETS.map((dataset) => dataset.uuid);

    expect(new Set(uuids).size).toBe(uuids.length);
    expect(uuids.every((uuid) => UUID_V4.test(uuid))).toBe(true);
  });

  it('seed false starts empty', async () => {
    await startSandbox({ seed: false });

    expect(sandbox.listDatasets()).toEqual([]);
  });
});

describe('output streams', () => {
  it('writes nothing to stdout', async () => {
    const written: string[] = [];
    const originalWrite = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    }) as typeof process.stdout.write;

    try {
      const { access_token: token } = await fetchToken(sandbox);
      await getApi(sandbox, '/v2/datasets', token);
      await postApi(sandbox, predictionsPath(CAMERA_GROUP.uuid), token, 'not json');
      await getApi(sandbox, '/nowhere', token);
    } finally {
      process.stdout.write = originalWrite;
    }

    expect(written).toEqual([]);
  });
});
