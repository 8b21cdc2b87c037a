/**
 * The circuit breaker every tier uses, as plain data and pure transitions over a clock the caller passes
 * in: the edge keeps one per origin (worker/origin-pool/pool.ts), the client one for its path to the edge
 * (`createCircuitBreaker`, a small stateful wrapper over the same transitions).
 *
 * closed --N consecutive failures--> open --cooldown--> half-open (one probe at a time)
 * half-open --probe succeeds--> closed;  half-open --probe fails--> open (cooldown restarts)
 *
 * What counts as a failure is the caller's to say; `isServerFailure` (protocol/errors.ts) is the rule both
 * tiers pass: transport failures, timeouts and retryable 5xx, never a typed answer about one request.
 */
import { TandemError } from '../errors.ts';

export type BreakerState = 'closed' | 'open' | 'half-open';

export interface Breaker {
  state: BreakerState;
  consecutiveFailures: number;
  /** When the breaker last opened (ms, on the caller's clock). */
  openedAt: number;
  /** Whether the half-open probe is in flight. */
  probing: boolean;
}

export interface BreakerOptions {
  /** Consecutive failures that open the breaker. */
  failureThreshold: number;
  /** How long it stays open before one probe is let through, ms. */
  cooldownMs: number;
}

export function newBreaker(): Breaker {
  return { state: 'closed', consecutiveFailures: 0, openedAt: 0, probing: false };
}

/** The state as of `now`: an open breaker past its cooldown reads as half-open. */
export function currentState(b: Breaker, now: number, options: BreakerOptions): BreakerState {
  if (b.state === 'open' && now - b.openedAt >= options.cooldownMs) return 'half-open';
  return b.state;
}

/** Whether a request may go through now (a half-open breaker admits one probe at a time). */
export function canAttempt(b: Breaker, now: number, options: BreakerOptions): boolean {
  const state = currentState(b, now, options);
  return state === 'closed' || (state === 'half-open' && !b.probing);
}

/** Marks an attempt as started; returns the breaker to record its outcome on. */
export function beginAttempt(b: Breaker, now: number, options: BreakerOptions): Breaker {
  if (currentState(b, now, options) === 'half-open') return { ...b, state: 'half-open', probing: true };
  return b;
}

/** The upstream answered: closed, count reset. */
export function recordSuccess(_b: Breaker): Breaker {
  return newBreaker();
}

export function recordFailure(b: Breaker, now: number, options: BreakerOptions): Breaker {
  const failures = b.consecutiveFailures + 1;
  if (b.state === 'half-open' || failures >= options.failureThreshold) {
    return { state: 'open', consecutiveFailures: failures, openedAt: now, probing: false };
  }
  return { ...b, consecutiveFailures: failures };
}

/** An attempt that ended with no verdict on the upstream (the caller went away): only the probe ends. */
export function recordAbandoned(b: Breaker): Breaker {
  return b.probing ? { ...b, probing: false } : b;
}

/** Milliseconds until an open breaker lets a probe through (0 when it would now). */
export function msUntilProbe(b: Breaker, now: number, options: BreakerOptions): number {
  return b.state === 'open' ? Math.max(0, options.cooldownMs - (now - b.openedAt)) : 0;
}

export interface CircuitBreaker {
  readonly state: BreakerState;
  /** Runs `task` through the breaker. @throws TandemError `origin_unavailable` while open. */
  call<T>(task: () => Promise<T>): Promise<T>;
  reset(): void;
}

/**
 * One breaker guarding one upstream, for callers that run their requests through it.
 * @param countsAsFailure which errors mean the upstream is unwell (default: all); pass `isServerFailure`.
 * An error that does not count ends a half-open probe as a success: the upstream answered.
 * @param now the clock, ms. Default `Date.now`.
 * @example
 * const breaker = createCircuitBreaker(DEFAULT_BREAKER, isServerFailure);
 * const out = await breaker.call(() => fetchInfer());
 */
export function createCircuitBreaker(
  options: BreakerOptions,
  countsAsFailure: (err: unknown) => boolean = () => true,
  now: () => number = () => Date.now(),
): CircuitBreaker {
  let breaker = newBreaker();
  return {
    get state() {
      return currentState(breaker, now(), options);
    },
    async call(task) {
      const started = now();
      if (!canAttempt(breaker, started, options)) {
        const waitS = Math.ceil(msUntilProbe(breaker, started, options) / 1000);
        throw new TandemError('origin_unavailable', `the origin circuit is open after ${breaker.consecutiveFailures} consecutive failures`, {
          retryAfterSeconds: waitS,
        });
      }
      breaker = beginAttempt(breaker, started, options);
      const trial = breaker.probing;
      try {
        const result = await task();
        breaker = recordSuccess(breaker);
        return result;
      } catch (err) {
        if (countsAsFailure(err)) breaker = recordFailure(breaker, now(), options);
        else if (trial) breaker = recordSuccess(breaker);
        throw err;
      }
    },
    reset() {
      breaker = newBreaker();
    },
  };
}
