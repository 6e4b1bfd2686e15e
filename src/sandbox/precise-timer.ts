/**
 * PreciseTimer: waits until a point in time with sub-millisecond precision, for the sandbox's
 * latency.
 *
 * Node's timers count whole milliseconds from the event loop's cached clock. On a busy loop that
 * clock lags behind, so a 20 ms setTimeout can fire early, and waiting out the rest then costs
 * at least one more millisecond. In the throughput benchmark at a 20 ms latency, responses came
 * about 0.8 ms late on average. Here a worker thread sleeps in `Atomics.wait`, which takes a
 * fractional timeout, and posts a message to the main thread when the earliest deadline is near.
 * The main thread then checks the deadline on each turn of its event loop until it has passed.
 */
import { once } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';

/**
 * The worker's source, run as a CommonJS script. It sleeps until `wakeAt` (milliseconds of
 * `process.hrtime`, the clock that every thread shares), posts one message, and then sleeps
 * until the main thread bumps `generation`. The main thread bumps it after each change of
 * `wakeAt` and after each message it handles.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const control = new Int32Array(workerData.shared, 0, 2);
const wakeAt = new Float64Array(workerData.shared, 8, 1);
const GENERATION = 0;
const STOP = 1;
const nowMs = () => Number(process.hrtime.bigint()) / 1e6;

for (;;) {
  const generation = Atomics.load(control, GENERATION);
  if (Atomics.load(control, STOP) === 1) {
    break;
  }
  const remainingMs = wakeAt[0] - nowMs();
  if (remainingMs > 0) {
    const woken = Atomics.wait(control, GENERATION, generation, remainingMs === Infinity ? undefined : remainingMs);
    if (woken !== 'timed-out') {
      continue;
    }
  }
  parentPort.postMessage(null);
  Atomics.wait(control, GENERATION, generation);
}
`;

const GENERATION = 0;
const STOP = 1;

/**
 * How long before a deadline the worker wakes the main thread. A wake-up through postMessage
 * took 0.1 to 0.3 ms on a 2-CPU Linux VM with Node 20, which is 0.5 to 1.5% of a 20 ms latency
 * on every request. The main thread spends the time left in turns of its event loop.
 */
const WAKE_LEAD_MS = 0.25;

interface PendingWait {
  /** Milliseconds on the `performance.now()` clock. */
  deadline: number;
  signal: AbortSignal;
  resolve: (reached: boolean) => void;
}

export class PreciseTimer {
  private worker: Worker | undefined;
  private readonly shared = new SharedArrayBuffer(16);
  private readonly control = new Int32Array(this.shared, 0, 2);
  private readonly wakeAt = new Float64Array(this.shared, 8, 1);
  private readonly pending = new Set<PendingWait>();
  private readonly hrtimeOffsetMs = measureHrtimeOffset();
  private closed = false;
  /** Set when the worker runs; until then waits use Node's timers, which need no start-up. */
  private workerOnline = false;
  /** Whether a setImmediate callback will run fireDue(). */
  private checkScheduled = false;

  constructor() {
    this.wakeAt[0] = Infinity;
  }

  /** Starts the worker, which the first wait otherwise starts, and resolves once it runs. */
  async start(): Promise<void> {
    this.ensureWorker();
    const worker = this.worker;
    if (worker === undefined || this.workerOnline) {
      return;
    }

    // The worker stays referenced while it starts, or a process with nothing else to do would exit.
    worker.ref();
    try {
      await once(worker, 'online');
    } finally {
      this.updateRef();
    }
  }

  /**
   * Resolves true once `performance.now()` has reached `deadline`, and false as soon as `signal`
   * aborts first. It never resolves true early. Before the worker runs and after close(), it uses
   * Node's timers instead.
   */
  waitUntil(deadline: number, signal: AbortSignal): Promise<boolean> {
    if (Number.isNaN(deadline)) {
      throw new RangeError('The deadline is NaN; pass a time from performance.now().');
    }
    if (signal.aborted) {
      return Promise.resolve(false);
    }
    if (deadline <= performance.now()) {
      return Promise.resolve(true);
    }

    // A worker took 20 to 35 ms to start on a 2-CPU VM with Node 20, longer than a sandbox's first waits.
    this.ensureWorker();
    if (this.closed || !this.workerOnline) {
      return waitWithTimers(deadline, signal);
    }

    return new Promise<boolean>((resolve) => {
      const onAbort = (): void => {
        this.pending.delete(wait);
        this.updateRef();
        resolve(false);
      };
      const wait: PendingWait = {
        deadline,
        signal,
        resolve: (reached) => {
          signal.removeEventListener('abort', onAbort);
          resolve(reached);
        },
      };
      signal.addEventListener('abort', onAbort, { once: true });

      this.pending.add(wait);
      this.updateRef();
      const wakeAt = deadline + this.hrtimeOffsetMs - WAKE_LEAD_MS;
      if (wakeAt < this.wakeAt[0]!) {
        this.setWakeAt(wakeAt);
      }
    });
  }

  /** Stops the worker; waits that are still pending resolve false. */
  async close(): Promise<void> {
    if (this.closed) {
      return;
    }
    this.closed = true;
    for (const wait of this.pending) {
      wait.resolve(false);
    }
    this.pending.clear();

    const worker = this.worker;
    if (worker !== undefined) {
      Atomics.store(this.control, STOP, 1);
      this.bumpGeneration();
      // An unreferenced worker would let the process exit before terminate() settles.
      worker.ref();
      await worker.terminate();
    }
  }

  /**
   * Resolves every wait whose deadline has passed. When the next deadline is less than
   * WAKE_LEAD_MS away, it checks again on each turn of the event loop, which keeps handling I/O
   * in between. Otherwise the worker wakes it WAKE_LEAD_MS before that deadline.
   */
  private fireDue(): void {
    if (this.closed) {
      return;
    }

    const now = performance.now();
    for (const wait of this.pending) {
      if (wait.deadline <= now) {
        this.pending.delete(wait);
        wait.resolve(true);
      }
    }
    this.updateRef();

    const earliest = this.earliestDeadline();
    if (earliest - now <= WAKE_LEAD_MS) {
      if (!this.checkScheduled) {
        this.checkScheduled = true;
        setImmediate(() => {
          this.checkScheduled = false;
          this.fireDue();
        });
      }
      return;
    }
    this.setWakeAt(earliest + this.hrtimeOffsetMs - WAKE_LEAD_MS);
  }

  private earliestDeadline(): number {
    let earliest = Infinity;
    for (const wait of this.pending) {
      earliest = Math.min(earliest, wait.deadline);
    }
    return earliest;
  }

  /** Sets the worker's next wake-up, in milliseconds of `process.hrtime`. */
  private setWakeAt(hrtime: number): void {
    this.wakeAt[0] = hrtime;
    this.bumpGeneration();
  }

  private bumpGeneration(): void {
    this.ensureWorker();
    Atomics.add(this.control, GENERATION, 1);
    Atomics.notify(this.control, GENERATION);
  }

  /** Starts the worker on first use, so that a sandbox without latency runs no extra thread. */
  private ensureWorker(): void {
    if (this.worker !== undefined || this.closed) {
      return;
    }
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { shared: this.shared } });
    this.worker.on('online', () => (this.workerOnline = true));
    this.worker.on('message', () => this.fireDue());
    this.worker.on('error', () => this.fallBackToTimers());
    this.worker.on('exit', () => this.fallBackToTimers());
    this.updateRef();
  }

  /** Keeps the process alive only while a wait is pending, as a setTimeout would. */
  private updateRef(): void {
    if (this.closed) {
      // close() waits for the worker to exit, which needs it referenced.
      return;
    }
    if (this.pending.size > 0) {
      this.worker?.ref();
    } else {
      this.worker?.unref();
    }
  }

  /** Moves the pending waits to Node's timers if the worker fails or exits, so no wait hangs. */
  private fallBackToTimers(): void {
    if (this.closed) {
      return;
    }
    this.closed = true;
    for (const wait of this.pending) {
      void waitWithTimers(wait.deadline, wait.signal).then(wait.resolve);
    }
    this.pending.clear();
  }
}

function hrtimeMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/**
 * Returns `process.hrtime` minus `performance.now()` in milliseconds. Both clocks are monotonic,
 * but the first call of each can take most of a millisecond, so the offset comes from the
 * closest of a few paired readings after a first call of each.
 */
function measureHrtimeOffset(): number {
  hrtimeMs();
  performance.now();

  let offset = 0;
  let closestSpan = Infinity;
  for (let sample = 0; sample < 5; sample++) {
    const before = performance.now();
    const hrtime = hrtimeMs();
    const after = performance.now();
    if (after - before < closestSpan) {
      closestSpan = after - before;
      offset = hrtime - (before + after) / 2;
    }
  }
  return offset;
}

/** Waits with Node's timers, looping until the deadline, because a timer can fire early. */
async function waitWithTimers(deadline: number, signal: AbortSignal): Promise<boolean> {
  for (;;) {
    if (signal.aborted) {
      return false;
    }
    const remainingMs = deadline - performance.now();
    if (remainingMs <= 0) {
      return true;
    }
    try {
      await delay(remainingMs, undefined, { signal });
    } catch {
      return false;
    }
  }
}
