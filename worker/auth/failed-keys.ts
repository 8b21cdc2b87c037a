/**
 * Guessing API keys, throttled per client address: every request that presents a key the edge does not
 * know takes a token from that address's bucket (a RateLimiter Durable Object, the same token buckets
 * that limit each key's rate), which holds `authFailureLimit` tokens and refills that many per
 * `authFailureWindowMs`. With the bucket empty, the address is refused with 429 `rate_limited` and
 * `Retry-After` for any key, valid or not, until a token is back: otherwise a guess that happens to be
 * right would still get through at full speed. Requests with a key the edge knows cost nothing (no
 * round trip); this isolate remembers a blocked address, so only failures ask the object.
 *
 * The address is Cloudflare's `CF-Connecting-IP`. Under `wrangler dev` without it, every client shares
 * one constant address. Addresses behind one NAT share a bucket: a client that keeps presenting a wrong
 * key can hold up its neighbours' keyed requests for up to one window.
 */
import type { BucketLimits } from '../rate-limit/token-bucket.ts';
import type { Grant } from '../rate-limit/rate-lease.ts';

/** The address of requests that carry no `CF-Connecting-IP` (development). */
export const UNKNOWN_ADDRESS = 'unknown-address';

/** The client's address, for throttling only (never logged). */
export function clientAddress(headers: Headers): string {
  return headers.get('cf-connecting-ip')?.trim() || UNKNOWN_ADDRESS;
}

export interface FailedKeyLimits {
  /** Failed keys an address may present at once before it is refused. */
  limit: number;
  /** How long the bucket takes to refill from empty, ms. */
  windowMs: number;
}

/** The bucket of `limits`: `limit` tokens, refilled at `limit` per window. */
export function failureBucket(limits: FailedKeyLimits): BucketLimits {
  return { burst: limits.limit, ratePerSecond: limits.limit / Math.max(0.001, limits.windowMs / 1000) };
}

/** The Durable Object name of an address's bucket (keys' buckets are named by their hash: no overlap). */
export function failureBucketName(address: string): string {
  return `failed-keys:${address}`;
}

/** One isolate's view of blocked addresses. */
export class FailedKeyThrottle {
  private readonly blockedUntil = new Map<string, number>();

  constructor(private readonly maxAddresses = 4096) {}

  /** Whole seconds this address is still refused for, or 0. */
  blockedFor(address: string, now: number): number {
    const until = this.blockedUntil.get(address);
    if (until === undefined) return 0;
    if (until <= now) {
      this.blockedUntil.delete(address);
      return 0;
    }
    return Math.max(1, Math.ceil((until - now) / 1000));
  }

  /**
   * Counts one failed key against `address`: takes a token through `grant` (the address's bucket).
   * @returns 0 when the failure was within the limit, else the seconds the address is now refused for.
   * A bucket that cannot be reached lets the failure through as a plain 401 (and logs).
   */
  async recordFailure(address: string, now: number, limits: FailedKeyLimits, grant: (limits: BucketLimits, max: number) => Promise<Grant>): Promise<number> {
    let result: Grant;
    try {
      result = await grant(failureBucket(limits), 1);
    } catch (err) {
      console.warn(JSON.stringify({ event: 'failed_key_bucket_unreachable', message: String(err) }));
      return 0;
    }
    if (result.granted >= 1) return 0;
    const seconds = Math.max(1, result.retryAfterSeconds);
    this.blockedUntil.delete(address);
    this.blockedUntil.set(address, now + seconds * 1000);
    while (this.blockedUntil.size > this.maxAddresses) {
      const oldest = this.blockedUntil.keys().next().value;
      if (oldest === undefined) break;
      this.blockedUntil.delete(oldest);
    }
    return seconds;
  }
}
