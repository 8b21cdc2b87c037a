/**
 * The isolate's parsed config and origin pool, made once from `Env` and again only when a var changes
 * (`wrangler dev` reloads vars in place). Bad config is rejected at the first request with the var named.
 * The pool's origins are `ORIGINS`, or the override an admin stored in R2 (origin-pool/origin-list.ts).
 */
import type { MiddlewareHandler } from 'hono';
import { loadEdgeConfig, type ConfigSource, type EdgeConfig } from '../config.ts';
import type { EdgeEnv } from '../context.ts';
import { OriginListCache, type OriginListStore } from '../origin-pool/origin-list.ts';
import { OriginPool } from '../origin-pool/pool.ts';

interface EdgeState {
  signature: string;
  config: Promise<EdgeConfig>;
  pool?: OriginPool;
}

let state: EdgeState | undefined;
const originList = new OriginListCache();

/** This isolate's copy of the stored origin list override (the admin routes write through it). */
export function originListCache(): OriginListCache {
  return originList;
}

function signatureOf(env: ConfigSource): string {
  const { ORIGINS, ORIGIN_TOKEN, TRUSTED_KEYS, ROOT_KEYS, CANARY, API_KEYS, REQUIRE_KEY_FOR_CATALOG, TUNING } = env;
  return JSON.stringify([ORIGINS, ORIGIN_TOKEN, TRUSTED_KEYS, ROOT_KEYS, CANARY, API_KEYS, REQUIRE_KEY_FOR_CATALOG, TUNING]);
}

/**
 * @param store where an origin list override may be stored (the MODELS bucket); without it, `ORIGINS` alone.
 * @param waitUntil receives background refreshes of the override.
 */
export async function edgeState(
  env: ConfigSource,
  store?: OriginListStore,
  waitUntil: (promise: Promise<unknown>) => void = () => undefined,
): Promise<{ config: EdgeConfig; pool: OriginPool }> {
  const signature = signatureOf(env);
  if (state?.signature !== signature) {
    const config = loadEdgeConfig(env);
    state = { signature, config };
    // A failed load is not kept: the next request tries again (and fails the same way until fixed).
    config.catch(() => {
      if (state?.config === config) state = undefined;
    });
  }
  const current = state;
  const config = await current.config;
  current.pool ??= new OriginPool(config.origins, {
    failureThreshold: config.tuning.breakerFailureThreshold,
    cooldownMs: config.tuning.breakerCooldownMs,
  });
  if (store) {
    const wanted = (await originList.current(store, config.tuning.originListTtlMs, Date.now(), waitUntil)) ?? config.origins;
    const urls = current.pool.urls();
    if (urls.length !== wanted.length || urls.some((url, i) => url !== wanted[i])) current.pool.setOrigins(wanted);
  }
  return { config, pool: current.pool };
}

/** Puts `config` and `pool` on the context. */
export function withEdgeState(): MiddlewareHandler<EdgeEnv> {
  return async (c, next) => {
    const waitUntil = (promise: Promise<unknown>) => {
      try {
        c.executionCtx.waitUntil(promise);
      } catch {
        // No execution context (a test calling the app bare): the refresh just runs.
      }
    };
    const { config, pool } = await edgeState(c.env, c.env.MODELS, waitUntil);
    c.set('config', config);
    c.set('pool', pool);
    await next();
  };
}
