/**
 * Per-key rate limiting: spends a token of the key's bucket, held by its RateLimiter Durable Object and
 * leased to this isolate in batches (rate-lease.ts: the limit's semantics with leases); over the rate, the
 * request is refused with 429 `rate_limited` and `Retry-After`. Requests without a key are not limited
 * here (only routes where keys are optional have them).
 */
import type { MiddlewareHandler } from 'hono';
import { TandemError } from '../../protocol/errors.ts';
import type { EdgeEnv } from '../context.ts';
import { TokenLeases } from './rate-lease.ts';

/** This isolate's leases, by key hash. */
const leases = new TokenLeases();

export function rateLimit(): MiddlewareHandler<EdgeEnv> {
  return async (c, next) => {
    const key = c.get('apiKey');
    if (!key) return next();
    const { tuning } = c.get('config');
    const limits = { ratePerSecond: key.ratePerSecond ?? tuning.rateLimitPerSecond, burst: key.burst ?? tuning.rateLimitBurst };
    const namespace = c.env.RATE_LIMITER;
    const result = await leases.take(
      key.sha256,
      Date.now(),
      { maxTokens: tuning.rateLimitLeaseTokens, leaseMs: tuning.rateLimitLeaseMs, ratePerSecond: limits.ratePerSecond },
      (max) => namespace.get(namespace.idFromName(key.sha256)).grant(limits, max),
    );
    c.header('x-ratelimit-remaining', String(result.remaining));
    if (!result.allowed) {
      throw new TandemError('rate_limited', `API key "${key.name}" is over ${limits.ratePerSecond} requests/s`, {
        retryAfterSeconds: result.retryAfterSeconds,
      });
    }
    await next();
  };
}
