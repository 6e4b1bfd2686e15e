/** Public types of the sandbox: options, scripted faults, recorded requests, statistics and data. */

export type SandboxRoute = 'token' | 'listDatasets' | 'listGroups' | 'createGroup' | 'createPrediction';

/** A response that replaces the normal handling of one request. */
export interface ScriptedResponse {
  status: number;
  /** Extra response headers, for example `{'retry-after': '2'}`. */
  headers?: Record<string, string>;
  /**
   * A JSON value, sent as JSON. A string is sent as is, as `text/html` when it starts with `<`
   * and as `text/plain` otherwise. Without a body the response is empty.
   */
  body?: unknown;
}

export interface SandboxOptions {
  /** TCP port; 0 (the default) picks any free port. The host is always 127.0.0.1. */
  port?: number;
  clientId?: string;
  clientSecret?: string;
  /** `expires_in` of issued access tokens, in seconds; default 3600. */
  tokenLifetimeSeconds?: number;
  /** Whether token responses carry a `refresh_token`; default true, as Kognic's auth server does. */
  issueRefreshToken?: boolean;
  /** Time from the arrival of each dataset-API request to its response, in milliseconds; default 0. */
  latencyMs?: number;
  /** Whether to load the seeded datasets, prediction groups and scenes; default true. */
  seed?: boolean;
  /** Whether to keep the OpenLABEL content of created predictions; default true. */
  keepPredictionContent?: boolean;
  /** Whether to keep a RecordedRequest per request; when false only counters are kept. Default true. */
  recordRequests?: boolean;
}

export type AuthorizationState = 'none' | 'valid' | 'invalid' | 'revoked' | 'expired';

export interface RecordedRequest {
  /** Sequence number, counting from 1; it keeps counting across `resetStats()`. */
  id: number;
  route: SandboxRoute | 'unknown';
  method: string;
  /** Request path without the query string. */
  path: string;
  connectionId: number;
  /** `Date.now()` when the request head arrived. */
  receivedAt: number;
  /** `Date.now()` when the response was fully written. */
  finishedAt?: number;
  /** `Date.now()` when the client closed the socket before the response was written. */
  abortedAt?: number;
  /** `Date.now()` when the sandbox destroyed the socket instead of responding (`destroySocketAfterBody`). */
  destroyedAt?: number;
  /** Status of the response; unset when no response was written. */
  status?: number;
  /** The `sceneUuid` of a createPrediction body, when the body had one. */
  sceneUuid?: string;
  userAgent?: string;
  contentType?: string;
  /** State of the bearer token; always `'none'` on the token route. */
  authorization: AuthorizationState;
}

export type ClientAuthMethod = 'body' | 'basic' | 'none';

export interface TokenRequestRecord {
  /** The `grant_type` form field, or `''` when it is missing. */
  grantType: string;
  clientAuth: ClientAuthMethod;
  /**
   * Status of the response. After `destroySocketAfterBody` with `createFirst`, it is the status
   * the sandbox would have sent. A destroyed request without `createFirst` adds no record.
   */
  status: number;
  /** `Date.now()` when the sandbox handled the request, after any latency. */
  at: number;
}

export interface SandboxStats {
  /** Dataset-API requests received and not yet responded to, aborted or destroyed. */
  inFlight: number;
  /** Max of `inFlight` since start or the last `resetStats()`. */
  peakInFlight: number;
  openConnections: number;
  /** Max number of simultaneously open TCP connections (all routes). */
  peakConnections: number;
  /**
   * Open connections that have carried at least one dataset-API request. Kognic serves the auth
   * server and the dataset API on different hosts, so the dataset API's limit of 10 concurrent
   * connections is checked against this count, not against connections used only for tokens.
   */
  openApiConnections: number;
  /** Max of `openApiConnections` since start or the last `resetStats()`. */
  peakApiConnections: number;
  /** TCP connections accepted since start or the last `resetStats()`. */
  totalConnections: number;
  /** Dataset-API requests (every route except the token route) since start or `resetStats()`. */
  requestCount: number;
  /** Dataset-API responses fully written since start or `resetStats()`. */
  respondedRequests: number;
  /** Sum over `respondedRequests` of the time from request head to response finish, in milliseconds. */
  totalResponseMs: number;
  tokenRequests: TokenRequestRecord[];
  /** `Date.now()` of each connection close, in order. */
  connectionsClosedAt: number[];
}

/** One entry of a segmentation class mapping, as the dataset API accepts it. */
export interface ClassMappingEntry {
  annotated: string;
  predicted?: string;
}

export interface SandboxDataset {
  uuid: string;
  name: string;
  /** ISO 8601 creation time. */
  created: string;
  sceneCount: number;
  sceneUuids: string[];
  /** Segmentation datasets require a class mapping when a prediction group is created. */
  segmentation: boolean;
  /** Extra fields sent with the dataset in `GET /v2/datasets`. */
  extra: Record<string, string | number | boolean>;
}

export interface SandboxGroup {
  uuid: string;
  name: string;
  description: string;
  /** ISO 8601 creation time. */
  created: string;
  datasetUuid: string;
  classMapping?: ClassMappingEntry[];
}

export interface SandboxPrediction {
  uuid: string;
  sceneUuid: string;
  /** `Date.now()` when the prediction was created. */
  createdAt: number;
  /** The `openlabelContent` of the request; unset when `keepPredictionContent` is false. */
  content?: unknown;
}
