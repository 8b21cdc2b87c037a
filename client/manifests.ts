/**
 * Where a model's manifest comes from: the edge, revalidated on every load, verified and kept in the
 * manifest store; and, when the edge cannot be reached (offline start), the last one this app verified,
 * verified again, because the store is not trusted either. The keys are the app's pinned `publicKeys`,
 * or, with `rootKeys`, the release keys of the root in force (`./trust.ts`), and then the manifest must
 * also be the one the timestamp record names: refused otherwise, and never stored.
 */
import { TandemError, toTandemError } from '../protocol/errors.ts';
import type { TrustedKeySet } from '../protocol/keys.ts';
import type { Manifest } from '../protocol/manifest.ts';
import { verifyManifest } from '../protocol/signed-manifest.ts';
import { manifestCacheKey } from './core/cache-keys.ts';
import { type DocumentSource, fetchDocument } from './core/fetch-document.ts';
import type { KeyValueStore } from './core/store.ts';
import { manifestBound } from './core/trust-rules.ts';
import type { Trust } from './trust.ts';

/** Where a verified manifest came from. */
export type ManifestSource = 'network' | 'cache';

export interface ManifestsDeps extends DocumentSource {
  /** The edge's base URL, without a trailing slash. */
  edge: string;
  /** The pinned manifest keys (`publicKeys`), used when there is no `trust`. */
  trustedKeys: Promise<TrustedKeySet> | undefined;
  /** The update framework, when the app pins root keys: its release keys and record decide. */
  trust: Trust | undefined;
  /** Signed envelopes as the edge sent them; failures must read as misses (a `forgivingStore`). */
  store: KeyValueStore<unknown>;
  /** Wall-clock time, ms since the epoch (manifest expiry). */
  now: () => number;
}

export interface Manifests {
  /**
   * @throws TandemError `manifest_signature_invalid`, `manifest_invalid`, `rollback_detected`,
   *   `metadata_expired`, `version_revoked`, `payload_too_large`, `deadline_exceeded`, or, with nothing
   *   stored, the edge's error (`offline`, `origin_unavailable`, `not_found`, …). With `version`, that
   *   version (`?version=` of the edge's manifest route), stored apart from the current one.
   */
  get(id: string, signal?: AbortSignal, version?: string): Promise<{ manifest: Manifest; source: ManifestSource }>;
  clear(): Promise<void>;
}

/**
 * @example
 * const manifests = createManifests({ edge, fetch, headers, trustedKeys, trust: undefined, store, online, retry: DEFAULT_RETRY, timeoutMs: 30_000, now: Date.now });
 * const { manifest, source } = await manifests.get('mlp-classifier');
 */
export function createManifests(deps: ManifestsDeps): Manifests {
  return {
    async get(id, signal, version) {
      const key = version === undefined ? manifestCacheKey(id) : `${manifestCacheKey(id)}@${version}`;
      const query = version === undefined ? '' : `?version=${encodeURIComponent(version)}`;
      const view = await deps.trust?.contact();
      const keys = view ? view.releaseKeys : await deps.trustedKeys!;
      let envelope: unknown;
      let source: ManifestSource = 'network';
      try {
        // The edge was out of reach for the record a moment ago: go to the store at once.
        if (view?.offline) throw view.offline;
        envelope = await fetchDocument(`${deps.edge}/v1/models/${encodeURIComponent(id)}/manifest${query}`, deps, {
          bound: manifestBound(view?.record, id),
          what: `manifest of ${id}`,
          missingOk: false,
          signal,
        });
      } catch (err) {
        const e = toTandemError(err);
        if (e.code !== 'offline' && e.code !== 'origin_unavailable') throw e;
        envelope = await deps.store.get(key);
        if (envelope === undefined) throw e;
        source = 'cache';
      }
      const { manifest, payload } = await verifyManifest(envelope, keys, deps.now());
      if (manifest.id !== id) throw new TandemError('manifest_invalid', `asked for ${id}, the edge sent a manifest for ${manifest.id}`);
      if (version !== undefined && manifest.version !== version)
        throw new TandemError('manifest_invalid', `asked for ${id}@${version}, the edge sent ${manifest.version}`);
      if (view) await deps.trust!.check(view, manifest, payload, version);
      if (source === 'network') await deps.store.set(key, envelope);
      return { manifest, source };
    },
    clear: () => deps.store.clear(),
  };
}
