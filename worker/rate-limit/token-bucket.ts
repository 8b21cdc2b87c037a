/**
 * Token bucket arithmetic, pure: a bucket refills at `ratePerSecond` up to `burst`, and each request takes
 * one token. The Durable Object in `rate-limiter.ts` holds one bucket per API key and hands tokens out in
 * batches (`takeUpTo`) that the edge spends locally (`rate-lease.ts`).
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

/** Takes one token if there is one: a grant of at most one. */
export function take(bucket: Bucket | undefined, now: number, limits: BucketLimits): TakeResult {
  const { granted, bucket: next, remaining, retryAfterSeconds } = takeUpTo(bucket, now, limits, 1);
  return { allowed: granted === 1, bucket: next, remaining, retryAfterSeconds };
}

export interface GrantResult {
  /** Whole tokens handed out, 0 to `max`: all there are, up to `max`. */
  granted: number;
  bucket: Bucket;
  /** Tokens left in the bucket after the grant. */
  remaining: number;
  /** Whole seconds until one token is available (0 when some were granted), for `Retry-After`. */
  retryAfterSeconds: number;
}

/**
 * Takes as many whole tokens as there are, up to `max` (at least 1 is asked for).
 * @example
 * takeUpTo(undefined, 0, { ratePerSecond: 1, burst: 5 }, 10).granted; // 5
 */
export function takeUpTo(bucket: Bucket | undefined, now: number, limits: BucketLimits, max: number): GrantResult {
  const current = refill(bucket, now, limits);
  const granted = Math.min(Math.max(1, Math.floor(max)), Math.floor(current.tokens));
  if (granted >= 1) {
    const next = { tokens: current.tokens - granted, updatedAt: now };
    return { granted, bucket: next, remaining: Math.floor(next.tokens), retryAfterSeconds: 0 };
  }
  const wait = (1 - current.tokens) / limits.ratePerSecond;
  return { granted: 0, bucket: current, remaining: 0, retryAfterSeconds: Math.max(1, Math.ceil(wait)) };
}
