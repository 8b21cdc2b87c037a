/**
 * The Open Inference Protocol's health and metadata routes, answered by the edge for what it routes, so a
 * Triton or KServe client pointed at the edge finds the whole REST surface (OIP REST specification:
 * "Server Live", "Server Ready", "Server Metadata", "Model Metadata", "Model Ready"):
 *
 * - `GET /v2/health/live`: the edge answers: `{ "live": true }`.
 * - `GET /v2/health/ready`: 200 `{ "ready": true }` when at least one origin is ready (its last readiness
 *   check passed and its breaker is not open), else 503; a stale check is redone first (bounded by
 *   `readinessTimeoutMs`). Origins are counted, never named (their URLs are for the admin status route).
 * - `GET /v2`: the edge's server metadata.
 * - `GET /v2/models/{name}[/versions/{v}]`: model metadata from the signed manifest the edge serves (its
 *   origin-tier variant, the one `/infer` reaches), in OIP's shape (protocol/oip-metadata.ts, as the
 *   origin's). `versions` lists the stored versions the manifest route would serve (the same trust: keys,
 *   and with a root of trust the timestamp record); without a version the edge chooses as for manifests
 *   and inference (the client's canary version, else the record's current version, else the newest).
 * - `GET /v2/models/{name}[/versions/{v}]/ready`: whether that version can be inferred through the edge:
 *   its manifest verifies here and an origin says the version is ready. Origins are asked at most once
 *   per version per `readinessTtlMs` in an isolate, whoever calls.
 *
 * Access: health and server metadata are open, like the origin's (probes carry no key). Model metadata
 * and model readiness tell what the signed manifest tells, so they take the manifest route's rule: a key
 * is optional unless `REQUIRE_KEY_FOR_CATALOG`, and a key that is presented must be valid, hold the
 * `catalog` scope and, when it lists `models`, this model. A known path asked with another method gets
 * 405 with `Allow`, from the app's route list (protocol/hono/method-not-allowed.ts).
 */
import { Hono, type Context } from 'hono';
import { TandemError } from '../../protocol/errors.ts';
import { modelPath as checkModelPath } from '../../protocol/hono/model-path.ts';
import { variantForTier, type Manifest } from '../../protocol/manifest.ts';
import { modelMetadata, type OipServerMetadata } from '../../protocol/oip-metadata.ts';
import { memoizePromises } from '../../protocol/resilience/memo.ts';
import { compareVersions } from '../../protocol/versions.ts';
import { catalogKeyFor } from './catalog.ts';
import type { EdgeConfig } from '../config.ts';
import type { EdgeEnv } from '../context.ts';
import type { OriginPool } from '../origin-pool/pool.ts';
import { refreshReadiness } from '../origin-pool/proxy.ts';
import { manifestTrust } from '../storage/manifest-trust.ts';
import { isRefusal, listStoredVersions, loadManifest, type ServableManifest } from '../storage/manifests.ts';
import { clientIdOf } from '../version-choice/client-id.ts';
import { rolloutCanary } from '../version-choice/rollout-weights.ts';
import { chooseStoredVersion } from '../version-choice/stored-version.ts';

/** `GET /v2`: the edge relays binary tensor data (`Inference-Header-Content-Length`) both ways, and the origins' classification extension. */
export const EDGE_SERVER_METADATA: Readonly<OipServerMetadata> = {
  name: 'tandem-edge',
  version: '0.1.0',
  extensions: ['binary_tensor_data', 'classification'],
};

const NO_STORE = { 'cache-control': 'no-store' };

export const oipRoutes = new Hono<EdgeEnv>();

oipRoutes.get('/health/live', (c) => c.json({ live: true }, 200, NO_STORE));

oipRoutes.get('/health/ready', async (c) => {
  const { config, pool } = { config: c.get('config'), pool: c.get('pool') };
  const checks = refreshReadiness(pool, config.tuning, config.originToken);
  if (checks) await checks;
  const origins = pool.status(Date.now());
  const ready = origins.filter((o) => o.ready === true && o.breaker !== 'open').length;
  return c.json({ ready: ready > 0, origins: { ready, total: origins.length } }, ready > 0 ? 200 : 503, NO_STORE);
});

oipRoutes.get('/', (c) => c.json(EDGE_SERVER_METADATA));

/** The manifest route's rule (see the header), with the key's `models` checked against `{name}`. */
const modelKey = catalogKeyFor('name');

/** Path segments that cannot name a model or a version are not looked up (nor logged, nor sent on). */
const modelPath = checkModelPath();

const METADATA_PATHS = ['/models/:name', '/models/:name/versions/:version'];
const READY_PATHS = ['/models/:name/ready', '/models/:name/versions/:version/ready'];

for (const path of METADATA_PATHS) {
  oipRoutes.get(path, modelKey, modelPath, async (c) => {
    const model = await resolveModel(c);
    const variant = variantForTier(model.manifest, 'origin');
    if (!variant) throw new TandemError('model_not_found', `model ${model.name} version ${model.version} has no origin-tier variant: it runs on devices only`);
    return c.json(modelMetadata(model.name, model.versions, variant), 200, model.headers);
  });
}

for (const path of READY_PATHS) {
  oipRoutes.get(path, modelKey, modelPath, async (c) => {
    const model = await resolveModel(c);
    const { config, pool } = { config: c.get('config'), pool: c.get('pool') };
    const ready = variantForTier(model.manifest, 'origin') !== undefined && (await originsHoldReady(pool, config, model.name, model.version));
    return c.json({ name: model.name, version: model.version, ready }, ready ? 200 : 503, { ...NO_STORE, 'x-model-version': model.version });
  });
}

interface ResolvedModel {
  name: string;
  version: string;
  manifest: Manifest;
  /** Stored versions whose manifests verify, oldest first. */
  versions: string[];
  headers: Record<string, string>;
}

/**
 * The version a metadata request means, as the manifest route chooses it: from the stored versions whose
 * manifests this edge would serve (verified with the manifest trust in force, storage/manifest-trust.ts:
 * `TRUSTED_KEYS`, or the root's release keys and the timestamp record), the record's current version as
 * "latest" when there is one. Versions that may not be served are left out, as the catalog leaves them out,
 * and logged.
 * @throws TandemError `model_not_found`; for the chosen version when it may not be served, its own code
 * (`manifest_signature_invalid`, `version_revoked`, ...), as the manifest route answers; `manifestTrust`'s
 * when a root of trust is set and no timestamp record is in force.
 */
async function resolveModel(c: Context<EdgeEnv>): Promise<ResolvedModel> {
  const { tuning } = c.get('config');
  const trust = await manifestTrust(c);
  const name = c.req.param('name') ?? '';
  const canary = await rolloutCanary(c, name);
  const requested = c.req.param('version');
  const stored = ((await listStoredVersions(c.env.MODELS, name)).get(name) ?? []).sort(compareVersions);
  const servable = new Map<string, ServableManifest>();
  const refusals = new Map<string, TandemError>();
  for (const version of stored) {
    try {
      const manifest = await loadManifest(c.env.MODELS, name, version, trust.keys);
      await trust.check(manifest, version);
      servable.set(version, manifest);
    } catch (err) {
      if (!isRefusal(err)) throw err;
      console.log(JSON.stringify({ event: 'manifest_refused', request_id: c.get('requestId'), model: name, version, code: err.code, reason: err.message }));
      refusals.set(version, err);
    }
  }
  const picked = chooseStoredVersion([...servable.keys()], { model: name, requested, canary, clientId: clientIdOf(c.req.raw.headers, c.get('apiKey')) });
  // A requested version that may not be served answers with its own refusal, as the manifest route does.
  const choice = trust.choose(name, requested, picked ?? (requested === undefined ? undefined : { version: requested, perClient: false }));
  const chosen = choice && servable.get(choice.version);
  if (!choice || !chosen) {
    const refusal = choice && refusals.get(choice.version);
    if (refusal) throw refusal;
    throw new TandemError('model_not_found', requested === undefined ? `no model ${name}` : `model ${name} has no version ${requested}`);
  }
  // "Latest" is checked as latest too: an older version served as current is a rollback.
  await trust.check(chosen, requested ?? (choice.perClient ? choice.version : undefined));
  c.set('log', { ...c.get('log'), model: name, version: choice.version });
  return {
    name,
    version: choice.version,
    manifest: chosen.manifest,
    versions: [...servable.keys()],
    // A canary choice depends on who asks: shared caches must not hand it to another client.
    headers: {
      'cache-control': `${choice.perClient ? 'private' : 'public'}, max-age=${tuning.manifestMaxAgeSeconds}`,
      'x-model-version': choice.version,
      vary: 'x-client-id, authorization',
    },
  };
}

/** Answers of origins about one model version, by version and by `readinessTtlMs` period. */
const modelReadiness = memoizePromises<boolean>(256);

/**
 * Whether an origin says `name@version` is ready (`GET /v2/models/{name}/versions/{v}/ready` answers 200):
 * origins whose breaker is not open and whose last readiness check did not fail, the ready ones first, at
 * most `maxAttempts` of them, one after another, each within `readinessTimeoutMs`. Breakers are left as
 * they are: like readiness checks, this is not traffic.
 */
function originsHoldReady(pool: OriginPool, config: EdgeConfig, name: string, version: string): Promise<boolean> {
  const { tuning, originToken } = config;
  const period = Math.floor(Date.now() / Math.max(1, tuning.readinessTtlMs));
  return modelReadiness.get(`${pool.urls().join(',')}\u0000${name}@${version}\u0000${period}`, async () => {
    const candidates = pool
      .status(Date.now())
      .filter((o) => o.breaker !== 'open' && o.ready !== false)
      .sort((a, b) => Number(b.ready === true) - Number(a.ready === true))
      .slice(0, tuning.maxAttempts);
    for (const origin of candidates) {
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), tuning.readinessTimeoutMs);
      try {
        const res = await fetch(`${origin.url}/v2/models/${encodeURIComponent(name)}/versions/${encodeURIComponent(version)}/ready`, {
          headers: { authorization: `Bearer ${originToken}` },
          signal: controller.signal,
        });
        await res.body?.cancel();
        if (res.status === 200) return true;
      } catch {
        // Unreachable or too slow: ask the next.
      } finally {
        clearTimeout(timer);
      }
    }
    return false;
  });
}
