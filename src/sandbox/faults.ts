/** The faults a test has switched on: latency, scripted responses, dropped sockets and auth failures. */

import type { SandboxRoute, ScriptedResponse } from './types.js';

const DATASET_ROUTES: ReadonlyArray<SandboxRoute> = ['listDatasets', 'listGroups', 'createGroup', 'createPrediction'];

/** Fault applied to one request instead of, or in addition to, its normal handling. */
export type PlannedFault =
  | { kind: 'none' }
  | { kind: 'scripted'; response: ScriptedResponse }
  | { kind: 'destroySocket'; createFirst: boolean };

export class FaultPlan {
  private defaultLatencyMs: number;
  private readonly latencyMsByRoute = new Map<SandboxRoute, number>();
  private readonly scriptedResponses = new Map<SandboxRoute, ScriptedResponse[]>();
  private readonly alwaysResponses = new Map<SandboxRoute, ScriptedResponse>();
  private readonly socketDestructions = new Map<SandboxRoute, Array<{ createFirst: boolean }>>();

  /** Whether to end each connection after its response, without a `Connection: close` header. */
  closeAfterResponse = false;
  /** Whether every token request gets 401 `invalid_client`. */
  rejectAllClients = false;

  constructor(latencyMs: number) {
    this.defaultLatencyMs = checkLatency(latencyMs);
  }

  /**
   * Sets the latency of one route, or of every dataset-API route when `route` is omitted (which
   * also clears their per-route values). The token route has no latency unless it is named.
   */
  setLatency(ms: number, route?: SandboxRoute): void {
    const latencyMs = checkLatency(ms);
    if (route !== undefined) {
      this.latencyMsByRoute.set(route, latencyMs);
      return;
    }

    this.defaultLatencyMs = latencyMs;
    for (const datasetRoute of DATASET_ROUTES) {
      this.latencyMsByRoute.delete(datasetRoute);
    }
  }

  /** Returns the delay before responding to a request on `route`; unknown paths count as dataset API. */
  latencyMs(route: SandboxRoute | 'unknown'): number {
    if (route === 'unknown') {
      return this.defaultLatencyMs;
    }
    return this.latencyMsByRoute.get(route) ?? (route === 'token' ? 0 : this.defaultLatencyMs);
  }

  enqueueResponses(route: SandboxRoute, responses: ScriptedResponse[]): void {
    const queue = this.scriptedResponses.get(route) ?? [];
    queue.push(...responses);
    this.scriptedResponses.set(route, queue);
  }

  setAlwaysResponse(route: SandboxRoute, response: ScriptedResponse | undefined): void {
    if (response === undefined) {
      this.alwaysResponses.delete(route);
    } else {
      this.alwaysResponses.set(route, response);
    }
  }

  destroySocketAfterBody(route: SandboxRoute, count: number, createFirst: boolean): void {
    if (!Number.isInteger(count) || count < 1) {
      throw new Error(`Count ${count} is invalid for destroySocketAfterBody; pass a positive integer.`);
    }

    const queue = this.socketDestructions.get(route) ?? [];
    for (let index = 0; index < count; index += 1) {
      queue.push({ createFirst });
    }
    this.socketDestructions.set(route, queue);
  }

  /**
   * Takes the fault for the next request on `route`, in this order: a pending socket destruction,
   * then a queued scripted response, then the always-response.
   */
  takeFault(route: SandboxRoute | 'unknown'): PlannedFault {
    if (route === 'unknown') {
      return { kind: 'none' };
    }

    const destruction = this.socketDestructions.get(route)?.shift();
    if (destruction !== undefined) {
      return { kind: 'destroySocket', createFirst: destruction.createFirst };
    }

    const scripted = this.scriptedResponses.get(route)?.shift();
    if (scripted !== undefined) {
      return { kind: 'scripted', response: scripted };
    }

    const always = this.alwaysResponses.get(route);
    return always === undefined ? { kind: 'none' } : { kind: 'scripted', response: always };
  }
}

function checkLatency(ms: number): number {
  if (!Number.isFinite(ms) || ms < 0) {
    throw new Error(`Latency ${ms} ms is invalid; pass a non-negative number of milliseconds.`);
  }
  return ms;
}
