/**
 * Dynamic batching with a bounded queue, per model version.
 *
 * Requests whose `key` matches (same input dtypes, same non-batch dims, same requested outputs) are merged
 * along their leading dimension up to `maxBatchSize` rows. Two dispatch policies: `delay` waits up to
 * `maxQueueDelayMs` for a batch to fill, as Triton's dynamic batcher does; `eager` (the default) runs at
 * once whatever is queued when nothing is running, so a lone request pays no wait, and while a batch
 * runs the next one fills by itself: batches grow with load. Requests with no key run alone.
 *
 * Admission (`load-shedding.ts`): the batcher measures its batches (a moving average) and refuses at once,
 * with `overloaded`, a request whose expected wait overruns its deadline or the server's bound on
 * queueing, or that finds `maxQueueRows` rows queued; a request with more rows than that could never be
 * admitted and gets `payload_too_large`. A queued request whose deadline passes or whose caller goes away
 * is dropped before it costs compute.
 *
 * A merged run that fails in a way one request's data may explain (`splittable`) is run again in halves
 * (`batch-isolation.ts`), so only the request that fails alone gets an error, and it is its own.
 *
 * The batcher knows nothing of tensors: `run` receives the items of one batch and returns one result per item.
 */
import { TandemError } from '../protocol/errors.ts';
import { runIsolating, type SplitReport } from './batch-isolation.ts';
import { admission, nextBatchMs } from './load-shedding.ts';

export interface BatcherOptions {
  /** Most rows merged into one run. 1 disables batching. */
  maxBatchSize: number;
  /** Longest a request waits for its batch to fill. */
  maxQueueDelayMs: number;
  /** Rows queued (not yet running) beyond which new requests are refused. */
  maxQueueRows: number;
  /** Batches run at the same time. */
  concurrency: number;
  /** `eager` (default): run at once when idle; `delay`: always wait up to maxQueueDelayMs to fill. */
  dispatch?: 'eager' | 'delay';
  /** Longest expected queueing delay admitted for a request without a deadline. Default 500 ms. */
  maxQueueWaitMs?: number;
  /**
   * Whether a failed run of several requests may owe its failure to one request's data; such a batch is
   * run again in halves until each request has its own answer or its own error. Default: never.
   */
  splittable?: (error: unknown) => boolean;
  /** Called once per batch that was split, after its requests are answered. A throw is ignored. */
  onSplit?: (report: SplitReport) => void;
}

export interface SubmitOptions {
  /** Rows this request contributes (its leading dimension). */
  rows: number;
  /** Requests batch together only with equal keys; `null` runs alone. */
  key: string | null;
  signal?: AbortSignal;
  /** Absolute time (ms, same clock as `now`) after which the request is worthless. */
  deadline?: number;
}

export interface BatchItem<I> {
  input: I;
  rows: number;
  enqueuedAt: number;
}

export interface BatchStats {
  queuedRows: number;
  queuedRequests: number;
  running: number;
  /** Moving average of measured batch times, in ms; undefined until a batch has run. */
  batchMs: number | undefined;
}

export type RunBatch<I, O> = (items: readonly BatchItem<I>[]) => Promise<O[]>;

interface Pending<I, O> extends BatchItem<I> {
  key: string | null;
  deadline: number;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
  resolve: (value: O) => void;
  reject: (reason: unknown) => void;
}

export class DynamicBatcher<I, O> {
  private readonly queue: Pending<I, O>[] = [];
  private queuedRows = 0;
  private running = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private closed = false;
  private flushing = false;
  private idleWaiters: (() => void)[] = [];
  /** Start times of the batches running now. */
  private readonly runningSince = new Set<{ at: number }>();
  private batchMs: number | undefined;

  constructor(
    private readonly options: BatcherOptions,
    private readonly run: RunBatch<I, O>,
    private readonly now: () => number = () => performance.now(),
  ) {
    for (const [name, min] of [
      ['maxBatchSize', 1],
      ['maxQueueDelayMs', 0],
      ['maxQueueRows', 1],
      ['concurrency', 1],
    ] as const) {
      const value = options[name];
      if (!Number.isFinite(value) || value < min) throw new RangeError(`batcher ${name} must be >= ${min}, got ${value}`);
    }
  }

  stats(): BatchStats {
    return { queuedRows: this.queuedRows, queuedRequests: this.queue.length, running: this.running, batchMs: this.batchMs };
  }

  /**
   * Why a request of `rows` with this `deadline` would be refused now, or undefined if it would be
   * admitted: what `submit` checks first, for callers that can refuse before reading a body.
   * @example
   * const refusal = batcher.refusal(1, deadline);
   * if (refusal) throw refusal; // 503 overloaded with Retry-After, at once
   */
  refusal(rows: number, deadline?: number): TandemError | undefined {
    if (this.closed) return new TandemError('shutting_down', 'the server is shutting down');
    const now = this.now();
    let oldest = now;
    for (const batch of this.runningSince) oldest = Math.min(oldest, batch.at);
    return admission(
      { queuedRows: this.queuedRows, running: this.running, oldestRunningMs: now - oldest },
      this.options,
      { rows, ...(deadline === undefined ? {} : { remainingMs: deadline - now }) },
      this.batchMs,
    );
  }

  /**
   * Queues one request and resolves with its own result.
   * @throws TandemError `payload_too_large` (more rows than the queue holds), `overloaded` (queue full, or
   * a wait past the deadline), `shutting_down`, `deadline_exceeded` or `aborted`.
   */
  submit(input: I, options: SubmitOptions): Promise<O> {
    if (this.closed) return Promise.reject(new TandemError('shutting_down', 'the server is shutting down'));
    if (options.signal?.aborted) return Promise.reject(new TandemError('aborted', 'the request was cancelled'));
    const refusal = this.refusal(options.rows, options.deadline);
    if (refusal) return Promise.reject(refusal);
    return new Promise<O>((resolve, reject) => {
      const item: Pending<I, O> = {
        input,
        rows: options.rows,
        key: options.key,
        enqueuedAt: this.now(),
        deadline: options.deadline ?? Number.POSITIVE_INFINITY,
        signal: options.signal,
        onAbort: undefined,
        resolve,
        reject,
      };
      if (options.signal) {
        item.onAbort = () => this.drop(item, new TandemError('aborted', 'the request was cancelled'));
        options.signal.addEventListener('abort', item.onAbort, { once: true });
      }
      this.queue.push(item);
      this.queuedRows += item.rows;
      this.pump();
    });
  }

  /**
   * Stops waiting for batches to fill: from now on whatever is queued runs as soon as a lane is free, and
   * new requests are still taken. For draining, when no more requests are coming to fill a batch.
   */
  flush(): void {
    this.flushing = true;
    this.pump();
  }

  /** Refuses new requests from now on; resolves once everything queued and running has finished. */
  async close(): Promise<void> {
    this.closed = true;
    this.pump();
    await this.idle();
  }

  /** Resolves when nothing is queued or running. */
  idle(): Promise<void> {
    if (this.queue.length === 0 && this.running === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private drop(item: Pending<I, O>, reason: TandemError): void {
    const index = this.queue.indexOf(item);
    if (index < 0) return; // Already running: its result is simply not awaited.
    this.queue.splice(index, 1);
    this.queuedRows -= item.rows;
    this.settle(item);
    item.reject(reason);
    this.notifyIdle();
  }

  private settle(item: Pending<I, O>): void {
    if (item.onAbort) item.signal?.removeEventListener('abort', item.onAbort);
  }

  private pump(): void {
    this.expire();
    while (this.running < this.options.concurrency && this.queue.length > 0) {
      const batch = this.takeBatch();
      if (!batch) break;
      void this.execute(batch);
    }
    this.schedule();
    this.notifyIdle();
  }

  /** Rejects queued requests whose deadline has passed. */
  private expire(): void {
    const now = this.now();
    for (const item of [...this.queue]) {
      if (item.deadline <= now) {
        this.drop(item, new TandemError('deadline_exceeded', 'the request deadline passed while it was queued'));
      }
    }
  }

  /**
   * The next batch to run, or undefined if the head should wait for more rows. A batch is ready when it is
   * full, when its oldest request has waited `maxQueueDelayMs`, when the batcher is closing, or (eager
   * dispatch) when nothing else is running.
   */
  private takeBatch(): Pending<I, O>[] | undefined {
    const head = this.queue[0]!;
    const members: Pending<I, O>[] = [head];
    let rows = head.rows;
    if (head.key !== null) {
      for (const item of this.queue.slice(1)) {
        if (item.key === head.key && rows + item.rows <= this.options.maxBatchSize) {
          members.push(item);
          rows += item.rows;
        }
      }
    }
    const full = head.key === null || rows >= this.options.maxBatchSize;
    const waited = this.now() - head.enqueuedAt >= this.options.maxQueueDelayMs;
    const idle = this.running === 0 && (this.options.dispatch ?? 'eager') === 'eager';
    if (!full && !waited && !idle && !this.closed && !this.flushing) return undefined;
    for (const item of members) {
      this.queue.splice(this.queue.indexOf(item), 1);
      this.queuedRows -= item.rows;
      this.settle(item);
    }
    return members;
  }

  /** Wakes the batcher when the head's wait ends (if a slot is free) or the earliest deadline passes. */
  private schedule(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const head = this.queue[0];
    if (!head) return;
    let wakeAt = Number.POSITIVE_INFINITY;
    for (const item of this.queue) wakeAt = Math.min(wakeAt, item.deadline);
    if (this.running < this.options.concurrency) wakeAt = Math.min(wakeAt, head.enqueuedAt + this.options.maxQueueDelayMs);
    if (wakeAt === Number.POSITIVE_INFINITY) return;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.pump();
      },
      Math.max(0, wakeAt - this.now()),
    );
  }

  private async execute(batch: Pending<I, O>[]): Promise<void> {
    this.running++;
    const started = { at: this.now() };
    this.runningSince.add(started);
    try {
      const { settled, split } = await runIsolating(batch, (members) => this.runOnce(members), {
        splittable: this.options.splittable ?? (() => false),
        gone: (item) => this.goneReason(item),
      });
      settled.forEach((outcome, i) => (outcome.ok ? batch[i]!.resolve(outcome.value) : batch[i]!.reject(outcome.error)));
      if (split) {
        try {
          this.options.onSplit?.(split);
        } catch {
          // Reporting a split must never fail the batch, nor escape as an unhandled rejection.
        }
      }
    } finally {
      this.running--;
      this.runningSince.delete(started);
      this.pump();
    }
  }

  /** One run of the runner, timed for admission when it succeeds. */
  private async runOnce(members: readonly Pending<I, O>[]): Promise<O[]> {
    const started = this.now();
    const results = await this.run(members);
    if (results.length !== members.length) {
      throw new TandemError('internal', `batch runner returned ${results.length} results for ${members.length} requests`);
    }
    this.batchMs = nextBatchMs(this.batchMs, this.now() - started);
    return results;
  }

  /** Why a request taken into a batch should not run again: its caller left or its deadline passed. */
  private goneReason(item: Pending<I, O>): TandemError | undefined {
    if (item.signal?.aborted) return new TandemError('aborted', 'the request was cancelled');
    if (item.deadline <= this.now()) return new TandemError('deadline_exceeded', 'the request deadline passed while its failed batch was run again');
    return undefined;
  }

  private notifyIdle(): void {
    if (this.queue.length > 0 || this.running > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
