/**
 * Per-API-key rate limiting: one Durable Object per key holds that key's token bucket, so every isolate
 * and location draws from the same bucket. The bucket lives in memory: if the object is evicted it comes
 * back full, which errs towards letting traffic through, never towards refusing it. Edges take tokens in
 * batches (`grant`) and spend them locally (rate-lease.ts).
 */
import { DurableObject } from 'cloudflare:workers';
import { take, takeUpTo, type Bucket, type BucketLimits, type GrantResult, type TakeResult } from './token-bucket.ts';

export class RateLimiter extends DurableObject {
  private bucket: Bucket | undefined;

  /** Takes one token; called over RPC by edges of the previous release while a deploy rolls out (this one calls `grant`). */
  take(limits: BucketLimits): Omit<TakeResult, 'bucket'> {
    const result = take(this.bucket, Date.now(), limits);
    this.bucket = result.bucket;
    return { allowed: result.allowed, remaining: result.remaining, retryAfterSeconds: result.retryAfterSeconds };
  }

  /** Takes up to `max` tokens at once, for an edge isolate's local lease (rate-lease.ts); called over RPC. */
  grant(limits: BucketLimits, max: number): Omit<GrantResult, 'bucket'> {
    const result = takeUpTo(this.bucket, Date.now(), limits, max);
    this.bucket = result.bucket;
    return { granted: result.granted, remaining: result.remaining, retryAfterSeconds: result.retryAfterSeconds };
  }
}
