/**
 * `GET /v1/models` and `GET /v1/models/{id}/manifest[?version=v]`: verified manifests from R2, with ETags.
 * A manifest that fails verification is never served: the catalog leaves it out, the manifest route
 * answers 422 with its code, and both log it.
 */
import { Hono, type MiddlewareHandler } from 'hono';
import { TandemError } from '../../protocol/errors.ts';
import { sha256Hex } from '../../protocol/sha256.ts';
import { requireKey } from '../auth/require-key.ts';
import { loadManifest, listStoredVersions, type ServableManifest } from '../storage/manifests.ts';
import { clientIdOf } from '../version-choice/client-id.ts';
import type { EdgeEnv } from '../context.ts';
import { notModified, strongEtag } from '../http/etag.ts';
import { compareVersions, newestVersion } from '../../protocol/versions.ts';
import { chooseStoredVersion } from '../version-choice/stored-version.ts';
import { manifestTrust, REFUSED_MANIFEST_CODES } from '../storage/manifest-trust.ts';

export const catalogRoutes = new Hono<EdgeEnv>();

/** Keys are optional on the catalog unless `REQUIRE_KEY_FOR_CATALOG`; a key that is presented must be valid. */
export const catalogKey: MiddlewareHandler<EdgeEnv> = async (c, next) =>
  requireKey({ scope: 'catalog', optional: !c.get('config').requireKeyForCatalog })(c, next);

catalogRoutes.get('/models', catalogKey, async (c) => {
  const { tuning, canary } = c.get('config');
  const trust = await manifestTrust(c);
  const stored = await listStoredVersions(c.env.MODELS);
  const models = [];
  for (const [id, versions] of [...stored].sort(([a], [b]) => a.localeCompare(b))) {
    const servable: ServableManifest[] = [];
    for (const version of versions.sort(compareVersions)) {
      const manifest = await loadManifest(c.env.MODELS, id, version, trust.keys).then(async (m) => (await trust.check(m, version), m)).catch((err: unknown) => refused(c.get('requestId'), id, version, err));
      if (manifest) servable.push(manifest);
    }
    const latest = servable.at(-1);
    if (!latest) continue;
    models.push({
      id,
      task: latest.manifest.task,
      latest: trust.current(id) ?? newestVersion(servable.map((m) => m.manifest.version)),
      versions: servable.map((m) => m.manifest.version),
      ...(canary[id] ? { canary: canary[id] } : {}),
    });
  }
  const text = JSON.stringify({ models });
  const etag = strongEtag(await sha256Hex(new TextEncoder().encode(text)));
  const headers = { etag, 'cache-control': `public, max-age=${tuning.manifestMaxAgeSeconds}` };
  if (notModified(c.req.header('if-none-match'), etag)) return c.body(null, 304, headers);
  return c.body(text, 200, { ...headers, 'content-type': 'application/json' });
});

catalogRoutes.get('/models/:id/manifest', catalogKey, async (c) => {
  const { tuning, canary } = c.get('config');
  const trust = await manifestTrust(c);
  const id = c.req.param('id');
  const versions = (await listStoredVersions(c.env.MODELS, id)).get(id) ?? [];
  const requested = c.req.query('version');
  const choice = trust.choose(id, requested, chooseStoredVersion(versions, { model: id, requested, canary, clientId: clientIdOf(c.req.raw.headers, c.get('apiKey')) }));
  if (!choice) throw new TandemError('model_not_found', requested ? `no model ${id}@${requested}` : `no model ${id}`);
  let manifest: ServableManifest;
  try {
    manifest = await loadManifest(c.env.MODELS, id, choice.version, trust.keys);
    await trust.check(manifest, requested ?? (choice.perClient ? choice.version : undefined));
  } catch (err) {
    refused(c.get('requestId'), id, choice.version, err);
    throw err;
  }
  c.set('log', { ...c.get('log'), model: id, version: choice.version });
  const etag = strongEtag(manifest.sha256);
  // A canary choice depends on who asks: shared caches must not hand it to another client.
  const headers = {
    etag,
    'cache-control': `${choice.perClient ? 'private' : 'public'}, max-age=${tuning.manifestMaxAgeSeconds}`,
    'x-model-version': choice.version,
    vary: 'x-client-id, authorization',
  };
  if (notModified(c.req.header('if-none-match'), etag)) return c.body(null, 304, headers);
  return c.body(manifest.text, 200, { ...headers, 'content-type': 'application/json' });
});

/** Logs a manifest that must not be served; rethrows anything that isn't about the manifest. */
function refused(requestId: string, id: string, version: string, err: unknown): undefined {
  if (!(err instanceof TandemError) || !REFUSED_MANIFEST_CODES.includes(err.code)) throw err;
  console.log(JSON.stringify({ event: 'manifest_refused', request_id: requestId, model: id, version, code: err.code, reason: err.message }));
  return undefined;
}
