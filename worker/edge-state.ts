/**
 * The isolate's parsed config and origin pool, made once from `Env` and again only when a var changes
 * (`wrangler dev` reloads vars in place). Bad config is rejected at the first request with the var named.
 */
import type { MiddlewareHandler } from 'hono';
import { loadEdgeConfig, type ConfigSource, type EdgeConfig } from './config.ts';
import type { EdgeEnv } from './context.ts';
import { OriginPool } from './origin-pool.ts';

interface EdgeState {
  signature: string;
  config: Promise<EdgeConfig>;
  pool?: OriginPool;
}

let state: EdgeState | undefined;

function signatureOf(env: ConfigSource): string {
  const { ORIGINS, ORIGIN_TOKEN, TRUSTED_KEYS, CANARY, API_KEYS, REQUIRE_KEY_FOR_CATALOG, TUNING } = env;
  return JSON.stringify([ORIGINS, ORIGIN_TOKEN, TRUSTED_KEYS, CANARY, API_KEYS, REQUIRE_KEY_FOR_CATALOG, TUNING]);
}

export async function edgeState(env: ConfigSource): Promise<{ config: EdgeConfig; pool: OriginPool }> {
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
  return { config, pool: current.pool };
}

/** Puts `config` and `pool` on the context. */
export function withEdgeState(): MiddlewareHandler<EdgeEnv> {
  return async (c, next) => {
    const { config, pool } = await edgeState(c.env);
    c.set('config', config);
    c.set('pool', pool);
    await next();
  };
}
