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
  /** The vars the config was made from, in `CONFIG_VARS` order. */
  source: (string | undefined)[];
  config: Promise<EdgeConfig>;
  pool?: OriginPool;
}

let state: EdgeState | undefined;
const originList = new OriginListCache();

/** This isolate's copy of the stored origin list override (the admin routes write through it). */
export function originListCache(): OriginListCache {
  return originList;
}

const CONFIG_VARS = ['ORIGINS', 'ORIGIN_TOKEN', 'TRUSTED_KEYS', 'ROOT_KEYS', 'CANARY', 'API_KEYS', 'REQUIRE_KEY_FOR_CATALOG', 'TUNING'] as const;

/**
 * Whether `env` holds the vars `source` was taken from. Compared var by var on every request, rather than
 * by a signature string: joining the vars (the key lists are kilobytes) into one was about half of this
 * middleware's time in the isolate's profile (docs/performance.md).
 */
function sameSource(env: ConfigSource, source: readonly (string | undefined)[]): boolean {
  for (let i = 0; i < CONFIG_VARS.length; i++) if (env[CONFIG_VARS[i]!] !== source[i]) return false;
  return true;
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
  if (!state || !sameSource(env, state.source)) {
    const config = loadEdgeConfig(env);
    state = { source: CONFIG_VARS.map((name) => env[name]), config };
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
