/**
 * API key middleware: finds the caller's key (hashed, constant-time, remembered once verified;
 * api-keys.ts), checks its scope, and, when `optional`, lets keyless requests through (manifests and
 * artifacts, unless configured). Unknown keys are counted per client address, and an address past
 * `authFailureLimit` of them is refused with 429 for a while (failed-keys.ts).
 */
import type { MiddlewareHandler } from 'hono';
import { TandemError } from '../../protocol/errors.ts';
import { authorize, presentedKey, VerifiedKeyCache, type Scope } from './api-keys.ts';
import { clientAddress, failureBucketName, FailedKeyThrottle } from './failed-keys.ts';
import type { EdgeConfig } from '../config.ts';
import type { EdgeEnv } from '../context.ts';

/** This isolate's blocked addresses. */
const throttle = new FailedKeyThrottle();

/** Verified keys per config: a reloaded config (a changed `API_KEYS`) gets a fresh cache. */
const caches = new WeakMap<EdgeConfig, VerifiedKeyCache>();

function cacheFor(config: EdgeConfig): VerifiedKeyCache {
  let cache = caches.get(config);
  if (!cache) {
    cache = new VerifiedKeyCache(config.apiKeys, config.tuning.apiKeyCacheTtlMs);
    caches.set(config, cache);
  }
  return cache;
}

export interface RequireKeyOptions {
  scope: Scope;
  /** Let requests without a key through. A key that is present must still be valid. Default false. */
  optional?: boolean;
  /** The route parameter naming the model, checked against the key's `models`. */
  modelParam?: string;
}

export function requireKey(options: RequireKeyOptions): MiddlewareHandler<EdgeEnv> {
  const { scope, optional = false, modelParam } = options;
  return async (c, next) => {
    const presented = presentedKey(c.req.raw.headers);
    if (presented === undefined) {
      if (optional) {
        c.set('apiKey', undefined);
        return next();
      }
      throw new TandemError('unauthorized', 'an API key is required (Authorization: Bearer <key>)');
    }
    const { tuning } = c.get('config');
    const address = clientAddress(c.req.raw.headers);
    const blocked = throttle.blockedFor(address, Date.now());
    if (blocked > 0) throw tooManyFailures(blocked);
    const key = await cacheFor(c.get('config')).find(presented, Date.now());
    if (!key) {
      const namespace = c.env.RATE_LIMITER;
      const wait = await throttle.recordFailure(address, Date.now(), { limit: tuning.authFailureLimit, windowMs: tuning.authFailureWindowMs }, (limits, max) =>
        namespace.get(namespace.idFromName(failureBucketName(address))).grant(limits, max),
      );
      if (wait > 0) throw tooManyFailures(wait);
      throw new TandemError('unauthorized', 'unknown API key');
    }
    c.set('apiKey', key);
    authorize(key, scope, modelParam === undefined ? undefined : c.req.param(modelParam));
    await next();
  };
}

function tooManyFailures(seconds: number): TandemError {
  return new TandemError('rate_limited', `too many unknown API keys from this address; try again in ${seconds} s`, { retryAfterSeconds: seconds });
}
