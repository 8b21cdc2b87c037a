/**
 * Per-API-key rate limiting: one Durable Object per key holds that key's token bucket, so every isolate
 * and location draws from the same bucket. The bucket lives in memory: if the object is evicted it comes
 * back full, which errs towards letting traffic through, never towards refusing it.
 */
import { DurableObject } from 'cloudflare:workers';
import { take, type Bucket, type BucketLimits, type TakeResult } from './token-bucket.ts';

export class RateLimiter extends DurableObject {
  private bucket: Bucket | undefined;

  /** Takes one token; called over RPC from the edge. */
  take(limits: BucketLimits): Omit<TakeResult, 'bucket'> {
    const result = take(this.bucket, Date.now(), limits);
    this.bucket = result.bucket;
    return { allowed: result.allowed, remaining: result.remaining, retryAfterSeconds: result.retryAfterSeconds };
  }
}
