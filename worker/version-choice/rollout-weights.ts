/**
 * The weights a request is split by, per model: the verified rollout record in force
 * (storage/rollout-records.ts), each canary version's share withheld while an origin of the pool is not
 * ready for it (origin-version-readiness.ts) or while automatic rollback has zeroed it
 * (weight-overrides.ts), its share going to the stable version (effective-weights.ts).
 *
 * Without a verified record in force for the model, the `CANARY` variable applies as it always did (no
 * readiness check): a documented fallback for an edge whose repository has no `_rollout/` yet. A record
 * in R2 always wins over the variable.
 */
import type { Context } from 'hono';
import type { TrustedKeySet } from '../../protocol/keys.ts';
import { percentShares, type RolloutRecord } from '../../protocol/rollout/rollout-record.ts';
import { toTandemError } from '../../protocol/errors.ts';
import type { EdgeEnv } from '../context.ts';
import { rolloutInForce } from '../storage/rollout-records.ts';
import { trustView } from '../storage/trust-metadata.ts';
import type { CanaryConfig } from './canary.ts';
import { effectiveWeights, type ZeroedWeight } from './effective-weights.ts';
import { poolReadyFor, type PoolReadiness } from './origin-version-readiness.ts';
import { overridesFor } from './weight-overrides.ts';

export interface RolloutView {
  model: string;
  /** `record`: a verified rollout record; `canary_var`: the `CANARY` fallback; `none`: the default version for everyone. */
  source: 'record' | 'canary_var' | 'none';
  record: RolloutRecord | null;
  /** Version -> percent as stated (the record's, or the variable's). */
  configured: Record<string, number> | null;
  /** Version -> percent as used now. */
  effective: Record<string, number> | null;
  zeroed: ZeroedWeight[];
  /** Per canary version, the pool's readiness (record only). */
  readiness: Record<string, PoolReadiness>;
  /** Why the newest record read was refused, if it was. */
  refused: { code: string; reason: string } | null;
}

/** The release keys rollout records verify with: the root's release role with `ROOT_KEYS`, else `TRUSTED_KEYS`. */
export async function releaseKeys(c: Context<EdgeEnv>, now: number): Promise<TrustedKeySet> {
  const { rootKeys, trustedKeys, tuning } = c.get('config');
  if (rootKeys.keys.size === 0) return trustedKeys;
  return (await trustView(c.env.MODELS, rootKeys, tuning, now)).root.keysFor('release');
}

/**
 * What splits `model`'s traffic now, and why.
 * @example
 * const view = await rolloutView(c, 'mlp-classifier'); // view.effective: { '1.0.0': 100, '1.1.0': 0 } while an origin lacks 1.1.0
 */
export async function rolloutView(c: Context<EdgeEnv>, model: string, now: number = Date.now()): Promise<RolloutView> {
  const { canary, tuning, originToken } = c.get('config');
  let inForce: Awaited<ReturnType<typeof rolloutInForce>>;
  try {
    inForce = await rolloutInForce(c.env.MODELS, model, await releaseKeys(c, now), tuning, now);
  } catch (err) {
    // No root of trust to take the release keys from: no record can be verified.
    inForce = { record: undefined, refusal: toTandemError(err), stored: false };
  }
  const refused = inForce.refusal ? { code: inForce.refusal.code, reason: inForce.refusal.message } : null;
  const { record } = inForce;
  if (!record) {
    const stated = canary[model];
    if (!stated) return { model, source: 'none', record: null, configured: null, effective: null, zeroed: [], readiness: {}, refused };
    const total = Object.values(stated).reduce((sum, w) => sum + w, 0);
    const shares = Object.fromEntries(Object.entries(stated).map(([v, w]) => [v, (w / total) * 100]));
    return { model, source: 'canary_var', record: null, configured: shares, effective: shares, zeroed: [], readiness: {}, refused };
  }
  const shares = percentShares(record);
  const withheld = new Map<string, { cause: ZeroedWeight['cause']; reason: string }>();
  for (const o of overridesFor(model, record.version)) withheld.set(o.version, { cause: 'rolled_back', reason: o.reason });
  const readiness: Record<string, PoolReadiness> = {};
  const pool = c.get('pool');
  await Promise.all(
    Object.entries(shares)
      .filter(([v, share]) => v !== record.stable && share > 0)
      .map(async ([version]) => {
        const answer = await poolReadyFor(pool, model, version, tuning, originToken, now);
        readiness[version] = answer;
        if (!answer.ready && !withheld.has(version)) {
          const missing = answer.origins.filter((o) => !o.ready).map((o) => `${o.origin} (${o.reason})`);
          const reason = answer.origins.length === 0 ? 'no origin of the pool can be asked' : `not ready on ${missing.join(', ')}`;
          withheld.set(version, { cause: 'not_ready', reason });
        }
      }),
  );
  const { weights, zeroed } = effectiveWeights(record.stable, shares, withheld);
  return { model, source: 'record', record, configured: shares, effective: weights, zeroed, readiness, refused };
}

/**
 * `model`'s weights in the shape `chooseVersion` takes (canary.ts): empty when nothing splits its traffic.
 * @example
 * chooseVersion(await rolloutCanary(c, name), name, clientIdOf(c.req.raw.headers, c.get('apiKey')));
 */
export async function rolloutCanary(c: Context<EdgeEnv>, model: string): Promise<CanaryConfig> {
  const { effective } = await rolloutView(c, model);
  return effective ? { [model]: effective } : {};
}
