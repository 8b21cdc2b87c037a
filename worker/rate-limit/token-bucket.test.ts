import { describe, expect, it } from 'vitest';
import { take, takeUpTo, type Bucket } from './token-bucket.ts';

const limits = { ratePerSecond: 2, burst: 3 };

describe('token bucket', () => {
  it('allows a burst, then refuses with Retry-After', () => {
    let bucket: Bucket | undefined;
    for (let i = 0; i < 3; i++) {
      const r = take(bucket, 0, limits);
      expect(r.allowed).toBe(true);
      bucket = r.bucket;
    }
    const refused = take(bucket, 0, limits);
    expect(refused.allowed).toBe(false);
    expect(refused.retryAfterSeconds).toBe(1);
  });

  it('refills at the rate, up to the burst', () => {
    let bucket = take(undefined, 0, limits).bucket;
    bucket = take(bucket, 0, limits).bucket;
    bucket = take(bucket, 0, limits).bucket;
    expect(take(bucket, 400, limits).allowed).toBe(false);
    expect(take(bucket, 500, limits).allowed).toBe(true);
    expect(take(bucket, 60_000, limits).remaining).toBe(2);
  });

  it('rounds Retry-After up to whole seconds', () => {
    const slow = { ratePerSecond: 0.25, burst: 1 };
    const empty = take(undefined, 0, slow).bucket;
    expect(take(empty, 0, slow).retryAfterSeconds).toBe(4);
  });

  it('grants all whole tokens there are, up to the batch, and none past the bucket', () => {
    const first = takeUpTo(undefined, 0, limits, 10);
    expect([first.granted, first.remaining]).toEqual([3, 0]);
    const empty = takeUpTo(first.bucket, 0, limits, 10);
    expect([empty.granted, empty.retryAfterSeconds]).toEqual([0, 1]);
    // 1.5 tokens refilled after 750 ms: one whole token, the half stays in the bucket.
    const partial = takeUpTo(empty.bucket, 750, limits, 10);
    expect(partial.granted).toBe(1);
    expect(takeUpTo(partial.bucket, 1000, limits, 10).granted).toBe(1);
    expect(takeUpTo(undefined, 0, limits, 2).granted).toBe(2);
  });
});
