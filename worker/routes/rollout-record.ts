/**
 * `GET /v1/rollout/{model}`: the model's signed rollout record in force at this edge (the one it follows,
 * storage/rollout-records.ts), as stored, so a client verifies the split itself with its own keys (the SDK,
 * client/rollout-check.ts) instead of trusting the edge's word. The edge serves what it holds: the last
 * verified, unexpired record, also while a newer read is refused or R2 no longer holds it; none is 404.
 *
 * Access: the manifest route's rule (a key is optional unless `REQUIRE_KEY_FOR_CATALOG`; a key presented
 * must hold the `catalog` scope and, when it lists `models`, this model). Cached briefly: the catalog's
 * max-age, never past the record's expiry, with a strong ETag for revalidation.
 */
import { Hono } from 'hono';
import { TandemError, toTandemError } from '../../protocol/errors.ts';
import { modelPath } from '../../protocol/hono/model-path.ts';
import { sha256Hex } from '../../protocol/sha256.ts';
import { requireKey } from '../auth/require-key.ts';
import type { EdgeEnv } from '../context.ts';
import { notModified, strongEtag } from '../http/etag.ts';
import { rolloutInForce } from '../storage/rollout-records.ts';
import { releaseKeys } from '../version-choice/rollout-weights.ts';

export const rolloutRecordRoutes = new Hono<EdgeEnv>();

rolloutRecordRoutes.get(
  '/rollout/:model',
  modelPath({ idParam: 'model' }),
  async (c, next) => requireKey({ scope: 'catalog', optional: !c.get('config').requireKeyForCatalog, modelParam: 'model' })(c, next),
  async (c) => {
    const model = c.req.param('model');
    const { tuning } = c.get('config');
    const now = Date.now();
    let keys: Awaited<ReturnType<typeof releaseKeys>>;
    try {
      keys = await releaseKeys(c, now);
    } catch (err) {
      // No root of trust to take the release keys from: this edge follows no record.
      throw new TandemError('not_found', `no rollout record in force for ${model}: ${toTandemError(err).message}`);
    }
    // A storage failure is the edge's error (503 and the like), not "no record": a client must not take
    // it for the absence of a rollout.
    const { record, envelope } = await rolloutInForce(c.env.MODELS, model, keys, tuning, now);
    if (!record || envelope === undefined) throw new TandemError('not_found', `no rollout record in force for ${model}`);
    c.set('log', { ...c.get('log'), model, version: String(record.version) });
    const maxAge = Math.max(0, Math.min(tuning.manifestMaxAgeSeconds, Math.floor((Date.parse(record.expires) - now) / 1000)));
    const etag = strongEtag(await sha256Hex(new TextEncoder().encode(envelope)));
    const headers = { etag, 'cache-control': `public, max-age=${maxAge}` };
    if (notModified(c.req.header('if-none-match'), etag)) return c.body(null, 304, headers);
    return c.body(envelope, 200, { ...headers, 'content-type': 'application/json' });
  },
);
