import { describe, expect, it } from 'vitest';
import { effectiveWeights } from './effective-weights.ts';

describe('effective weights', () => {
  it("moves a withheld version's share to the stable version, stable first", () => {
    const withheld = new Map([['1.1.0', { cause: 'not_ready' as const, reason: 'r' }]]);
    const result = effectiveWeights('1.0.0', { '1.2.0': 5, '1.0.0': 85, '1.1.0': 10 }, withheld);
    expect(result.weights).toEqual({ '1.0.0': 95, '1.2.0': 5, '1.1.0': 0 });
    expect(Object.keys(result.weights)[0]).toBe('1.0.0');
    expect(result.zeroed).toEqual([{ version: '1.1.0', configured: 10, cause: 'not_ready', reason: 'r' }]);
  });

  it('never withholds the stable version, and leaves shares alone when nothing is withheld', () => {
    const withheld = new Map([['1.0.0', { cause: 'rolled_back' as const, reason: 'r' }]]);
    expect(effectiveWeights('1.0.0', { '1.0.0': 90, '1.1.0': 10 }, withheld)).toEqual({ weights: { '1.0.0': 90, '1.1.0': 10 }, zeroed: [] });
    expect(effectiveWeights('1.1.0', { '1.0.0': 0, '1.1.0': 100 }, new Map()).weights).toEqual({ '1.1.0': 100, '1.0.0': 0 });
  });
});
