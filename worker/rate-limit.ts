/**
 * Per-key rate limiting: asks the key's RateLimiter Durable Object for a token; over the rate, the
 * request is refused with 429 `rate_limited` and `Retry-After`. Requests without a key are not limited
 * here (only routes where keys are optional have them).
 */
import type { MiddlewareHandler } from 'hono';
import { TandemError } from '../protocol/errors.ts';
import type { EdgeEnv } from './context.ts';

export function rateLimit(): MiddlewareHandler<EdgeEnv> {
  return async (c, next) => {
    const key = c.get('apiKey');
    if (!key) return next();
    const { tuning } = c.get('config');
    const limits = { ratePerSecond: key.ratePerSecond ?? tuning.rateLimitPerSecond, burst: key.burst ?? tuning.rateLimitBurst };
    const stub = c.env.RATE_LIMITER.get(c.env.RATE_LIMITER.idFromName(key.sha256));
    const result = await stub.take(limits);
    c.header('x-ratelimit-remaining', String(result.remaining));
    if (!result.allowed) {
      throw new TandemError('rate_limited', `API key "${key.name}" is over ${limits.ratePerSecond} requests/s`, {
        retryAfterSeconds: result.retryAfterSeconds,
      });
    }
    await next();
  };
}
