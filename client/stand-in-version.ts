/**
 * Finding the version that answers on the origin for one the origins lack (./version-fallback.ts asks,
 * once per model version and `VERSION_FALLBACK_TTL_MS`). A chunk of its own, imported only when an origin
 * first answers `model_not_found` for a version, so the main-thread SDK stays within its budget.
 *
 * The versions come from the edge's OIP model metadata (`GET /v2/models/<id>`: the stored versions whose
 * manifests verify there), tried nearest first (./core/nearest-version.ts). A candidate is taken when its
 * signed manifest verifies as every manifest the SDK loads does (./manifests.ts: the pinned keys, or the
 * root's release keys and the timestamp record), its origin-tier signature fits the requested version's,
 * and the edge says an origin is ready for it (`GET /v2/models/<id>/versions/<v>/ready`, the rule of
 * protocol/rollout/version-readiness.ts). None: the origin's `model_not_found`, naming each candidate and
 * why it was passed over.
 */
import { TandemError, toTandemError } from '../protocol/errors.ts';
import { variantForTier, type Manifest } from '../protocol/manifest.ts';
import { probeVersionReady, type FetchLike } from '../protocol/rollout/version-readiness.ts';
import { type DocumentSource, fetchDocument } from './core/fetch-document.ts';
import { nearestVersions, signatureMismatch } from './core/nearest-version.ts';
import type { Manifests } from './manifests.ts';

export interface StandInDeps extends DocumentSource {
  /** The edge's base URL, without a trailing slash. */
  edge: string;
  /** Verified manifests by version, as `load` gets them. */
  manifests: Pick<Manifests, 'get'>;
}

/** The most candidates looked at, nearest first: each costs a manifest request and a readiness request. */
export const MAX_STAND_IN_CANDIDATES = 4;

/** The most bytes of a model metadata answer (names, datatypes and shapes of a few tensors, the versions). */
const MAX_METADATA_BYTES = 256 * 1024;

/**
 * The verified manifest of the nearest version the origins hold that can answer for `manifest`.
 * @param missing the origin's `model_not_found` for `manifest.version`.
 * @throws TandemError `missing`'s code, its message followed by the candidates and why none served;
 *   `aborted` when `signal` aborts.
 * @example
 * const standIn = await findStandInVersion(deps, manifest, err, signal); // manifest of 1.0.0 for 1.1.0
 */
export async function findStandInVersion(deps: StandInDeps, manifest: Manifest, missing: TandemError, signal?: AbortSignal): Promise<Manifest> {
  const none = (why: string) => new TandemError(missing.code, `${missing.message}; no version the origins hold can answer for it: ${why}`, { cause: missing });
  const wanted = variantForTier(manifest, 'origin');
  if (!wanted) throw none(`${manifest.version} has no origin-tier variant`);
  let listed: unknown;
  try {
    listed = await fetchDocument(`${deps.edge}/v2/models/${encodeURIComponent(manifest.id)}`, deps, {
      bound: MAX_METADATA_BYTES,
      what: `metadata of ${manifest.id}`,
      missingOk: false,
      signal,
    });
  } catch (err) {
    const e = toTandemError(err);
    if (e.code === 'aborted') throw e;
    throw none(`the edge did not list its versions (${e.code}: ${e.message})`);
  }
  const versions = (listed as { versions?: unknown } | null)?.versions;
  const names = Array.isArray(versions) ? versions.filter((v): v is string => typeof v === 'string') : [];
  const candidates = nearestVersions(manifest.version, names).slice(0, MAX_STAND_IN_CANDIDATES);
  if (candidates.length === 0) throw none(`the edge lists no other version (${names.join(', ') || 'none'})`);

  // The edge's readiness route takes the app's headers (API key, client id), as its other routes do.
  const withHeaders: FetchLike = async (url, init) => deps.fetch(url, { ...init, headers: { ...init.headers, ...(await deps.headers()) } });
  const passed: string[] = [];
  for (const version of candidates) {
    let candidate: Manifest;
    try {
      candidate = (await deps.manifests.get(manifest.id, signal, version)).manifest;
    } catch (err) {
      const e = toTandemError(err);
      if (e.code === 'aborted') throw e;
      passed.push(`${version} (${e.code}: ${e.message})`);
      continue;
    }
    const variant = variantForTier(candidate, 'origin');
    const mismatch = variant ? signatureMismatch(wanted, variant) : 'no origin-tier variant';
    if (mismatch) {
      passed.push(`${version} (${mismatch})`);
      continue;
    }
    const readiness = await probeVersionReady(deps.edge, manifest.id, version, { fetch: withHeaders, timeoutMs: deps.timeoutMs });
    if (signal?.aborted) throw new TandemError('aborted', `finding a version of ${manifest.id}: aborted`);
    if (!readiness.ready) {
      passed.push(`${version} (not ready on the origins: ${readiness.reason})`);
      continue;
    }
    return candidate;
  }
  throw none(passed.join('; '));
}
