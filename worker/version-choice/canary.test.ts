import { describe, expect, it } from 'vitest';
import { BUCKETS, bucketOf, chooseVersion, hash32, parseCanary } from './canary.ts';

describe('canary', () => {
  const canary = parseCanary({ m: { '1.0.0': 90, '1.1.0': 10 } });

  it('splits clients by weight within tolerance', () => {
    let canaries = 0;
    for (let i = 0; i < 10_000; i++) if (chooseVersion(canary, 'm', `client-${i}`) === '1.1.0') canaries++;
    expect(canaries).toBeGreaterThan(900);
    expect(canaries).toBeLessThan(1100);
  });

  it('is sticky: a client always gets the same version', () => {
    for (let i = 0; i < 100; i++) {
      const first = chooseVersion(canary, 'm', `c${i}`);
      for (let j = 0; j < 5; j++) expect(chooseVersion(canary, 'm', `c${i}`)).toBe(first);
    }
  });

  it('leaves models without a canary to the default version', () => {
    expect(chooseVersion(canary, 'other', 'c')).toBeUndefined();
  });

  it('sends everyone to a version of weight 100 and no one to weight 0', () => {
    const all = parseCanary({ m: { '1.0.0': 0, '2.0.0': 100 } });
    for (let i = 0; i < 200; i++) expect(chooseVersion(all, 'm', `c${i}`)).toBe('2.0.0');
  });

  it('spreads buckets evenly and stays in range', () => {
    const counts = new Array<number>(10).fill(0);
    for (let i = 0; i < 20_000; i++) {
      const b = bucketOf('m', `id-${i}`);
      expect(b).toBeGreaterThanOrEqual(0);
      expect(b).toBeLessThan(BUCKETS);
      counts[Math.floor(b / (BUCKETS / 10))]!++;
    }
    for (const n of counts) expect(Math.abs(n - 2000)).toBeLessThan(200);
    expect(hash32('a')).not.toBe(hash32('b'));
  });

  it('rejects bad weights at load', () => {
    expect(() => parseCanary({ m: { '1.0.0': -1 } })).toThrow(/>= 0/);
    expect(() => parseCanary({ m: { '1.0.0': 0 } })).toThrow(/not all be 0/);
    expect(() => parseCanary([])).toThrow();
  });

  it("rejects versions and model ids that are not the manifest's, which would travel into paths and headers", () => {
    expect(() => parseCanary({ m: { '1.0.0\n': 100 } })).toThrow(/not a semantic version/);
    expect(() => parseCanary({ m: { latest: 100 } })).toThrow(/not a semantic version/);
    expect(() => parseCanary({ 'M/x': { '1.0.0': 100 } })).toThrow(/not a model id/);
  });

  it('runs in workerd', () => {
    expect(typeof (globalThis as { WebSocketPair?: unknown }).WebSocketPair).toBe('function');
  });
});
