/**
 * Admin routes (API key with the `admin` scope):
 *
 * - `GET /v1/edge/status`: this isolate's view of the origin pool, the signing keys it trusts
 *   (`TRUSTED_KEYS`: keyids and threshold), with `ROOT_KEYS` the freshness of its update metadata
 *   (storage/trust-metadata.ts: root version, the record's version, age and expiry, the last refusal), and
 *   what it refused to serve from R2 (`refused`: manifests that fail verification, with the version served
 *   instead, and artifacts whose bytes fail their hash);
 * - `GET|PUT|DELETE /v1/edge/origins`: the origin list override (origin-pool/origin-list.ts). PUT `{"origins":[...]}`
 *   replaces the list without a deploy; DELETE goes back to the `ORIGINS` var. Other isolates follow
 *   within `originListTtlMs`.
 */
import { Hono } from 'hono';
import { TandemError } from '../../protocol/errors.ts';
import { requireKey } from '../auth/require-key.ts';
import type { EdgeEnv } from '../context.ts';
import { originListCache } from '../middleware/edge-state.ts';
import { ORIGIN_LIST_KEY, parseOriginList, type StoredOriginList } from '../origin-pool/origin-list.ts';
import { edgeTrustStatus } from '../storage/trust-metadata.ts';
import { refusals } from '../storage/refusals.ts';

export const adminRoutes = new Hono<EdgeEnv>();

const NO_STORE = { 'cache-control': 'no-store' };

adminRoutes.get('/edge/status', requireKey({ scope: 'admin' }), async (c) => {
  const { trustedKeys, rootKeys, tuning } = c.get('config');
  return c.json(
    {
      origins: c.get('pool').status(Date.now()),
      trusted_keys: { keyids: [...trustedKeys.keys.keys()], threshold: trustedKeys.threshold },
      trust: await edgeTrustStatus(c.env.MODELS, rootKeys, tuning, Date.now()),
      refused: refusals.list(),
    },
    200,
    NO_STORE,
  );
});

adminRoutes.get('/edge/origins', requireKey({ scope: 'admin' }), async (c) => {
  const object = await c.env.MODELS.get(ORIGIN_LIST_KEY);
  const stored = object ? ((await object.json()) as StoredOriginList) : null;
  return c.json({ origins: c.get('pool').urls(), source: stored ? 'override' : 'config', override: stored, config: c.get('config').origins }, 200, NO_STORE);
});

adminRoutes.put('/edge/origins', requireKey({ scope: 'admin' }), async (c) => {
  let origins: string[];
  try {
    origins = parseOriginList(await c.req.json());
  } catch (cause) {
    throw new TandemError('bad_request', `origin list: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
  if (origins.length === 0) throw new TandemError('bad_request', 'origin list: at least one origin (DELETE /v1/edge/origins goes back to ORIGINS)');
  await originListCache().store(c.env.MODELS, origins, c.get('apiKey')?.name ?? 'unknown', Date.now());
  c.get('pool').setOrigins(origins);
  return c.json({ origins, source: 'override' }, 200, NO_STORE);
});

adminRoutes.delete('/edge/origins', requireKey({ scope: 'admin' }), async (c) => {
  const { origins } = c.get('config');
  await originListCache().store(c.env.MODELS, undefined, c.get('apiKey')?.name ?? 'unknown', Date.now());
  c.get('pool').setOrigins(origins);
  return c.json({ origins, source: 'config' }, 200, NO_STORE);
});
