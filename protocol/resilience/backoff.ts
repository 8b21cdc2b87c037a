/**
 * Exponential backoff with full jitter (AWS architecture blog, "Exponential Backoff And Jitter"), for every
 * tier that retries: the delay before retry n is uniform in [0, min(cap, base · 2^n)), so retries from many
 * callers spread out instead of arriving together at a recovering server. A server's `Retry-After` raises
 * the delay to at least what it asked (within the cap); a deadline clips it.
 */

export interface BackoffOptions {
  /** The first retry's ceiling, ms. */
  baseMs: number;
  /** The largest delay, ms. */
  capMs: number;
}

/**
 * @param retry 0 for the first retry.
 * @param random a number in [0, 1) (the caller's `Math.random()`, or a fixed one in tests).
 * @param retryAfterMs what the server asked for, if it did.
 * @example
 * await sleep(backoffDelay({ baseMs: 10, capMs: 200 }, attempt, Math.random()));
 */
export function backoffDelay(options: BackoffOptions, retry: number, random: number, retryAfterMs?: number): number {
  const ceiling = Math.min(options.capMs, options.baseMs * 2 ** Math.max(0, retry));
  const jittered = Math.floor(random * ceiling);
  return retryAfterMs === undefined ? jittered : Math.max(jittered, Math.min(retryAfterMs, options.capMs));
}

/** The delay clipped so that it leaves `minRemainingMs` before the deadline; negative when there is no time left. */
export function delayWithinDeadline(delayMs: number, now: number, deadline: number, minRemainingMs = 1): number {
  const room = deadline - now - minRemainingMs;
  return room < 0 ? -1 : Math.min(delayMs, room);
}
