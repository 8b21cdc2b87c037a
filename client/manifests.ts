/**
 * Where a model's manifest comes from: the edge, revalidated on every load, verified with the app's
 * pinned keys and kept in the manifest store; and, when the edge cannot be reached (offline start), the
 * last one this app verified, verified again, because the store is not trusted either.
 */
import { TandemError, toTandemError } from '../protocol/errors.ts';
import type { TrustedKeySet } from '../protocol/keys.ts';
import type { Manifest } from '../protocol/manifest.ts';
import { verifyManifest } from '../protocol/signed-manifest.ts';
import { manifestCacheKey } from './core/cache-keys.ts';
import { errorFromFetchFailure, errorFromResponse } from './core/error-mapping.ts';
import { retry, type RetryDeps, type RetryPolicy } from './core/retry.ts';
import type { KeyValueStore } from './core/store.ts';

/** Where a verified manifest came from. */
export type ManifestSource = 'network' | 'cache';

export interface ManifestsDeps {
  /** The edge's base URL, without a trailing slash. */
  edge: string;
  fetch: typeof fetch;
  /** The headers of every edge request (API key, client id). */
  headers: () => Promise<Record<string, string>>;
  trustedKeys: Promise<TrustedKeySet>;
  /** Signed envelopes as the edge sent them; failures must read as misses (a `forgivingStore`). */
  store: KeyValueStore<unknown>;
  online: () => boolean;
  retry: RetryPolicy;
  retryDeps?: RetryDeps;
}

export interface Manifests {
  /**
   * @throws TandemError `manifest_signature_invalid`, `manifest_invalid`, or, with nothing stored, the
   *   edge's error (`offline`, `origin_unavailable`, `not_found`, …).
   */
  get(id: string, signal?: AbortSignal): Promise<{ manifest: Manifest; source: ManifestSource }>;
  clear(): Promise<void>;
}

/**
 * @example
 * const manifests = createManifests({ edge, fetch, headers, trustedKeys, store, online, retry: DEFAULT_RETRY });
 * const { manifest, source } = await manifests.get('mlp-classifier');
 */
export function createManifests(deps: ManifestsDeps): Manifests {
  async function fromEdge(id: string, signal: AbortSignal | undefined): Promise<unknown> {
    const headers = await deps.headers();
    return retry(
      async () => {
        let res: Response;
        try {
          // Revalidated each load (a 304 is cheap): a new version is seen at once, not after max-age.
          res = await deps.fetch(`${deps.edge}/v1/models/${encodeURIComponent(id)}/manifest`, { headers, cache: 'no-cache', ...(signal ? { signal } : {}) });
        } catch (err) {
          throw errorFromFetchFailure(err, deps.online(), `manifest of ${id}`);
        }
        if (!res.ok) throw await errorFromResponse(res);
        return res.json() as Promise<unknown>;
      },
      deps.retry,
      signal ? { signal } : {},
      deps.retryDeps,
    );
  }

  return {
    async get(id, signal) {
      const trusted = await deps.trustedKeys;
      let envelope: unknown;
      try {
        envelope = await fromEdge(id, signal);
      } catch (err) {
        const e = toTandemError(err);
        if (e.code !== 'offline' && e.code !== 'origin_unavailable') throw e;
        const cached = await deps.store.get(manifestCacheKey(id));
        if (cached === undefined) throw e;
        return { manifest: (await verifyManifest(cached, trusted)).manifest, source: 'cache' };
      }
      const { manifest } = await verifyManifest(envelope, trusted);
      if (manifest.id !== id) throw new TandemError('manifest_invalid', `asked for ${id}, the edge sent a manifest for ${manifest.id}`);
      await deps.store.set(manifestCacheKey(id), envelope);
      return { manifest, source: 'network' };
    },
    clear: () => deps.store.clear(),
  };
}
