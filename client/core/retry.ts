/**
 * Retries with exponential backoff and full jitter (each delay uniform in [0, min(cap, base·2^attempt)]),
 * the scheme that spreads a crowd of clients best. Only errors the caller calls transient are retried; an
 * abort stops the wait at once. A server's `Retry-After` raises the delay to at least what it asked for.
 */
import { TandemError, type ErrorCode } from '../../protocol/errors.ts';

export interface RetryPolicy {
  /** Attempts in all, the first included. Default 3. */
  attempts: number;
  /** First backoff ceiling, ms. Default 200. */
  baseDelayMs: number;
  /** Largest backoff, ms. Default 5000. */
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 3, baseDelayMs: 200, maxDelayMs: 5000 };

/** Codes worth another try: the server or the path to it may recover. */
const TRANSIENT: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['origin_unavailable', 'overloaded', 'shutting_down', 'rate_limited', 'deadline_exceeded', 'internal']);

export function isTransient(err: unknown): boolean {
  return err instanceof TandemError && TRANSIENT.has(err.code);
}

/** The delay before retry number `attempt` (0-based), given a random number in [0, 1). */
export function backoffDelay(policy: RetryPolicy, attempt: number, random: number, retryAfterMs?: number): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** attempt);
  const jittered = Math.floor(random * ceiling);
  return retryAfterMs === undefined ? jittered : Math.max(jittered, Math.min(retryAfterMs, policy.maxDelayMs));
}

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
  const shouldRetry = options.shouldRetry ?? isTransient;
  for (let attempt = 0; ; attempt++) {
    throwIfAborted(options.signal);
    try {
      return await task(attempt);
    } catch (err) {
      if (attempt + 1 >= policy.attempts || !shouldRetry(err) || options.signal?.aborted) throw err;
      const retryAfter = err instanceof TandemError && err.retryAfterSeconds !== undefined ? err.retryAfterSeconds * 1000 : undefined;
      const delay = backoffDelay(policy, attempt, random(), retryAfter);
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
