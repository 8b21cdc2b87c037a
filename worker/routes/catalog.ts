/**
 * `GET /v1/models` and `GET /v1/models/{id}/manifest[?version=v]`: verified manifests from R2, with ETags.
 * A manifest that fails verification is never served: the catalog leaves it out; the manifest route
 * answers a request for that version with 422 and its code, and a request without a version with the
 * newest version that does verify (the catalog's `latest`), so one bad upload never takes a model
 * offline. Every refusal is logged (`manifest_refused`, and `manifest_skipped` naming what was served
 * instead) and kept for `GET /v1/edge/status` (storage/refusals.ts). With a root of trust (`ROOT_KEYS`),
 * manifests verify with the root's release keys and must be live in the timestamp record
 * (storage/manifest-trust.ts), and "latest" is the record's current version, with no falling back to an
 * older one (that would be the rollback the record exists to stop). A key that lists `models` sees those
 * alone: the catalog leaves the others out and their manifests answer 403 `forbidden`.
 */
import { Hono, type Context, type MiddlewareHandler } from 'hono';
import { TandemError } from '../../protocol/errors.ts';
import { sha256Hex } from '../../protocol/sha256.ts';
import { keyAllowsModel } from '../auth/api-keys.ts';
import { requireKey } from '../auth/require-key.ts';
import { modelPath } from '../../protocol/hono/model-path.ts';
import { isRefusal, loadManifest, listStoredVersions, type ServableManifest } from '../storage/manifests.ts';
import { refusals } from '../storage/refusals.ts';
import { clientIdOf } from '../version-choice/client-id.ts';
import type { EdgeEnv } from '../context.ts';
import { notModified, strongEtag } from '../http/etag.ts';
import { compareVersions, newestVersion } from '../../protocol/versions.ts';
import { envelopeKey } from '../../protocol/repository-layout.ts';
import { storedVersionCandidates, type VersionChoice } from '../version-choice/stored-version.ts';
import { manifestTrust, type ManifestTrust } from '../storage/manifest-trust.ts';
import { rolloutCanary } from '../version-choice/rollout-weights.ts';

export const catalogRoutes = new Hono<EdgeEnv>();

/**
 * Keys are optional on the catalog unless `REQUIRE_KEY_FOR_CATALOG`; a key that is presented must be valid
 * and hold the `catalog` scope, and, for a route about one model (named by `modelParam`), list it when it
 * lists `models`.
 */
export function catalogKeyFor(modelParam?: string): MiddlewareHandler<EdgeEnv> {
  return async (c, next) =>
    requireKey({ scope: 'catalog', optional: !c.get('config').requireKeyForCatalog, ...(modelParam === undefined ? {} : { modelParam }) })(c, next);
}

/** The catalog's rule for routes about no one model (the listing, artifacts by hash). */
export const catalogKey = catalogKeyFor();

catalogRoutes.get('/models', catalogKey, async (c) => {
  const { tuning } = c.get('config');
  const trust = await manifestTrust(c);
  const stored = await listStoredVersions(c.env.MODELS);
  const key = c.get('apiKey');
  const models = [];
  for (const [id, versions] of [...stored].sort(([a], [b]) => a.localeCompare(b))) {
    if (key && !keyAllowsModel(key, id)) continue;
    const servable: ServableManifest[] = [];
    for (const version of versions.sort(compareVersions)) {
      try {
        const manifest = await loadManifest(c.env.MODELS, id, version, trust.keys);
        await trust.check(manifest, version);
        servable.push(manifest);
        refusals.clear(envelopeKey(id, version));
      } catch (err) {
        refused(c, id, version, err);
      }
    }
    const latest = servable.at(-1);
    if (!latest) continue;
    const canary = await rolloutCanary(c, id);
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
  // A key that lists models sees only those: a shared cache must not hand its listing to anyone else.
  const scoped = key?.models !== undefined;
  const headers = { etag, 'cache-control': `${scoped ? 'private' : 'public'}, max-age=${tuning.manifestMaxAgeSeconds}`, vary: 'authorization' };
  if (notModified(c.req.header('if-none-match'), etag)) return c.body(null, 304, headers);
  return c.body(text, 200, { ...headers, 'content-type': 'application/json' });
});

catalogRoutes.get('/models/:id/manifest', modelPath({ idParam: 'id', versionQuery: true }), catalogKeyFor('id'), async (c) => {
  const { tuning } = c.get('config');
  const trust = await manifestTrust(c);
  const id = c.req.param('id');
  const canary = await rolloutCanary(c, id);
  const versions = (await listStoredVersions(c.env.MODELS, id)).get(id) ?? [];
  const requested = c.req.query('version');
  let candidates = storedVersionCandidates(versions, { model: id, requested, canary, clientId: clientIdOf(c.req.raw.headers, c.get('apiKey')) });
  // The record's current version when it names one: that alone, never an older fallback.
  const chosen = trust.choose(id, requested, candidates[0]);
  if (chosen && chosen.version !== candidates[0]?.version) candidates = [chosen];
  if (candidates.length === 0) throw new TandemError('model_not_found', requested ? `model ${id} has no version ${requested}` : `no model ${id}`);
  const { choice, manifest, skipped } = await firstServable(c, id, candidates, trust, requested);
  if (skipped.length > 0) {
    console.log(JSON.stringify({ event: 'manifest_skipped', request_id: c.get('requestId'), model: id, skipped, served: choice.version }));
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

/**
 * The first candidate whose envelope verifies, and the versions skipped on the way (each logged and
 * recorded with what was served instead).
 * @throws the first candidate's refusal when none verifies (a requested version has only itself).
 */
async function firstServable(
  c: Context<EdgeEnv>,
  id: string,
  candidates: readonly VersionChoice[],
  trust: ManifestTrust,
  requested: string | undefined,
): Promise<{ choice: VersionChoice; manifest: ServableManifest; skipped: string[] }> {
  const failed: { version: string; err: unknown }[] = [];
  let found: { choice: VersionChoice; manifest: ServableManifest } | undefined;
  for (const choice of candidates) {
    try {
      const manifest = await loadManifest(c.env.MODELS, id, choice.version, trust.keys);
      await trust.check(manifest, requested ?? (choice.perClient ? choice.version : undefined));
      found = { choice, manifest };
      refusals.clear(envelopeKey(id, choice.version));
      break;
    } catch (err) {
      if (!isRefusal(err)) throw err;
      failed.push({ version: choice.version, err });
    }
  }
  for (const { version, err } of failed) refused(c, id, version, err, found?.choice.version);
  if (!found) throw failed[0]!.err;
  return { ...found, skipped: failed.map((f) => f.version) };
}

/** Logs and records a manifest that must not be served; rethrows anything that isn't about the manifest. */
function refused(c: Context<EdgeEnv>, id: string, version: string, err: unknown, servedInstead?: string): void {
  if (!isRefusal(err)) throw err;
  if (err.code === 'model_not_found') return; // Deleted since the listing: nothing to report.
  console.log(JSON.stringify({ event: 'manifest_refused', request_id: c.get('requestId'), model: id, version, code: err.code, reason: err.message }));
  refusals.record(
    {
      key: envelopeKey(id, version),
      kind: 'manifest',
      model: id,
      version,
      code: err.code,
      reason: err.message,
      ...(servedInstead ? { served_instead: servedInstead } : {}),
    },
    Date.now(),
  );
}
