/**
 * Whether every origin of the pool is ready for a model version, as the edge asks it before giving the
 * version a share (protocol/rollout/version-readiness.ts has the rule). Origins whose breaker is open take
 * no traffic and are not asked. Answers are kept for `readinessTtlMs` per pool, version and period, and
 * concurrent requests share one round of probes, each within `readinessTimeoutMs`.
 */
import { memoizePromises } from '../../protocol/resilience/memo.ts';
import { probeVersionOnOrigins, type VersionReadiness } from '../../protocol/rollout/version-readiness.ts';
import type { Tuning } from '../config.ts';
import type { OriginPool } from '../origin-pool/pool.ts';

export interface PoolReadiness {
  ready: boolean;
  /** Each asked origin's answer. */
  origins: VersionReadiness[];
}

const answers = memoizePromises<PoolReadiness>(256);

/**
 * @example
 * const { ready } = await poolReadyFor(pool, 'm', '1.1.0', tuning, token);
 */
export function poolReadyFor(
  pool: OriginPool,
  model: string,
  version: string,
  tuning: Tuning,
  token: string,
  now: number = Date.now(),
): Promise<PoolReadiness> {
  const origins = pool
    .status(now)
    .filter((o) => o.breaker !== 'open')
    .map((o) => o.url);
  const period = Math.floor(now / Math.max(1, tuning.readinessTtlMs));
  return answers.get(`${origins.join(',')}\u0000${model}@${version}\u0000${period}`, async () => {
    if (origins.length === 0) return { ready: false, origins: [] };
    const asked = await probeVersionOnOrigins(origins, model, version, { fetch: (url, init) => fetch(url, init), token, timeoutMs: tuning.readinessTimeoutMs });
    return { ready: asked.every((a) => a.ready), origins: asked };
  });
}

/** Forgets every answer (tests). */
export function resetPoolReadiness(): void {
  answers.clear();
}
