import { describe, expect, it } from 'vitest';
import { backoffDelay, delayWithinDeadline } from './backoff.ts';

describe('backoff', () => {
  it('grows exponentially up to the cap', () => {
    const max = () => 0.999999;
    expect(backoffDelay(0, 10, 200, max)).toBe(9);
    expect(backoffDelay(1, 10, 200, max)).toBe(19);
    expect(backoffDelay(3, 10, 200, max)).toBe(79);
    expect(backoffDelay(10, 10, 200, max)).toBe(199);
  });

  it('jitters over the whole range (full jitter)', () => {
    expect(backoffDelay(3, 10, 200, () => 0)).toBe(0);
    const seen = new Set<number>();
    for (let i = 0; i < 200; i++) seen.add(backoffDelay(4, 10, 1000, Math.random));
    expect(seen.size).toBeGreaterThan(50);
    for (const d of seen) expect(d).toBeLessThan(160);
  });

  it('never sleeps past the deadline', () => {
    expect(delayWithinDeadline(100, 0, 1000)).toBe(100);
    expect(delayWithinDeadline(100, 950, 1000)).toBe(49);
    expect(delayWithinDeadline(100, 1000, 1000)).toBe(-1);
  });
});
