/**
 * Local leases of rate-limit tokens: an isolate takes a key's tokens from its Durable Object in batches
 * and spends them without a round trip, so most requests skip the RPC (on Cloudflare's network the key's
 * object may be a continent away; on loopback it is about 0.1–0.5 ms a request).
 *
 * What stays true: every admitted request spent a token taken from the key's one bucket, so across all
 * isolates a key gets at most `burst + rate × (t + leaseMs)` requests in any window of t seconds (a token
 * is spent up to `leaseMs` after it was taken). What changes: tokens leased to one isolate are not
 * available to others until spent or expired, so with several isolates a key near its limit can be
 * refused a little early; a batch is at most what the key earns in one lease period
 * (`rate × leaseMs`), which bounds that, and keys slower than one token per lease period are asked for
 * one token at a time, exactly as without leases. Unspent tokens of an expired lease are dropped, never
 * handed back: that errs towards refusing, never towards letting traffic through.
 *
 * How big a batch: `maxTokens` at first; an isolate that spends a lease before it expires asks for twice as
 * many next time, up to that cap, so a busy key costs one round trip per few hundred requests rather than
 * one per `maxTokens` (at 10, the round trips were some 60 µs of workerd's CPU per request); a lease that
 * expires unspent starts again at `maxTokens`. `maxTokens: 1` never grows: one token per request.
 */

/** What the key's bucket handed out (RateLimiter.grant). */
export interface Grant {
  granted: number;
  /** Tokens left in the bucket after the grant. */
  remaining: number;
  retryAfterSeconds: number;
}

export interface LeaseDecision {
  allowed: boolean;
  /** Tokens this key has left as far as this isolate knows: the bucket's after the last grant plus the lease's. */
  remaining: number;
  /** Whole seconds until a token is available (0 when allowed). */
  retryAfterSeconds: number;
}

export interface LeaseOptions {
  /** Most tokens to take at once. */
  maxTokens: number;
  /** How long leased tokens may be spent. */
  leaseMs: number;
  /** The key's refill rate, which caps a batch at `ratePerSecond × leaseMs`. */
  ratePerSecond: number;
}

interface Lease {
  tokens: number;
  /** Tokens asked for in the grant that made this lease, which the next ask doubles if they run out in time. */
  asked: number;
  bucketRemaining: number;
  expiresAt: number;
}

/**
 * How many tokens to ask for: at most `maxTokens` and at most one lease period's refill, at least 1.
 * @example
 * batchSize({ maxTokens: 10, leaseMs: 1000, ratePerSecond: 100 }); // 10
 * batchSize({ maxTokens: 10, leaseMs: 1000, ratePerSecond: 0.5 }); // 1
 */
export function batchSize(options: LeaseOptions): number {
  return Math.min(Math.max(1, Math.floor(options.maxTokens)), leaseCap(options));
}

/** The most tokens one grant may take: what the key earns in one lease period, at least 1. */
function leaseCap(options: LeaseOptions): number {
  return Math.max(1, Math.floor((options.ratePerSecond * options.leaseMs) / 1000));
}

/** One isolate's leases, by key. */
export class TokenLeases {
  private readonly leases = new Map<string, Lease>();
  /** A grant in flight per key: concurrent requests wait for it rather than each asking for a batch. */
  private readonly pending = new Map<string, Promise<Grant>>();

  constructor(private readonly maxKeys = 1024) {}

  /**
   * Spends one of `key`'s leased tokens, or asks `grant` for a batch when the lease is empty or expired.
   * Each call asks at most once; a rejected grant (the object unreachable) rejects this call.
   */
  async take(key: string, now: number, options: LeaseOptions, grant: (max: number) => Promise<Grant>): Promise<LeaseDecision> {
    const spent = this.spend(key, now);
    if (spent) return spent;
    const inFlight = this.pending.get(key);
    if (inFlight) {
      await inFlight.catch(() => undefined);
      const after = this.spend(key, now);
      if (after) return after;
    }
    const size = this.nextSize(key, now, options);
    const asked = grant(size).then((result) => {
      this.add(key, result, size, now + options.leaseMs, now);
      return result;
    });
    this.pending.set(key, asked);
    let result: Grant;
    try {
      result = await asked;
    } finally {
      if (this.pending.get(key) === asked) this.pending.delete(key);
    }
    return this.spend(key, now) ?? { allowed: false, remaining: result.remaining, retryAfterSeconds: Math.max(1, result.retryAfterSeconds) };
  }

  /** Tokens held for `key` now (for tests and status). */
  held(key: string, now: number): number {
    const lease = this.leases.get(key);
    return lease && lease.expiresAt > now ? lease.tokens : 0;
  }

  /** `batchSize` at first; twice the last ask when a lease ran out before it expired, up to `leaseCap`. */
  private nextSize(key: string, now: number, options: LeaseOptions): number {
    const first = batchSize(options);
    const lease = this.leases.get(key);
    if (first <= 1 || !lease || lease.expiresAt <= now) return first;
    return Math.min(leaseCap(options), Math.max(first, lease.asked * 2));
  }

  private spend(key: string, now: number): LeaseDecision | undefined {
    const lease = this.leases.get(key);
    if (!lease || lease.expiresAt <= now || lease.tokens < 1) return undefined;
    lease.tokens--;
    return { allowed: true, remaining: lease.bucketRemaining + lease.tokens, retryAfterSeconds: 0 };
  }

  private add(key: string, result: Grant, asked: number, expiresAt: number, now: number): void {
    const current = this.leases.get(key);
    // A spent lease keeps nothing: its expiry must not cut the new tokens' time short.
    const kept = current && current.expiresAt > now && current.tokens >= 1 ? current : undefined;
    this.leases.delete(key);
    if (result.granted < 1 && !kept) return;
    // Tokens already held keep their own expiry: a token is never spent later than leaseMs after its grant.
    this.leases.set(key, {
      tokens: (kept?.tokens ?? 0) + result.granted,
      asked,
      bucketRemaining: result.remaining,
      expiresAt: kept ? Math.min(kept.expiresAt, expiresAt) : expiresAt,
    });
    while (this.leases.size > this.maxKeys) {
      const oldest = this.leases.keys().next().value;
      if (oldest === undefined) break;
      this.leases.delete(oldest);
    }
  }
}
