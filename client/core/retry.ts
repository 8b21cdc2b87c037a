/**
 * The client's retry loop: exponential backoff with full jitter (protocol/resilience/backoff.ts, the edge's
 * too), a server's `Retry-After` as the least wait, and an abort that stops the wait at once. What is
 * retried is the error table's `retryable` column (protocol/errors.ts `isRetryable`), read by every tier;
 * an error the edge already retried across origins (it says how many attempts it made) is not retried
 * again, so one call reaches the origins at most the edge's `maxAttempts` times (README, "Retries").
 */
import { TandemError, isRetryable } from '../../protocol/errors.ts';
import { backoffDelay } from '../../protocol/resilience/backoff.ts';

export interface RetryPolicy {
  /** Attempts in all, the first included. Default 3. */
  attempts: number;
  /** First backoff ceiling, ms. Default 200. */
  baseDelayMs: number;
  /** Largest backoff, ms. Default 5000. */
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 3, baseDelayMs: 200, maxDelayMs: 5000 };

export interface RetryDeps {
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  random?: () => number;
  /** Called before each wait, with the error that caused it. */
  onRetry?: (attempt: number, delayMs: number, err: unknown) => void;
}

/**
 * @example
 * const res = await retry(() => postInfer(body), DEFAULT_RETRY, { signal });
 */
export async function retry<T>(
  task: (attempt: number) => Promise<T>,
  policy: RetryPolicy,
  options: { signal?: AbortSignal; shouldRetry?: (err: unknown) => boolean } = {},
  deps: RetryDeps = {},
): Promise<T> {
  const sleep = deps.sleep ?? abortableSleep;
  const random = deps.random ?? Math.random;
  const shouldRetry = options.shouldRetry ?? isRetryable;
  for (let attempt = 0; ; attempt++) {
    throwIfAborted(options.signal);
    try {
      return await task(attempt);
    } catch (err) {
      if (attempt + 1 >= policy.attempts || !shouldRetry(err) || options.signal?.aborted) throw err;
      const retryAfter = err instanceof TandemError && err.retryAfterSeconds !== undefined ? err.retryAfterSeconds * 1000 : undefined;
      const delay = backoffDelay({ baseMs: policy.baseDelayMs, capMs: policy.maxDelayMs }, attempt, random(), retryAfter);
      deps.onRetry?.(attempt + 1, delay, err);
      await sleep(delay, options.signal);
    }
  }
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new TandemError('aborted', 'the operation was aborted', { cause: signal.reason });
}

/** Resolves after `ms`, or rejects with `aborted` as soon as the signal fires. */
export function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new TandemError('aborted', 'the operation was aborted', { cause: signal.reason }));
    const onAbort = () => {
      clearTimeout(timer);
      reject(new TandemError('aborted', 'the operation was aborted', { cause: signal?.reason }));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
