import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { take, takeUpTo, type Bucket, type BucketLimits } from './token-bucket.ts';
import { batchSize, TokenLeases, type Grant } from './rate-lease.ts';

/** A key's bucket as its Durable Object holds it, counting the calls. */
function bucketAt(limits: BucketLimits, clock: { now: number }) {
  let bucket: Bucket | undefined;
  const calls: number[] = [];
  return {
    calls,
    grant: async (max: number): Promise<Grant> => {
      calls.push(max);
      const result = takeUpTo(bucket, clock.now, limits, max);
      bucket = result.bucket;
      return { granted: result.granted, remaining: result.remaining, retryAfterSeconds: result.retryAfterSeconds };
    },
  };
}

/** One key's bucket, this isolate's leases of it, and lease options at the bucket's rate. */
function scene(limits: BucketLimits, maxTokens = 10) {
  const clock = { now: 0 };
  const bucket = bucketAt(limits, clock);
  return { clock, bucket, leases: new TokenLeases(), options: { maxTokens, leaseMs: 1000, ratePerSecond: limits.ratePerSecond } };
}

describe('rate-limit token leases', () => {
  it('asks for at most one lease period of refill, at least one token', () => {
    expect(batchSize({ maxTokens: 10, leaseMs: 1000, ratePerSecond: 100 })).toBe(10);
    expect(batchSize({ maxTokens: 10, leaseMs: 1000, ratePerSecond: 4 })).toBe(4);
    expect(batchSize({ maxTokens: 10, leaseMs: 1000, ratePerSecond: 0.5 })).toBe(1);
    expect(batchSize({ maxTokens: 10, leaseMs: 0, ratePerSecond: 100 })).toBe(1);
  });

  it('admits exactly as many requests as the bucket holds, with one call per batch', async () => {
    const limits = { ratePerSecond: 10, burst: 25 };
    const { clock, bucket, leases, options } = scene(limits);
    const allowed: boolean[] = [];
    for (let i = 0; i < 30; i++) allowed.push((await leases.take('k', clock.now, options, bucket.grant)).allowed);
    expect(allowed.filter(Boolean)).toHaveLength(25);
    expect(allowed.slice(25)).toEqual([false, false, false, false, false]);
    // 10 + 10 + 5 granted, then one refused call per refused request.
    expect(bucket.calls).toHaveLength(3 + 5);
    const refused = await leases.take('k', clock.now, options, bucket.grant);
    expect([refused.allowed, refused.retryAfterSeconds]).toEqual([false, 1]);
  });

  it('never admits more than the bucket would one request at a time, whatever the interleaving', async () => {
    const limits = { ratePerSecond: 20, burst: 10 };
    const options = { maxTokens: 10, leaseMs: 1000, ratePerSecond: limits.ratePerSecond };
    const clock = { now: 0 };
    const bucket = bucketAt(limits, clock);
    const leases = new TokenLeases();
    let exact: Bucket | undefined;
    let admitted = 0;
    let admittedExact = 0;
    for (let step = 0; step < 200; step++) {
      clock.now += (step * 7919) % 37; // uneven arrivals, 0-36 ms apart
      const burst = 1 + (step % 4);
      const results = await Promise.all(Array.from({ length: burst }, () => leases.take('k', clock.now, options, bucket.grant)));
      admitted += results.filter((r) => r.allowed).length;
      for (let i = 0; i < burst; i++) {
        const r = take(exact, clock.now, limits);
        exact = r.bucket;
        if (r.allowed) admittedExact++;
      }
    }
    // Leases may strand tokens (dropped at expiry), never mint them: at most the one-at-a-time count
    // plus one lease period's refill (a leased token is spent up to leaseMs after its grant).
    expect(admitted).toBeLessThanOrEqual(admittedExact + (limits.ratePerSecond * options.leaseMs) / 1000);
    expect(admitted).toBeGreaterThan(admittedExact * 0.8);
  });

  it('admits at most burst + rate × (t + leaseMs) in any window of t across isolates, for any arrivals and settings', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          ratePerSecond: fc.integer({ min: 1, max: 500 }),
          burst: fc.integer({ min: 1, max: 300 }),
          maxTokens: fc.integer({ min: 1, max: 50 }),
          leaseMs: fc.integer({ min: 0, max: 3000 }),
        }),
        // Arrivals: a gap in ms, then that many requests at once, at one of three isolates sharing the key's bucket.
        fc.array(fc.tuple(fc.integer({ min: 0, max: 120 }), fc.integer({ min: 1, max: 8 }), fc.integer({ min: 0, max: 2 })), {
          minLength: 1,
          maxLength: 150,
        }),
        async ({ ratePerSecond, burst, maxTokens, leaseMs }, arrivals) => {
          const limits = { ratePerSecond, burst };
          const clock = { now: 0 };
          const bucket = bucketAt(limits, clock);
          const isolates = [new TokenLeases(), new TokenLeases(), new TokenLeases()];
          const options = { maxTokens, leaseMs, ratePerSecond };
          const admittedAt: number[] = [];
          for (const [gap, count, at] of arrivals) {
            clock.now += gap;
            const leases = isolates[at]!;
            const results = await Promise.all(Array.from({ length: count }, () => leases.take('k', clock.now, options, bucket.grant)));
            for (const r of results) if (r.allowed) admittedAt.push(clock.now);
          }
          for (let i = 0; i < admittedAt.length; i++) {
            for (let j = i; j < admittedAt.length; j++) {
              const windowMs = admittedAt[j]! - admittedAt[i]!;
              expect(j - i + 1).toBeLessThanOrEqual(burst + (ratePerSecond * (windowMs + leaseMs)) / 1000);
            }
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  it('lets concurrent requests share one grant, and drops tokens of an expired lease', async () => {
    const limits = { ratePerSecond: 100, burst: 100 };
    const { clock, bucket, leases, options } = scene(limits);
    const results = await Promise.all(Array.from({ length: 8 }, () => leases.take('k', clock.now, options, bucket.grant)));
    expect(results.every((r) => r.allowed)).toBe(true);
    expect(bucket.calls).toEqual([10]);
    expect(leases.held('k', clock.now)).toBe(2);
    clock.now = 1000;
    expect(leases.held('k', clock.now)).toBe(0);
    await leases.take('k', clock.now, options, bucket.grant);
    expect(bucket.calls).toEqual([10, 10]);
    expect(leases.held('k', clock.now)).toBe(9);
  });

  it('asks a busy key for twice as many tokens each time a lease runs out in time, up to one lease period of refill', async () => {
    const limits = { ratePerSecond: 100, burst: 1000 };
    const { clock, bucket, leases, options } = scene(limits);
    for (let i = 0; i < 250; i++) {
      clock.now = i; // 1,000 requests a second
      expect((await leases.take('k', clock.now, options, bucket.grant)).allowed).toBe(true);
    }
    expect(bucket.calls).toEqual([10, 20, 40, 80, 100]);
  });

  it('gives a new grant a lease period of its own, and starts small again after a lease expires unspent', async () => {
    const limits = { ratePerSecond: 100, burst: 1000 };
    const { clock, bucket, leases, options } = scene(limits);
    for (let i = 0; i < 10; i++) await leases.take('k', 0, options, bucket.grant);
    await leases.take('k', 900, options, bucket.grant);
    expect(bucket.calls).toEqual([10, 20]);
    // Granted at 900, spendable until 1900: the spent lease's end (1000) does not cut it short.
    expect(leases.held('k', 1500)).toBe(19);
    await leases.take('k', 2000, options, bucket.grant);
    expect(bucket.calls).toEqual([10, 20, 10]);
  });

  it('asks one token at a time when maxTokens is 1, however busy the key', async () => {
    const limits = { ratePerSecond: 100, burst: 1000 };
    const options = { maxTokens: 1, leaseMs: 1000, ratePerSecond: limits.ratePerSecond };
    const single = bucketAt(limits, { now: 0 });
    const exact = new TokenLeases();
    for (let i = 0; i < 5; i++) await exact.take('k', 0, options, single.grant);
    expect(single.calls).toEqual([1, 1, 1, 1, 1]);
  });

  it('a failed grant fails the request and is asked again by the next', async () => {
    const leases = new TokenLeases();
    const options = { maxTokens: 10, leaseMs: 1000, ratePerSecond: 100 };
    await expect(leases.take('k', 0, options, async () => Promise.reject(new Error('object unreachable')))).rejects.toThrow(/unreachable/);
    const ok = await leases.take('k', 0, options, async () => ({ granted: 3, remaining: 7, retryAfterSeconds: 0 }));
    expect(ok).toEqual({ allowed: true, remaining: 9, retryAfterSeconds: 0 });
  });
});
