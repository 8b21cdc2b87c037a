/**
 * Admin routes (API key with the `admin` scope) showing how each model's traffic is split
 * (version-choice/rollout-weights.ts):
 *
 * - `GET /v1/edge/rollout`: every model with a rollout record in R2 or a `CANARY` entry;
 * - `GET /v1/edge/rollout/{model}`: one model.
 *
 * Each entry says where the split comes from (`record`, `canary_var`, `none`), the verified record in
 * force, the shares it states and those in use, each share taken away and why (an origin not ready for
 * the version, or an automatic rollback), the pool's readiness per canary version and for the stable
 * version (`stable_readiness`: its share has nowhere else to go, so an origin without it is an operator's
 * problem to see here), the last refused read of the record, and `canary_verdicts`: per canary version,
 * this isolate's last automatic-rollback verdict (version-choice/canary-watch.ts: runs from devices and
 * origins, error rate, median confidence, state, and the reasons when it failed).
 *
 * The signed record itself, for clients, is ./rollout-record.ts (`GET /v1/rollout/{model}`, mounted here).
 */
import { type Context, Hono } from 'hono';
import { modelPath } from '../../protocol/hono/model-path.ts';
import { ROLLOUT_PREFIX } from '../../protocol/repository-layout.ts';
import { requireKey } from '../auth/require-key.ts';
import type { EdgeEnv } from '../context.ts';
import type { CanaryVerdict } from '../version-choice/canary-judge.ts';
import { canaryVerdicts } from '../version-choice/canary-watch.ts';
import { type PoolReadiness, poolReadyFor } from '../version-choice/origin-version-readiness.ts';
import { rolloutView, type RolloutView } from '../version-choice/rollout-weights.ts';
import { rolloutRecordRoutes } from './rollout-record.ts';

export const rolloutRoutes = new Hono<EdgeEnv>();

// The public face of the record: `GET /v1/rollout/{model}`, the envelope for clients to verify.
rolloutRoutes.route('/', rolloutRecordRoutes);

const NO_STORE = { 'cache-control': 'no-store' };
const RECORD_KEY = new RegExp(`^${ROLLOUT_PREFIX}/([^/]+)\\.dsse\\.json$`);

rolloutRoutes.get('/edge/rollout', requireKey({ scope: 'admin' }), async (c) => {
  const models = new Set(Object.keys(c.get('config').canary));
  let cursor: string | undefined;
  do {
    const page = await c.env.MODELS.list({ prefix: `${ROLLOUT_PREFIX}/`, ...(cursor ? { cursor } : {}) });
    for (const object of page.objects) {
      const model = RECORD_KEY.exec(object.key)?.[1];
      if (model) models.add(model);
    }
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
  const now = Date.now();
  const views = await Promise.all([...models].sort().map((model) => withStableReadiness(c, rolloutView(c, model, now))));
  return c.json({ models: views }, 200, NO_STORE);
});

rolloutRoutes.get('/edge/rollout/:model', modelPath({ idParam: 'model' }), requireKey({ scope: 'admin' }), async (c) =>
  c.json(await withStableReadiness(c, rolloutView(c, c.req.param('model'))), 200, NO_STORE),
);

type StatusEntry = RolloutView & { stable_readiness: PoolReadiness | null; canary_verdicts: Record<string, CanaryVerdict & { at: number }> };

async function withStableReadiness(c: Context<EdgeEnv>, pending: Promise<RolloutView>): Promise<StatusEntry> {
  const view = await pending;
  if (!view.record) return { ...view, stable_readiness: null, canary_verdicts: {} };
  const { tuning, originToken } = c.get('config');
  return {
    ...view,
    stable_readiness: await poolReadyFor(c.get('pool'), view.model, view.record.stable, tuning, originToken),
    canary_verdicts: canaryVerdicts(view.model, view.record.version),
  };
}
