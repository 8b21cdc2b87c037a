/**
 * A circuit breaker per origin, as plain data and pure transitions (the caller owns the clock).
 *
 * closed --N consecutive failures--> open --cooldown--> half-open (one probe at a time)
 * half-open --probe succeeds--> closed;  half-open --probe fails--> open (cooldown restarts)
 */

export type BreakerState = 'closed' | 'open' | 'half-open';

export interface Breaker {
  state: BreakerState;
  consecutiveFailures: number;
  /** When the breaker last opened (ms). */
  openedAt: number;
  /** Whether the half-open probe is in flight. */
  probing: boolean;
}

export interface BreakerOptions {
  failureThreshold: number;
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

/** Whether a request may go to this origin now (a half-open breaker admits one probe at a time). */
export function canAttempt(b: Breaker, now: number, options: BreakerOptions): boolean {
  const state = currentState(b, now, options);
  return state === 'closed' || (state === 'half-open' && !b.probing);
}

/** Marks an attempt as started; returns the breaker to record its outcome on. */
export function beginAttempt(b: Breaker, now: number, options: BreakerOptions): Breaker {
  if (currentState(b, now, options) === 'half-open') return { ...b, state: 'half-open', probing: true };
  return b;
}

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
