/** Counters and request records of one sandbox, kept exact from request head to response finish. */

import type { RecordedRequest, SandboxStats, TokenRequestRecord } from './types.js';

export type NewRequestRecord = Omit<RecordedRequest, 'id'>;

export class StatsRecorder {
  /** Live object: tests may keep a reference, so it is only ever changed in place. */
  readonly stats: SandboxStats = {
    inFlight: 0,
    peakInFlight: 0,
    openConnections: 0,
    peakConnections: 0,
    openApiConnections: 0,
    peakApiConnections: 0,
    totalConnections: 0,
    requestCount: 0,
    respondedRequests: 0,
    totalResponseMs: 0,
    tokenRequests: [],
    connectionsClosedAt: [],
  };

  /** Live array, changed in place like `stats`. */
  readonly requests: RecordedRequest[] = [];

  private nextRequestId = 1;
  private nextConnectionId = 1;

  constructor(private readonly recordRequests: boolean) {}

  /** Counts a new TCP connection and returns its id. */
  connectionOpened(): number {
    this.stats.openConnections += 1;
    this.stats.totalConnections += 1;
    this.stats.peakConnections = Math.max(this.stats.peakConnections, this.stats.openConnections);
    return this.nextConnectionId++;
  }

  /** Counts a connection closing; `carriedApiRequests` is true when apiConnectionUsed was called for it. */
  connectionClosed(carriedApiRequests: boolean): void {
    this.stats.openConnections -= 1;
    if (carriedApiRequests) {
      this.stats.openApiConnections -= 1;
    }
    this.stats.connectionsClosedAt.push(Date.now());
  }

  /** Counts a connection as a dataset-API connection; call it once, on its first dataset-API request. */
  apiConnectionUsed(): void {
    this.stats.openApiConnections += 1;
    this.stats.peakApiConnections = Math.max(this.stats.peakApiConnections, this.stats.openApiConnections);
  }

  /**
   * Counts a request whose head has arrived and returns its record. The record is kept in
   * `requests` only when recording is on, but is returned either way so the caller can update it.
   */
  requestStarted(fields: NewRequestRecord): RecordedRequest {
    const record: RecordedRequest = { id: this.nextRequestId++, ...fields };
    if (this.recordRequests) {
      this.requests.push(record);
    }

    if (isDatasetApiRequest(record)) {
      this.stats.requestCount += 1;
      this.stats.inFlight += 1;
      this.stats.peakInFlight = Math.max(this.stats.peakInFlight, this.stats.inFlight);
    }
    return record;
  }

  /** Counts the end of a request: response finished, client abort or socket destroyed. Call it once per request. */
  requestEnded(record: RecordedRequest): void {
    if (isDatasetApiRequest(record)) {
      this.stats.inFlight -= 1;
    }
  }

  /** Counts a response that was fully written, `elapsedMs` after its request head arrived. */
  responseFinished(record: RecordedRequest, elapsedMs: number): void {
    if (isDatasetApiRequest(record)) {
      this.stats.respondedRequests += 1;
      this.stats.totalResponseMs += elapsedMs;
    }
  }

  tokenRequest(entry: TokenRequestRecord): void {
    this.stats.tokenRequests.push(entry);
  }

  /** Clears records and counters. Peaks restart from the current in-flight and open-connection values. */
  reset(): void {
    this.requests.length = 0;
    this.stats.tokenRequests.length = 0;
    this.stats.connectionsClosedAt.length = 0;
    this.stats.requestCount = 0;
    this.stats.respondedRequests = 0;
    this.stats.totalResponseMs = 0;
    this.stats.totalConnections = 0;
    this.stats.peakInFlight = this.stats.inFlight;
    this.stats.peakConnections = this.stats.openConnections;
    this.stats.peakApiConnections = this.stats.openApiConnections;
  }
}

/** Returns whether a request belongs to the dataset API: every route but the token route, unknown paths included. */
export function isDatasetApiRequest(record: RecordedRequest): boolean {
  return record.route !== 'token';
}
