import { createServer } from 'node:net';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { KognicApiError, KognicAuthError, KognicNetworkError, KognicResponseError } from '../src/kognic/errors.js';
import { KognicHttpClient } from '../src/kognic/http-client.js';
import { DEFAULT_RETRY_LIMITS, decideAfterFailure, type RetryCounters } from '../src/predictions/retry-policy.js';
import { Upload } from '../src/predictions/uploader.js';
import { boxEntries, startUploadHarness, type UploadHarness } from './helpers/upload-harness.js';

const PATH = '/v1/predictions-groups/g/predictions';

function counters(): RetryCounters {
  return { rateLimited: 0, serverError: 0, network: 0 };
}

describe('decideAfterFailure', () => {
  it('retries a 429 after Retry-After', () => {
    const decision = decideAfterFailure(new KognicApiError(429, 'POST', PATH, undefined, 2_000), counters(), DEFAULT_RETRY_LIMITS);

    expect(decision).toMatchObject({ action: 'retry', cause: 'rate_limited', delayMs: 2_000, httpStatus: 429 });
  });

  it('backs off a 429 without Retry-After', () => {
    const decision = decideAfterFailure(new KognicApiError(429, 'POST', PATH, undefined), counters(), DEFAULT_RETRY_LIMITS, () => 0.5);

    expect(decision).toMatchObject({ action: 'retry', delayMs: DEFAULT_RETRY_LIMITS.backoffBaseMs / 2 });
  });

  it('fails after the last 429', () => {
    const retries = { ...counters(), rateLimited: DEFAULT_RETRY_LIMITS.maxRateLimitedAttempts - 1 };
    const decision = decideAfterFailure(new KognicApiError(429, 'POST', PATH, 'slow'), retries, DEFAULT_RETRY_LIMITS);

    expect(decision).toMatchObject({ action: 'failed', reason: 'rate_limited', httpStatus: 429 });
  });

  it('retries 502, 503 and 504', () => {
    for (const status of [502, 503, 504]) {
      expect(decideAfterFailure(new KognicApiError(status, 'POST', PATH, undefined), counters(), DEFAULT_RETRY_LIMITS).action).toBe('retry');
    }
  });

  it('fails a 500 at once', () => {
    const decision = decideAfterFailure(new KognicApiError(500, 'POST', PATH, 'boom'), counters(), DEFAULT_RETRY_LIMITS);

    expect(decision).toMatchObject({ action: 'failed', reason: 'http_500', httpStatus: 500 });
  });

  it('stops the upload on a 404', () => {
    const decision = decideAfterFailure(new KognicApiError(404, 'POST', PATH, 'Prediction group not found.'), counters(), DEFAULT_RETRY_LIMITS);

    expect(decision).toMatchObject({ action: 'stop' });
    expect(decision).toMatchObject({ error: expect.stringContaining('Prediction group not found') });
    expect(decision).toMatchObject({ error: expect.stringContaining('list_prediction_groups') });
    expect(decision).toMatchObject({ error: expect.not.stringContaining('..') });
  });

  it('fails a 400 with the message', () => {
    const decision = decideAfterFailure(new KognicApiError(400, 'POST', PATH, 'Scene is not part of the dataset.'), counters(), DEFAULT_RETRY_LIMITS);

    expect(decision).toMatchObject({ action: 'failed', reason: 'http_400' });
    expect(decision).toMatchObject({ error: expect.stringContaining('Scene is not part of the dataset') });
    expect(decision).toMatchObject({ error: expect.not.stringContaining('..') });
  });

  it('never resends after sending', () => {
    const error = new KognicNetworkError('Connection closed (UND_ERR_SOCKET: other side closed)', true, 'UND_ERR_SOCKET');
    const decision = decideAfterFailure(error, counters(), DEFAULT_RETRY_LIMITS);

    expect(decision).toMatchObject({ action: 'unknown', reason: 'no_response' });
    expect(decision).toMatchObject({ error: expect.stringContaining('UND_ERR_SOCKET') });
  });

  it('retries an unsent request', () => {
    const error = new KognicNetworkError('Connection refused (ECONNREFUSED)', false, 'ECONNREFUSED');

    expect(decideAfterFailure(error, counters(), DEFAULT_RETRY_LIMITS)).toMatchObject({ action: 'retry', cause: 'network_error' });
  });

  it('stops on fatal auth errors', () => {
    const error = new KognicAuthError('Kognic rejected the client credentials (invalid_client)', 401, 'invalid_client', true);

    expect(decideAfterFailure(error, counters(), DEFAULT_RETRY_LIMITS)).toMatchObject({ action: 'stop' });
  });

  it('retries passing auth errors', () => {
    const error = new KognicAuthError('The token endpoint answered 503', 503, undefined, false);

    expect(decideAfterFailure(error, counters(), DEFAULT_RETRY_LIMITS)).toMatchObject({ action: 'retry', cause: 'network_error' });
  });

  it('marks unreadable responses unknown', () => {
    const error = new KognicResponseError('The answer has no data field', 200, 'POST', PATH);

    expect(decideAfterFailure(error, counters(), DEFAULT_RETRY_LIMITS)).toMatchObject({ action: 'unknown', reason: 'unreadable_response' });
  });
});

describe('upload edge responses', () => {
  let harness: UploadHarness;

  beforeEach(async () => {
    harness = await startUploadHarness({ sceneCount: 3 });
  });

  afterEach(async () => {
    await harness.close();
  });

  it('reports a response without envelope', async () => {
    harness.sandbox.enqueueResponses('createPrediction', { status: 200, body: { uuid: 'not-enveloped' } });

    const summary = await harness.run(harness.sceneUuids.slice(0, 1));

    expect(summary.counts.unknown).toBe(1);
    expect(summary.items[0]?.reason).toBe('unreadable_response');
  });

  it('fails after refused connections', async () => {
    const closedPort = await freePort();
    const deps = {
      ...harness.deps,
      createHttpClient: (maxConnections: number) =>
        new KognicHttpClient({ baseUrl: `http://127.0.0.1:${closedPort}`, tokenProvider: harness.tokenProvider, logger: harness.deps.logger, maxConnections }),
    };
    const upload = new Upload({ jobId: 'upl_refused', groupUuid: harness.groupUuid, entries: boxEntries(harness.sceneUuids.slice(0, 2)) }, deps);
    upload.start();
    const summary = await upload.done;

    expect(summary.counts.failed).toBe(2);
    expect(summary.failureReasons[0]).toMatchObject({ reason: 'network_error', count: 2 });
    expect(summary.items[0]?.attempts).toBe(3);
    expect(summary.items[0]?.error).toContain('ECONNREFUSED');
  });
});

/** Returns a loopback port that nothing listens on. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') {
    throw new Error('no port');
  }
  return address.port;
}
