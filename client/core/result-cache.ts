/**
 * The result cache: answers already computed, by model version and input hash.
 *
 * Freshness is a TTL from when the answer was stored. An expired entry is kept: it is served only as a
 * last resort (device and origin both failed), marked `stale`. Entries are only ever looked up under the
 * current manifest version's key, so an older version's answer is never returned; `invalidateOtherVersions`
 * also deletes them when a new version is seen, so they stop taking space.
 */
import type { NamedTensors } from '../../protocol/tensor.ts';
import { resultKeyPrefix } from './cache-keys.ts';
import type { KeyValueStore } from './store.ts';

export interface ResultEntry {
  modelId: string;
  version: string;
  outputs: NamedTensors;
  /** Epoch ms. */
  storedAt: number;
  /** Where the answer was computed. */
  computedOn: 'device' | 'origin';
  /** The device backend that computed it, when it was the device. */
  backend?: 'webgpu' | 'wasm';
}

export interface CachedResult {
  entry: ResultEntry;
  fresh: boolean;
  ageMs: number;
}

/** Whether an entry is fresh for `version` at `now`: same version and younger than the TTL. */
export function isFresh(entry: ResultEntry, version: string, now: number, ttlMs: number): boolean {
  return entry.version === version && now - entry.storedAt < ttlMs;
}

export interface ResultCacheOptions {
  /** How long a result stays fresh. */
  ttlMs: number;
  now?: () => number;
}

export interface ResultCache {
  /** The entry under `key`, fresh or stale, or undefined. Never an entry of another version. */
  lookup(key: string, version: string): Promise<CachedResult | undefined>;
  put(key: string, entry: ResultEntry): Promise<void>;
  /** Deletes every entry of `modelId` whose version is not `version`; returns how many. */
  invalidateOtherVersions(modelId: string, version: string): Promise<number>;
  /** Deletes every entry of these versions of `modelId` (revoked ones); returns how many. */
  deleteVersions(modelId: string, versions: readonly string[]): Promise<number>;
  clear(): Promise<void>;
}

export function createResultCache(store: KeyValueStore<ResultEntry>, options: ResultCacheOptions): ResultCache {
  const now = options.now ?? Date.now;
  const deleteWhere = async (doomed: (key: string) => boolean) => {
    const keys = (await store.keys()).filter(doomed);
    await Promise.all(keys.map((k) => store.delete(k)));
    return keys.length;
  };
  return {
    async lookup(key, version) {
      const entry = await store.get(key);
      if (!entry || entry.version !== version) return undefined;
      const t = now();
      return { entry, fresh: isFresh(entry, version, t, options.ttlMs), ageMs: t - entry.storedAt };
    },
    put: (key, entry) => store.set(key, entry),
    async invalidateOtherVersions(modelId, version) {
      const keep = resultKeyPrefix(modelId, version);
      return deleteWhere((k) => k.startsWith(`result:${modelId}@`) && !k.startsWith(keep));
    },
    deleteVersions: (modelId, versions) => deleteWhere((k) => versions.some((v) => k.startsWith(resultKeyPrefix(modelId, v)))),
    clear: () => store.clear(),
  };
}
