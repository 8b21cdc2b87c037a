/**
 * Exponential backoff with full jitter (AWS architecture blog, "Exponential Backoff And Jitter"): the delay
 * before retry n is uniform in [0, min(cap, base * 2^n)), so retries from many clients spread out instead
 * of arriving together at a recovering origin.
 */

/**
 * @param retry 0 for the first retry.
 * @param random a number in [0, 1); injectable so tests are deterministic.
 * @example
 * await sleep(backoffDelay(attempt, 10, 200));
 */
export function backoffDelay(retry: number, baseMs: number, capMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.max(0, retry));
  return Math.floor(random() * ceiling);
}

/** The delay clipped so that it leaves `minRemainingMs` before the deadline; negative when there is no time left. */
export function delayWithinDeadline(delayMs: number, now: number, deadline: number, minRemainingMs = 1): number {
  const room = deadline - now - minRemainingMs;
  return room < 0 ? -1 : Math.min(delayMs, room);
}
