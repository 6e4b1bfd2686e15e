/**
 * KognicSandbox: a Kognic-compatible HTTP API on 127.0.0.1, for tests, benchmarks and the
 * `--sandbox` mode. One origin serves both the auth route and the dataset API. It writes nothing
 * to stdout or stderr.
 */

import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

import { type DatasetRequest, handleDatasetRequest, matchRoute, unknownRouteReply, type RouteMatch } from './dataset-routes.js';
import { FaultPlan, type PlannedFault } from './faults.js';
import { type BodyReadResult, type JsonParseResult, MAX_BODY_BYTES, type Reply, errorReply, isPlainObject, mediaType, parseJson, readBody, writeReply } from './http.js';
import { PreciseTimer } from './precise-timer.js';
import { isDatasetApiRequest, StatsRecorder } from './stats.js';
import { type NewDataset, SandboxStore } from './store.js';
import { type TokenEndpointResult, describeTokenRequest, handleTokenRequest } from './token-route.js';
import { SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, TokenStore } from './tokens.js';
import type {
  AuthorizationState,
  RecordedRequest,
  SandboxDataset,
  SandboxGroup,
  SandboxOptions,
  SandboxPrediction,
  SandboxRoute,
  SandboxStats,
  ScriptedResponse,
} from './types.js';

const HOST = '127.0.0.1';

const DEFAULT_TOKEN_LIFETIME_SECONDS = 3600;

/** One request from head to end, with what the sandbox learned about it on the way. */
interface Exchange {
  request: IncomingMessage;
  response: ServerResponse;
  socket: Socket;
  match: RouteMatch;
  record: RecordedRequest;
  fault: PlannedFault;
  /** `performance.now()` when the request head arrived; the latency counts from here. */
  arrivedAt: number;
  /** Aborted when the connection closes before the response is written. */
  closed: AbortController;
  /** Set before the sandbox destroys the socket itself, so the close is not taken for a client abort. */
  destroyedBySandbox: boolean;
}

export class KognicSandbox {
  readonly options: Readonly<Required<SandboxOptions>>;

  private readonly server: Server;
  private readonly store: SandboxStore;
  private readonly tokens = new TokenStore();
  private readonly faults: FaultPlan;
  private readonly timer = new PreciseTimer();
  private readonly recorder: StatsRecorder;
  private readonly sockets = new Set<Socket>();
  private readonly connectionIds = new WeakMap<Socket, number>();
  private readonly apiSockets = new WeakSet<Socket>();
  private origin = '';
  private closing: Promise<void> | undefined;

  private constructor(options: Required<SandboxOptions>) {
    this.options = options;
    this.store = new SandboxStore(options.keepPredictionContent);
    this.faults = new FaultPlan(options.latencyMs);
    this.recorder = new StatsRecorder(options.recordRequests);
    if (options.seed) {
      this.store.loadSeed();
    }

    this.server = createServer();
    this.server.on('connection', (socket) => this.trackConnection(socket));
    this.server.on('request', (request, response) => this.acceptRequest(request, response));
  }

  /** Starts a sandbox listening on 127.0.0.1 and resolves once it accepts connections. */
  static async start(options: SandboxOptions = {}): Promise<KognicSandbox> {
    const sandbox = new KognicSandbox(resolveOptions(options));
    await sandbox.listen();
    if (sandbox.options.latencyMs > 0) {
      // Without it, the first responses would come up to 1 ms late, from Node's timers.
      await sandbox.timer.start();
    }
    return sandbox;
  }

  /** `http://127.0.0.1:<port>`, the base URL of both the auth route and the dataset API. */
  get url(): string {
    return this.origin;
  }

  /** Live statistics; the object is updated in place. */
  get stats(): SandboxStats {
    return this.recorder.stats;
  }

  /** Live list of recorded requests in arrival order; empty when `recordRequests` is false. */
  get requests(): RecordedRequest[] {
    return this.recorder.requests;
  }

  resetStats(): void {
    this.recorder.reset();
  }

  addDataset(input: NewDataset): { uuid: string; sceneUuids: string[] } {
    return this.store.addDataset(input);
  }

  addScenes(datasetUuid: string, count: number): string[] {
    return this.store.addScenes(datasetUuid, count);
  }

  addPredictionGroup(datasetUuid: string, name: string): string {
    return this.store.addGroup(datasetUuid, { name });
  }

  listDatasets(): SandboxDataset[] {
    return this.store.listDatasets();
  }

  listPredictionGroups(datasetUuid: string): SandboxGroup[] {
    return this.store.listGroups(datasetUuid);
  }

  predictions(groupUuid: string): SandboxPrediction[] {
    return this.store.predictions(groupUuid);
  }

  predictionCountByScene(groupUuid: string): Map<string, number> {
    return this.store.predictionCountByScene(groupUuid);
  }

  setLatency(ms: number, route?: SandboxRoute): void {
    this.faults.setLatency(ms, route);
  }

  /** Makes the next requests on `route` get these responses, in order, instead of normal handling. */
  enqueueResponses(route: SandboxRoute, ...responses: ScriptedResponse[]): void {
    this.faults.enqueueResponses(route, responses);
  }

  /** Sends `response` to every request on `route` until called with `undefined`. Queued responses go first. */
  setAlwaysResponse(route: SandboxRoute, response: ScriptedResponse | undefined): void {
    this.faults.setAlwaysResponse(route, response);
  }

  setCloseAfterResponse(on: boolean): void {
    this.faults.closeAfterResponse = on;
  }

  /**
   * For the next `count` requests on `route`: reads the whole body, performs the normal effect
   * when `createFirst` is true (the default), then destroys the socket without responding.
   */
  destroySocketAfterBody(route: SandboxRoute, count = 1, options: { createFirst?: boolean } = {}): void {
    this.faults.destroySocketAfterBody(route, count, options.createFirst ?? true);
  }

  /** Makes every access token issued so far get 401; refresh tokens stay valid. */
  revokeTokens(): void {
    this.tokens.revokeAccessTokens();
  }

  /** Makes the refresh grant return 401 `invalid_token` for every refresh token issued so far. */
  expireRefreshTokens(): void {
    this.tokens.expireRefreshTokens();
  }

  rejectClient(on: boolean): void {
    this.faults.rejectAllClients = on;
  }

  /**
   * Destroys open sockets and resolves when the server is closed. Requests in progress are
   * abandoned and recorded with `abortedAt`.
   */
  close(): Promise<void> {
    this.closing ??= this.closeServer();
    return this.closing;
  }

  private async closeServer(): Promise<void> {
    if (!this.server.listening) {
      await this.timer.close();
      return;
    }

    const serverClosed = new Promise<void>((resolve, reject) => {
      this.server.close((error) => (error === undefined ? resolve() : reject(error)));
    });

    // The server can report itself closed before each socket's own 'close' event has run, so
    // close() also waits for those events. The connection counts are then final when it resolves.
    const socketsClosed = [...this.sockets].map(
      (socket) => new Promise<void>((resolve) => {
        socket.once('close', () => resolve());
        socket.destroy();
      }),
    );
    await Promise.all([serverClosed, ...socketsClosed]);
    await this.timer.close();
  }

  private async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.port, HOST, () => {
        this.server.off('error', reject);
        resolve();
      });
    });

    const address = this.server.address() as AddressInfo;
    this.origin = `http://${HOST}:${address.port}`;
  }

  private trackConnection(socket: Socket): void {
    this.sockets.add(socket);
    this.connectionIds.set(socket, this.recorder.connectionOpened());

    socket.on('close', () => {
      this.sockets.delete(socket);
      this.recorder.connectionClosed(this.apiSockets.has(socket));
    });
  }

  /** Records the request head, wires up the end-of-request events and starts serving. */
  private acceptRequest(request: IncomingMessage, response: ServerResponse): void {
    const method = request.method ?? 'GET';
    const path = (request.url ?? '/').split('?')[0] ?? '/';
    const match = matchRoute(method, path);
    const socket = request.socket;

    const authorization: AuthorizationState =
      match.route === 'token' ? 'none' : this.tokens.checkAuthorizationHeader(request.headers.authorization);
    const record = this.recorder.requestStarted({
      route: match.route,
      method,
      path,
      connectionId: this.connectionIds.get(socket) ?? 0,
      receivedAt: Date.now(),
      authorization,
      ...(request.headers['user-agent'] === undefined ? {} : { userAgent: request.headers['user-agent'] }),
      ...(request.headers['content-type'] === undefined ? {} : { contentType: request.headers['content-type'] }),
    });
    if (isDatasetApiRequest(record) && !this.apiSockets.has(socket)) {
      this.apiSockets.add(socket);
      this.recorder.apiConnectionUsed();
    }

    const exchange: Exchange = {
      request,
      response,
      socket,
      arrivedAt: performance.now(),
      match,
      record,
      fault: this.faults.takeFault(match.route),
      closed: new AbortController(),
      destroyedBySandbox: false,
    };
    this.watchExchangeEnd(exchange);

    this.serve(exchange).catch((error: unknown) => this.failExchange(exchange, error));
  }

  /** Ends the request's count exactly once: when the response is fully written, or when the socket closes first. */
  private watchExchangeEnd(exchange: Exchange): void {
    const { response, record, socket } = exchange;
    let ended = false;
    const end = (): void => {
      if (!ended) {
        ended = true;
        this.recorder.requestEnded(record);
      }
    };

    response.on('finish', () => {
      record.finishedAt = Date.now();
      this.recorder.responseFinished(record, performance.now() - exchange.arrivedAt);
      end();
      if (this.faults.closeAfterResponse) {
        socket.end();
      }
    });

    response.on('close', () => {
      if (!response.writableFinished) {
        if (!exchange.destroyedBySandbox) {
          record.abortedAt = Date.now();
        }
        exchange.closed.abort();
      }
      end();
    });
  }

  /** Reads the body, waits the latency, then responds, destroys the socket, or stops if the client left. */
  private async serve(exchange: Exchange): Promise<void> {
    const { request, match, record, fault } = exchange;

    let body: BodyReadResult;
    try {
      body = await readBody(request, MAX_BODY_BYTES);
    } catch {
      // The connection closed before the body ended, and the close handler has recorded the abort.
      return;
    }

    const json = body.kind === 'complete' ? this.parseJsonBody(exchange, body.body) : undefined;
    if (match.route === 'createPrediction' && json?.ok === true && isPlainObject(json.value)) {
      const sceneUuid = json.value.sceneUuid;
      if (typeof sceneUuid === 'string') {
        record.sceneUuid = sceneUuid;
      }
    }

    const waited = await this.waitLatency(exchange);
    if (!waited) {
      return;
    }

    if (fault.kind === 'destroySocket') {
      if (fault.createFirst && body.kind === 'complete') {
        this.handleNormally(exchange, body.body, json);
      }
      exchange.destroyedBySandbox = true;
      record.destroyedAt = Date.now();
      exchange.socket.destroy();
      return;
    }

    this.send(exchange, this.chooseReply(exchange, body, json));
  }

  private chooseReply(exchange: Exchange, body: BodyReadResult, json: JsonParseResult | undefined): Reply {
    if (exchange.fault.kind === 'scripted') {
      return this.scriptedReply(exchange, exchange.fault.response, body);
    }
    if (body.kind === 'too_large') {
      return this.tooLargeReply(exchange, body.receivedBytes);
    }
    return this.handleNormally(exchange, body.body, json);
  }

  /** Parses the body of a dataset-API POST sent as JSON; other requests need no JSON. */
  private parseJsonBody(exchange: Exchange, body: Buffer): JsonParseResult | undefined {
    const { route } = exchange.match;
    const isJsonPost = route === 'createGroup' || route === 'createPrediction';
    if (!isJsonPost || mediaType(exchange.request.headers['content-type']) !== 'application/json') {
      return undefined;
    }
    return parseJson(body);
  }

  /**
   * Waits until the latency has passed since the request head arrived, so that reading and
   * parsing the body count toward it. Resolves false when the client closed the connection.
   */
  private waitLatency(exchange: Exchange): Promise<boolean> {
    const deadline = exchange.arrivedAt + this.faults.latencyMs(exchange.match.route);
    return this.timer.waitUntil(deadline, exchange.closed.signal);
  }

  /** Produces the normal reply and performs its effect (issued token, new group or prediction). */
  private handleNormally(exchange: Exchange, body: Buffer, json: JsonParseResult | undefined): Reply {
    const { match, record, request } = exchange;

    if (match.route === 'token') {
      const result = this.handleTokenRoute(request, body);
      this.recordTokenRequest(result.grantType, result.clientAuth, result.reply.status);
      return result.reply;
    }
    if (match.route === 'unknown') {
      return unknownRouteReply(record.method, record.path, match);
    }

    if (record.authorization !== 'valid') {
      return unauthorizedReply(record.authorization);
    }

    const datasetRequest: DatasetRequest = {
      match: { ...match, route: match.route },
      contentType: request.headers['content-type'],
      ...(json === undefined ? {} : { json }),
    };
    return handleDatasetRequest(datasetRequest, this.store);
  }

  private handleTokenRoute(request: IncomingMessage, body: Buffer): TokenEndpointResult {
    const config = {
      clientId: this.options.clientId,
      clientSecret: this.options.clientSecret,
      tokenLifetimeSeconds: this.options.tokenLifetimeSeconds,
      issueRefreshToken: this.options.issueRefreshToken,
      rejectAllClients: this.faults.rejectAllClients,
    };
    const tokenRequest = { contentType: request.headers['content-type'], authorization: request.headers.authorization, body };
    return handleTokenRequest(tokenRequest, config, this.tokens);
  }

  private scriptedReply(exchange: Exchange, response: ScriptedResponse, body: BodyReadResult): Reply {
    if (exchange.match.route === 'token') {
      const tokenRequest = {
        contentType: exchange.request.headers['content-type'],
        authorization: exchange.request.headers.authorization,
        body: body.kind === 'complete' ? body.body : Buffer.alloc(0),
      };
      const { grantType, clientAuth } = describeTokenRequest(tokenRequest);
      this.recordTokenRequest(grantType, clientAuth, response.status);
    }
    return response;
  }

  private tooLargeReply(exchange: Exchange, receivedBytes: number): Reply {
    if (exchange.match.route === 'token') {
      this.recordTokenRequest('', 'none', 413);
    }
    return errorReply(413, `Request body of ${receivedBytes} bytes exceeds the limit of ${MAX_BODY_BYTES} bytes; send a smaller body.`);
  }

  private recordTokenRequest(grantType: string, clientAuth: 'body' | 'basic' | 'none', status: number): void {
    this.recorder.tokenRequest({ grantType, clientAuth, status, at: Date.now() });
  }

  private send(exchange: Exchange, reply: Reply): void {
    if (exchange.closed.signal.aborted) {
      return;
    }
    exchange.record.status = reply.status;
    writeReply(exchange.response, reply);
  }

  /** Sends 500 for a bug in the sandbox itself, or destroys the socket if the headers were already sent. */
  private failExchange(exchange: Exchange, error: unknown): void {
    const message = error instanceof Error ? error.message : String(error);
    if (exchange.response.headersSent || exchange.closed.signal.aborted) {
      exchange.socket.destroy();
      return;
    }
    this.send(exchange, errorReply(500, `The sandbox failed while handling the request: ${message}`));
  }
}

function unauthorizedReply(authorization: AuthorizationState): Reply {
  const messages: Record<AuthorizationState, string> = {
    none: 'The Authorization header is missing; send "Authorization: Bearer <access token>".',
    invalid: 'The bearer token is invalid; request a new access token from the token endpoint.',
    revoked: 'The access token has been revoked; request a new access token from the token endpoint.',
    expired: 'The access token has expired; request a new access token from the token endpoint.',
    valid: 'The access token is valid.',
  };
  const challenge = authorization === 'none' ? 'Bearer realm="kognic-sandbox"' : 'Bearer realm="kognic-sandbox", error="invalid_token"';
  return errorReply(401, messages[authorization], { 'www-authenticate': challenge });
}

function resolveOptions(options: SandboxOptions): Required<SandboxOptions> {
  const resolved: Required<SandboxOptions> = {
    port: options.port ?? 0,
    clientId: options.clientId ?? SANDBOX_CLIENT_ID,
    clientSecret: options.clientSecret ?? SANDBOX_CLIENT_SECRET,
    tokenLifetimeSeconds: options.tokenLifetimeSeconds ?? DEFAULT_TOKEN_LIFETIME_SECONDS,
    issueRefreshToken: options.issueRefreshToken ?? true,
    latencyMs: options.latencyMs ?? 0,
    seed: options.seed ?? true,
    keepPredictionContent: options.keepPredictionContent ?? true,
    recordRequests: options.recordRequests ?? true,
  };

  if (!Number.isInteger(resolved.port) || resolved.port < 0 || resolved.port > 65535) {
    throw new Error(`Port ${resolved.port} is invalid; pass an integer from 0 to 65535 (0 picks a free port).`);
  }
  if (!Number.isFinite(resolved.tokenLifetimeSeconds) || resolved.tokenLifetimeSeconds < 0) {
    throw new Error(`tokenLifetimeSeconds ${resolved.tokenLifetimeSeconds} is invalid; pass a non-negative number of seconds.`);
  }
  return resolved;
}
