import { describe, expect, it } from 'vitest';
import { backoffDelay, delayWithinDeadline } from './backoff.ts';

describe('backoff', () => {
  const edge = { baseMs: 10, capMs: 200 };

  it('grows exponentially up to the cap', () => {
    expect([0, 1, 3, 10].map((n) => backoffDelay(edge, n, 0.999999))).toEqual([9, 19, 79, 199]);
    expect([0, 1, 2, 3, 4].map((n) => backoffDelay({ baseMs: 100, capMs: 1000 }, n, 0.999999))).toEqual([99, 199, 399, 799, 999]);
  });

  it('jitters over the whole range (full jitter)', () => {
    expect(backoffDelay(edge, 3, 0)).toBe(0);
    expect(backoffDelay({ baseMs: 100, capMs: 1000 }, 1, 0.5)).toBe(100);
    const seen = new Set<number>();
    for (let i = 0; i < 200; i++) seen.add(backoffDelay({ baseMs: 10, capMs: 1000 }, 4, Math.random()));
    expect(seen.size).toBeGreaterThan(50);
    for (const d of seen) expect(d).toBeLessThan(160);
  });

  it('waits at least what Retry-After asks, within the cap', () => {
    expect(backoffDelay({ baseMs: 100, capMs: 1000 }, 0, 0, 500)).toBe(500);
    expect(backoffDelay({ baseMs: 100, capMs: 1000 }, 0, 0, 60_000)).toBe(1000);
  });

  it('never sleeps past the deadline', () => {
    expect(delayWithinDeadline(100, 0, 1000)).toBe(100);
    expect(delayWithinDeadline(100, 950, 1000)).toBe(49);
    expect(delayWithinDeadline(100, 1000, 1000)).toBe(-1);
  });
});
