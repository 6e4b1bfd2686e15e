import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { predictionRequest } from '../src/kognic/dataset-api.js';
import { KognicApiError, KognicNetworkError, KognicResponseError } from '../src/kognic/errors.js';
import { extractApiMessage, KognicHttpClient, MAX_CONNECTIONS, MAX_RESPONSE_BYTES } from '../src/kognic/http-client.js';
import { TokenProvider } from '../src/kognic/token-provider.js';
import { createLogger, type Logger } from '../src/log.js';
import { KognicSandbox, SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET } from '../src/sandbox/index.js';
import { USER_AGENT } from '../src/version.js';

const OPENLABEL_JSON = JSON.stringify({ openlabel: { metadata: { schema_version: '1.0.0' } } });

let sandbox: KognicSandbox;
let logLines: string[];
let logger: Logger;
let tokenProvider: TokenProvider;
let client: KognicHttpClient;
const extraClients: KognicHttpClient[] = [];

function startClient(options: { baseUrl?: string; maxConnections?: number; maxAttempts?: number; requestTimeoutMs?: number } = {}): KognicHttpClient {
  const created = new KognicHttpClient({ baseUrl: sandbox.url, tokenProvider, logger, ...options });
  extraClients.push(created);
  return created;
}

async function captureRejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the promise to reject');
}

function datasetRequests(): typeof sandbox.requests {
  return sandbox.requests.filter((request) => request.route !== 'token');
}

/** Creates a dataset with `sceneCount` scenes and an empty prediction group on it. */
function createGroup(sceneCount: number): { groupUuid: string; sceneUuids: string[] } {
  const dataset = sandbox.addDataset({ name: 'HTTP client test', sceneCount });
  const groupUuid = sandbox.addPredictionGroup(dataset.uuid, 'client-test-group');
  return { groupUuid, sceneUuids: dataset.sceneUuids };
}

beforeEach(async () => {
  sandbox = await KognicSandbox.start();
  logLines = [];
  logger = createLogger({ level: 'debug', write: (line) => logLines.push(line) }).logger;
  tokenProvider = new TokenProvider({
    authUrl: sandbox.url,
    credentials: { clientId: SANDBOX_CLIENT_ID, clientSecret: SANDBOX_CLIENT_SECRET, source: 'test' },
    logger,
  });
  client = startClient();
});

afterEach(async () => {
  await Promise.all(extraClients.splice(0).map((created) => created.destroy()));
  await tokenProvider.close();
  await sandbox.close();
});

describe('requests', () => {
  it('unwraps the data envelope', async () => {
    const response = await client.request<unknown[]>({ method: 'GET', path: '/v2/datasets' });

    expect(Array.isArray(response.data)).toBe(true);
    expect(response.data.length).toBe(sandbox.listDatasets().length);
    expect(response.status).toBe(200);
    expect(response.attempts).toBe(1);
  });

  it('sends the standard headers', async () => {
    const { groupUuid, sceneUuids } = createGroup(1);

    await client.request(predictionRequest(groupUuid, sceneUuids[0]!, OPENLABEL_JSON));

    const [request] = datasetRequests();
    expect(request?.userAgent).toBe(USER_AGENT);
    expect(request?.contentType).toBe('application/json');
    expect(request?.authorization).toBe('valid');
  });

  it('joins a path prefix', async () => {
    const prefixed = startClient({ baseUrl: `${sandbox.url}/api/` });

    const error = await captureRejection(prefixed.request({ method: 'GET', path: '/v2/datasets' }));

    expect(datasetRequests()[0]?.path).toBe('/api/v2/datasets');
    expect(error).toBeInstanceOf(KognicApiError);
    expect((error as KognicApiError).path).toBe('/v2/datasets');
  });

  it('serialises a JSON body', async () => {
    const dataset = sandbox.addDataset({ name: 'Body test', sceneCount: 1 });

    const response = await client.request<string>({
      method: 'POST',
      path: `/v1/datasets/${dataset.uuid}/predictions-groups`,
      body: { name: 'from-body' },
    });

    expect(sandbox.listPredictionGroups(dataset.uuid).map((group) => group.uuid)).toContain(response.data);
  });

  it('returns undefined for an empty body', async () => {
    sandbox.enqueueResponses('listDatasets', { status: 204 });

    const response = await client.request({ method: 'GET', path: '/v2/datasets' });

    expect(response.data).toBeUndefined();
    expect(response.status).toBe(204);
  });

  it('rejects a body without data', async () => {
    sandbox.enqueueResponses('listDatasets', { status: 200, body: { items: [] } });

    const error = await captureRejection(client.request({ method: 'GET', path: '/v2/datasets' }));

    expect(error).toBeInstanceOf(KognicResponseError);
    expect(error.message).toContain('{"data": ...}');
  });

  it('logs one debug line', async () => {
    await client.request({ method: 'GET', path: '/v2/datasets' });

    const lines = logLines.filter((line) => line.includes('DEBUG Kognic API request'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/method=GET path=\/v2\/datasets status=200 ms=\d+/);
  });

  it('limits the connections', async () => {
    const limited = startClient({ maxConnections: 3 });
    sandbox.setLatency(100);

    await Promise.all(Array.from({ length: 12 }, () => limited.request({ method: 'GET', path: '/v2/datasets' })));

    expect(sandbox.stats.peakInFlight).toBe(3);
  });

  it('rejects too many connections', () => {
    expect(() => startClient({ maxConnections: MAX_CONNECTIONS + 1 })).toThrow(/from 1 to 10/);
  });
});

describe('error responses', () => {
  it('reports the API message', async () => {
    const error = await captureRejection(
      client.request({ method: 'GET', path: '/v1/datasets/5d0c3a8e-0000-4000-8000-000000000000/predictions-groups' }),
    );

    expect(error).toBeInstanceOf(KognicApiError);
    expect((error as KognicApiError).status).toBe(404);
    expect((error as KognicApiError).apiMessage).toContain('5d0c3a8e-0000-4000-8000-000000000000');
  });

  it('stops reading an oversized response', async () => {
    sandbox.enqueueResponses('listDatasets', { status: 200, body: 'x'.repeat(MAX_RESPONSE_BYTES + 1) });

    const error = await captureRejection(client.request({ method: 'GET', path: '/v2/datasets', retry: 'none' }));

    expect(error).toBeInstanceOf(KognicResponseError);
    expect(error.message).toBe(`Kognic API response to GET /v2/datasets is larger than ${MAX_RESPONSE_BYTES} bytes; it was not read.`);
  });

  it('summarises an HTML page', async () => {
    const page = `<html><body>${'Gateway trouble. '.repeat(200)}</body></html>`;
    sandbox.enqueueResponses('listDatasets', { status: 500, body: page });

    const error = await captureRejection(client.request({ method: 'GET', path: '/v2/datasets' }));

    expect((error as KognicApiError).apiMessage).toBe(`HTML error page (${Buffer.byteLength(page)} bytes)`);
  });

  it('cuts a long text body', async () => {
    sandbox.enqueueResponses('listDatasets', { status: 500, body: 'e'.repeat(5_000) });

    const error = await captureRejection(client.request({ method: 'GET', path: '/v2/datasets' }));

    expect((error as KognicApiError).apiMessage).toBe(`${'e'.repeat(300)}…`);
  });

  it('reads OAuth error fields', () => {
    const body = Buffer.from(JSON.stringify({ error: 'invalid_request', error_description: 'Missing name' }));

    expect(extractApiMessage(body, body.length, 'application/json')).toBe('Missing name');
  });

  it('reuses the connection after errors', async () => {
    const single = startClient({ maxConnections: 1, requestTimeoutMs: 5_000 });
    sandbox.enqueueResponses('listDatasets', { status: 500, body: 'x'.repeat(200_000) });
    await captureRejection(single.request({ method: 'GET', path: '/v2/datasets' }));

    await single.request({ method: 'GET', path: '/v2/datasets' });

    const [failed, succeeded] = datasetRequests();
    expect(succeeded?.status).toBe(200);
    expect(succeeded?.connectionId).toBe(failed?.connectionId);
  });
});

describe('retries', () => {
  it('waits for Retry-After', async () => {
    sandbox.enqueueResponses('listDatasets', { status: 429, headers: { 'retry-after': '1' }, body: { message: 'Slow down' } });
    const startedAt = Date.now();

    const response = await client.request({ method: 'GET', path: '/v2/datasets' });

    expect(response.attempts).toBe(2);
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(950);
    expect(logLines.some((line) => line.includes('Retrying Kognic API request') && line.includes('status=429') && line.includes('delayMs=1000'))).toBe(true);
  });

  it('retries 503 twice', async () => {
    sandbox.enqueueResponses('listDatasets', { status: 503 }, { status: 503 });

    const response = await client.request({ method: 'GET', path: '/v2/datasets' });

    expect(response.attempts).toBe(3);
    expect(datasetRequests().map((request) => request.status)).toEqual([503, 503, 200]);
  });

  it('gives up after maxAttempts', async () => {
    const limited = startClient({ maxAttempts: 2 });
    sandbox.setAlwaysResponse('listDatasets', { status: 502 });

    const error = await captureRejection(limited.request({ method: 'GET', path: '/v2/datasets' }));

    expect((error as KognicApiError).status).toBe(502);
    expect(datasetRequests()).toHaveLength(2);
  });

  it('does not retry a POST', async () => {
    const { groupUuid, sceneUuids } = createGroup(1);
    sandbox.enqueueResponses('createPrediction', { status: 503, headers: { 'retry-after': '2' } });

    const error = await captureRejection(client.request(predictionRequest(groupUuid, sceneUuids[0]!, OPENLABEL_JSON)));

    expect(error).toBeInstanceOf(KognicApiError);
    expect((error as KognicApiError).status).toBe(503);
    expect((error as KognicApiError).retryAfterMs).toBe(2000);
    expect(datasetRequests()).toHaveLength(1);
  });

  it('does not retry other 4xx', async () => {
    sandbox.enqueueResponses('listDatasets', { status: 400, body: { message: 'Bad filter' } });

    const error = await captureRejection(client.request({ method: 'GET', path: '/v2/datasets' }));

    expect((error as KognicApiError).apiMessage).toBe('Bad filter');
    expect(datasetRequests()).toHaveLength(1);
  });

  it('retries a dropped GET', async () => {
    sandbox.destroySocketAfterBody('listDatasets');

    const response = await client.request({ method: 'GET', path: '/v2/datasets' });

    expect(response.attempts).toBe(2);
  });

  it('aborts a retry wait', async () => {
    sandbox.enqueueResponses('listDatasets', { status: 429, headers: { 'retry-after': '30' } });
    const controller = new AbortController();
    const startedAt = Date.now();
    const pending = client.request({ method: 'GET', path: '/v2/datasets', signal: controller.signal });
    setTimeout(() => controller.abort(), 200);

    const error = await captureRejection(pending);

    expect(error.name).toBe('AbortError');
    expect(Date.now() - startedAt).toBeLessThan(5_000);
  });

  it('aborts a slow request', async () => {
    sandbox.setLatency(5_000);
    const controller = new AbortController();
    const pending = client.request({ method: 'GET', path: '/v2/datasets', signal: controller.signal });
    setTimeout(() => controller.abort(), 100);

    const error = await captureRejection(pending);

    expect(error.name).toBe('AbortError');
    expect(error).not.toBeInstanceOf(KognicNetworkError);
  });
});

describe('expired access tokens', () => {
  it('renews once for concurrent 401s', async () => {
    await client.request({ method: 'GET', path: '/v2/datasets' });
    sandbox.revokeTokens();
    sandbox.resetStats();

    const responses = await Promise.all(Array.from({ length: 10 }, () => client.request({ method: 'GET', path: '/v2/datasets' })));

    expect(responses.map((response) => response.attempts)).toEqual(Array(10).fill(2));
    expect(sandbox.stats.tokenRequests.map((request) => request.grantType)).toEqual(['refresh_token']);
    expect(datasetRequests().filter((request) => request.authorization === 'revoked')).toHaveLength(10);
    expect(datasetRequests().filter((request) => request.authorization === 'valid')).toHaveLength(10);
  });

  it('resends a POST after 401', async () => {
    const { groupUuid, sceneUuids } = createGroup(1);
    await tokenProvider.getToken();
    sandbox.revokeTokens();

    const response = await client.request(predictionRequest(groupUuid, sceneUuids[0]!, OPENLABEL_JSON));

    expect(response.attempts).toBe(2);
    expect(sandbox.predictions(groupUuid)).toHaveLength(1);
  });

  it('calls onWrite for each request written', async () => {
    const { groupUuid, sceneUuids } = createGroup(2);
    await tokenProvider.getToken();
    let writes = 0;
    const onWrite = (): void => {
      writes += 1;
    };

    await client.request({ ...predictionRequest(groupUuid, sceneUuids[0]!, OPENLABEL_JSON), onWrite });
    expect(writes).toBe(1);

    sandbox.revokeTokens();
    await client.request({ ...predictionRequest(groupUuid, sceneUuids[1]!, OPENLABEL_JSON), onWrite });
    expect(writes).toBe(3);
  });

  it('fails on a second 401', async () => {
    sandbox.enqueueResponses('listDatasets', { status: 401, body: { message: 'No' } }, { status: 401, body: { message: 'Still no' } });

    const error = await captureRejection(client.request({ method: 'GET', path: '/v2/datasets' }));

    expect((error as KognicApiError).status).toBe(401);
    expect((error as KognicApiError).apiMessage).toBe('Still no');
    expect(sandbox.stats.tokenRequests).toHaveLength(2);
  });
});

describe('network failures', () => {
  it('names a refused connection', async () => {
    const probe = await KognicSandbox.start();
    const deadUrl = probe.url;
    await probe.close();
    const offline = startClient({ baseUrl: deadUrl });

    const error = await captureRejection(offline.request({ method: 'GET', path: '/v2/datasets', retry: 'none' }));

    expect(error).toBeInstanceOf(KognicNetworkError);
    expect((error as KognicNetworkError).requestSent).toBe(false);
    expect((error as KognicNetworkError).code).toBe('ECONNREFUSED');
    expect(error.message).toContain(`GET /v2/datasets failed: Connection to ${new URL(deadUrl).host} was refused`);
    expect(error.message).not.toContain('fetch failed');
  });

  it('skips onWrite for a refused connection', async () => {
    const probe = await KognicSandbox.start();
    const deadUrl = probe.url;
    await probe.close();
    const offline = startClient({ baseUrl: deadUrl });
    let writes = 0;

    const error = await captureRejection(
      offline.request({ method: 'GET', path: '/v2/datasets', retry: 'none', onWrite: () => (writes += 1) }),
    );

    expect((error as KognicNetworkError).code).toBe('ECONNREFUSED');
    expect(writes).toBe(0);
  });

  it('reports a dropped POST as sent', async () => {
    const { groupUuid, sceneUuids } = createGroup(1);
    sandbox.destroySocketAfterBody('createPrediction');

    const error = await captureRejection(client.request(predictionRequest(groupUuid, sceneUuids[0]!, OPENLABEL_JSON)));

    expect(error).toBeInstanceOf(KognicNetworkError);
    expect((error as KognicNetworkError).requestSent).toBe(true);
    expect(error.message).toMatch(/closed by the server before a response arrived \(UND_ERR_SOCKET: other side closed\)|reset before a response arrived \(ECONNRESET/);
    expect(sandbox.predictions(groupUuid)).toHaveLength(1);
  });

  it('times out a silent server', async () => {
    const impatient = startClient({ requestTimeoutMs: 200 });
    sandbox.setLatency(3_000);

    const error = await captureRejection(impatient.request({ method: 'GET', path: '/v2/datasets', retry: 'none' }));

    expect((error as KognicNetworkError).code).toBe('UND_ERR_HEADERS_TIMEOUT');
    expect((error as KognicNetworkError).requestSent).toBe(true);
  });

  it('survives close after response', async () => {
    const { groupUuid, sceneUuids } = createGroup(30);
    sandbox.setCloseAfterResponse(true);
    const queue = [...sceneUuids];

    const outcomes = await Promise.allSettled(
      Array.from({ length: 10 }, async () => {
        for (let sceneUuid = queue.shift(); sceneUuid !== undefined; sceneUuid = queue.shift()) {
          await client.request(predictionRequest(groupUuid, sceneUuid, OPENLABEL_JSON));
        }
      }),
    );

    expect(outcomes.filter((outcome) => outcome.status === 'rejected')).toEqual([]);
    expect(sandbox.predictions(groupUuid)).toHaveLength(30);
    expect([...sandbox.predictionCountByScene(groupUuid).values()].every((count) => count === 1)).toBe(true);
    expect(logLines.some((line) => line.includes('closed a connection without announcing it'))).toBe(true);
  });

  it('keeps connections alive normally', async () => {
    const single = startClient({ maxConnections: 1 });

    for (let index = 0; index < 20; index += 1) {
      await single.request({ method: 'GET', path: '/v2/datasets' });
    }

    expect(new Set(datasetRequests().map((request) => request.connectionId)).size).toBe(1);
  });

  it('fails in-flight requests on destroy', async () => {
    sandbox.setLatency(5_000);
    const pending = client.request({ method: 'GET', path: '/v2/datasets', retry: 'none' });
    await new Promise((resolve) => setTimeout(resolve, 200));

    await client.destroy();
    const error = await captureRejection(pending);

    expect(error).toBeInstanceOf(KognicNetworkError);
  });
});

describe('warnings and secrecy', () => {
  it('warns about a sunset date once', async () => {
    const deprecated = { status: 200, headers: { 'sunset-date': '2027-01-31T00:00:00Z' }, body: { data: [] } };
    sandbox.enqueueResponses('listDatasets', deprecated, deprecated);

    await client.request({ method: 'GET', path: '/v2/datasets' });
    await client.request({ method: 'GET', path: '/v2/datasets' });

    const warnings = logLines.filter((line) => line.includes('deprecated'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('Kognic API /v2/datasets is deprecated and will be removed on 2027-01-31T00:00:00Z');
  });

  it('keeps secrets out of logs and errors', async () => {
    const errors: Error[] = [];
    const first = await tokenProvider.getToken();
    await client.request({ method: 'GET', path: '/v2/datasets' });
    sandbox.revokeTokens();
    await client.request({ method: 'GET', path: '/v2/datasets' });
    const second = await tokenProvider.getToken();
    sandbox.enqueueResponses('listDatasets', { status: 400, body: { message: `token ${second} and secret ${SANDBOX_CLIENT_SECRET}` } });
    errors.push(await captureRejection(client.request({ method: 'GET', path: '/v2/datasets' })));
    sandbox.destroySocketAfterBody('createPrediction');
    const { groupUuid, sceneUuids } = createGroup(1);
    errors.push(await captureRejection(client.request(predictionRequest(groupUuid, sceneUuids[0]!, OPENLABEL_JSON))));

    const text = [...logLines, ...errors.map((error) => error.message)].join('\n');
    for (const secret of [SANDBOX_CLIENT_SECRET, first, second]) {
      expect(text).not.toContain(secret);
    }
    expect(errors[0]?.message).toContain('[REDACTED]');
  });
});
