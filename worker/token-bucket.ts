/**
 * Token bucket arithmetic, pure: a bucket refills at `ratePerSecond` up to `burst`, and each request takes
 * one token. The Durable Object in `rate-limiter.ts` holds one bucket per API key.
 */

export interface Bucket {
  tokens: number;
  /** When `tokens` was last brought up to date (ms). */
  updatedAt: number;
}

export interface BucketLimits {
  ratePerSecond: number;
  burst: number;
}

export interface TakeResult {
  allowed: boolean;
  bucket: Bucket;
  /** Tokens left after this take. */
  remaining: number;
  /** Whole seconds until a token is available (0 when allowed), for `Retry-After`. */
  retryAfterSeconds: number;
}

export function refill(bucket: Bucket | undefined, now: number, limits: BucketLimits): Bucket {
  if (!bucket) return { tokens: limits.burst, updatedAt: now };
  const elapsed = Math.max(0, now - bucket.updatedAt) / 1000;
  return { tokens: Math.min(limits.burst, bucket.tokens + elapsed * limits.ratePerSecond), updatedAt: now };
}

/** Takes `cost` tokens if there are enough. */
export function take(bucket: Bucket | undefined, now: number, limits: BucketLimits, cost = 1): TakeResult {
  const current = refill(bucket, now, limits);
  if (current.tokens >= cost) {
    const next = { tokens: current.tokens - cost, updatedAt: now };
    return { allowed: true, bucket: next, remaining: Math.floor(next.tokens), retryAfterSeconds: 0 };
  }
  const wait = (cost - current.tokens) / limits.ratePerSecond;
  return { allowed: false, bucket: current, remaining: Math.floor(current.tokens), retryAfterSeconds: Math.max(1, Math.ceil(wait)) };
}
