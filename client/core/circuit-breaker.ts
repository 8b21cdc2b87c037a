/**
 * A circuit breaker on the origin. After `failureThreshold` consecutive failures it opens: calls fail
 * fast (so `prefer-device` and stale fallbacks answer at once instead of waiting on timeouts) until
 * `cooldownMs` has passed; then one trial call is let through (half-open). Its success closes the
 * breaker, its failure opens it for another cooldown.
 */
import { TandemError } from '../../protocol/errors.ts';

export type BreakerState = 'closed' | 'open' | 'half-open';

export interface BreakerOptions {
  /** Consecutive failures that open the breaker. Default 5. */
  failureThreshold: number;
  /** How long it stays open, ms. Default 30000. */
  cooldownMs: number;
}

export const DEFAULT_BREAKER: BreakerOptions = { failureThreshold: 5, cooldownMs: 30_000 };

export interface CircuitBreaker {
  readonly state: BreakerState;
  /** Runs `task` through the breaker. @throws TandemError `origin_unavailable` while open. */
  call<T>(task: () => Promise<T>): Promise<T>;
  reset(): void;
}

/**
 * @param countsAsFailure which errors mean the origin is unwell (default: all). A 400 from a bad input
 * says nothing about the origin's health and should not open the breaker.
 * @example
 * const breaker = createCircuitBreaker(DEFAULT_BREAKER);
 * const out = await breaker.call(() => fetchInfer());
 */
export function createCircuitBreaker(
  options: BreakerOptions,
  countsAsFailure: (err: unknown) => boolean = () => true,
  now: () => number = Date.now,
): CircuitBreaker {
  let failures = 0;
  let openedAt = 0;
  let state: BreakerState = 'closed';
  let trialInFlight = false;

  const currentState = (): BreakerState => {
    if (state === 'open' && now() - openedAt >= options.cooldownMs) state = 'half-open';
    return state;
  };

  return {
    get state() {
      return currentState();
    },
    async call(task) {
      const s = currentState();
      if (s === 'open' || (s === 'half-open' && trialInFlight)) {
        const waitS = Math.max(0, Math.ceil((options.cooldownMs - (now() - openedAt)) / 1000));
        throw new TandemError('origin_unavailable', `the origin circuit is open after ${failures} consecutive failures`, { retryAfterSeconds: waitS });
      }
      const trial = s === 'half-open';
      if (trial) trialInFlight = true;
      try {
        const result = await task();
        failures = 0;
        state = 'closed';
        return result;
      } catch (err) {
        if (countsAsFailure(err)) {
          failures++;
          if (trial || failures >= options.failureThreshold) {
            state = 'open';
            openedAt = now();
          }
        } else if (trial) {
          state = 'closed';
        }
        throw err;
      } finally {
        if (trial) trialInFlight = false;
      }
    },
    reset() {
      failures = 0;
      state = 'closed';
    },
  };
}
