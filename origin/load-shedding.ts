/**
 * Admission to a model's batching queue: whether a request should wait, or be answered at once. Pure: the
 * batcher passes in its queue, its measured batch time and the clock's reading.
 *
 * A request is refused at once, before it costs anything:
 * - with `payload_too_large` (413, not retryable) when it alone has more rows than the queue may hold:
 *   it could never be admitted, so telling the caller to retry would be a lie;
 * - with `overloaded` (503 + `Retry-After`) when the queue holds `maxQueueRows`, or when the wait it would
 *   face (the rows ahead of it in batches of `maxBatchSize`, times the measured batch time) passes the
 *   server's bound on queueing delay (`maxQueueWaitMs`), or the wait plus its own batch passes the
 *   caller's deadline (`x-request-timeout-ms`). The server's bound holds whatever the deadline: the edge
 *   sends its whole remaining budget, and a request it gets back at once it can send to another origin.
 * Shedding by expected wait rather than by queue length alone starts when waiting stops being worth it,
 * whatever the model's speed: a bound in rows is minutes for a slow model and milliseconds for a fast one.
 * Until a batch has been measured only the row bound applies, and a request that would start at once is
 * always admitted.
 */
import { TandemError } from '../protocol/errors.ts';

/**
 * The server's default bound on queueing delay. Batches take milliseconds to tens of milliseconds, so this
 * leaves room for many batches of queue (all the batching there is to gain) while keeping a served
 * request's answer within a fraction of a second at any load.
 */
export const DEFAULT_MAX_QUEUE_WAIT_MS = 250;

export interface QueueSnapshot {
  /** Rows queued, not yet running. */
  queuedRows: number;
  /** Batches running now. */
  running: number;
  /** How long the oldest running batch has been running, in ms (0 when none runs). */
  oldestRunningMs: number;
}

export interface AdmissionLimits {
  maxBatchSize: number;
  maxQueueRows: number;
  /** Batches run at once. */
  concurrency: number;
  /** Bound on expected queueing delay. Default `DEFAULT_MAX_QUEUE_WAIT_MS`. */
  maxQueueWaitMs?: number;
}

export interface AdmissionRequest {
  rows: number;
  /** Time left until the caller's deadline, in ms; undefined when it gave none. */
  remainingMs?: number;
}

/**
 * Milliseconds until a request of `rows` would start computing: the rest of a running batch when every
 * lane is busy, plus the batches needed for the rows ahead of it, spread over the lanes.
 * @example
 * expectedWaitMs({ queuedRows: 128, running: 1, oldestRunningMs: 10 }, { maxBatchSize: 64, maxQueueRows: 1024, concurrency: 1 }, 1, 40);
 * // 30 (rest of the running batch) + 2 batches of 64 ahead × 40 = 110
 */
export function expectedWaitMs(queue: QueueSnapshot, limits: AdmissionLimits, rows: number, batchMs: number): number {
  const laneFree = queue.running < limits.concurrency;
  const laneWait = laneFree ? 0 : Math.max(0, batchMs - queue.oldestRunningMs);
  // Batches that start before this request's own: the queued rows fill them, this request's rows join the
  // last. Lanes take batches in turn, so its batch starts after floor(ahead / lanes) batch times.
  const batchesAhead = Math.ceil((queue.queuedRows + rows) / limits.maxBatchSize) - 1;
  return laneWait + Math.floor(batchesAhead / limits.concurrency) * batchMs;
}

/**
 * Admits a request, or says why not.
 * @returns undefined to admit, or the error to answer with at once.
 * @example
 * const refusal = admission(snapshot, limits, { rows: 1, remainingMs: 200 }, batchMsEstimate);
 * if (refusal) throw refusal;
 */
export function admission(queue: QueueSnapshot, limits: AdmissionLimits, request: AdmissionRequest, batchMs: number | undefined): TandemError | undefined {
  if (request.rows > limits.maxQueueRows) {
    return new TandemError(
      'payload_too_large',
      `the request has ${request.rows} rows; this model queues at most ${limits.maxQueueRows} rows per request: split it`,
    );
  }
  if (queue.queuedRows > 0 && queue.queuedRows + request.rows > limits.maxQueueRows) {
    return new TandemError('overloaded', `the queue holds ${queue.queuedRows} rows, limit ${limits.maxQueueRows}`, { retryAfterSeconds: 1 });
  }
  if (batchMs === undefined) return undefined;
  const waitMs = expectedWaitMs(queue, limits, request.rows, batchMs);
  if (waitMs === 0) return undefined; // Starts at once: admitting costs nothing.
  const bound = limits.maxQueueWaitMs ?? DEFAULT_MAX_QUEUE_WAIT_MS;
  const shed = (why: string) =>
    new TandemError('overloaded', `the request would wait about ${Math.round(waitMs)} ms for its batch; ${why}`, {
      retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)),
    });
  if (waitMs > bound) return shed(`the server bounds queueing at ${bound} ms`);
  if (request.remainingMs !== undefined && waitMs + batchMs > request.remainingMs) {
    return shed(`with its batch (about ${Math.round(batchMs)} ms) that passes its deadline, ${Math.round(request.remainingMs)} ms away`);
  }
  return undefined;
}

/** Weight of the newest batch in the batch-time average. */
export const BATCH_TIME_ALPHA = 0.2;

/**
 * The batch-time average after one more measured batch: an exponentially weighted moving average, so it
 * follows the model's speed under the current load without jumping at one slow batch.
 */
export function nextBatchMs(previous: number | undefined, measuredMs: number, alpha = BATCH_TIME_ALPHA): number {
  return previous === undefined ? measuredMs : previous + alpha * (measuredMs - previous);
}
