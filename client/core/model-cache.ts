/**
 * The model cache: verified artifact bytes by SHA-256, with least-recently-used eviction when storage is
 * short. Bytes and bookkeeping live in two stores so marking an entry used rewrites a few bytes, not
 * megabytes. Only bytes whose hash has been checked may be `put` (the caller verifies first); `get`
 * re-checks the size, and the session is only created from bytes that hashed right once.
 */
import type { KeyValueStore } from './store.ts';

export interface ArtifactMeta {
  sha256: string;
  bytes: number;
  lastUsed: number;
  modelId: string;
  /** The model version the bytes were stored for (entries stored before versions were kept have none). */
  version?: string;
}

/**
 * Which entries to evict, least recently used first, so that `needBytes` fit in `availableBytes`
 * (what the storage estimate says is left). Returns undefined when even evicting everything is not enough.
 */
export function planEviction(
  entries: readonly ArtifactMeta[],
  needBytes: number,
  availableBytes: number,
  keep: ReadonlySet<string> = new Set(),
): string[] | undefined {
  if (needBytes <= availableBytes) return [];
  const victims: string[] = [];
  let free = availableBytes;
  for (const e of [...entries].sort((a, b) => a.lastUsed - b.lastUsed)) {
    if (keep.has(e.sha256)) continue;
    victims.push(e.sha256);
    free += e.bytes;
    if (needBytes <= free) return victims;
  }
  return undefined;
}

export interface ModelCacheDeps {
  /** Bytes left in the origin's storage quota, or undefined when unknown (then nothing is evicted up front). */
  availableBytes?: () => Promise<number | undefined>;
  now?: () => number;
}

export interface ModelCache {
  /**
   * The bytes under `sha256`, marked used. With `user`, the entry is recorded as that model version's
   * from now on (bytes one version shares with the next, or one model with another, belong to the last user).
   */
  get(sha256: string, user?: { modelId: string; version: string }): Promise<Uint8Array | undefined>;
  /** Stores verified bytes, evicting LRU entries first when the quota is short. Returns what was evicted. */
  put(meta: Omit<ArtifactMeta, 'lastUsed'>, bytes: Uint8Array): Promise<{ stored: boolean; evicted: string[] }>;
  delete(sha256: string): Promise<void>;
  /**
   * After a version change: deletes the entries of `modelId` stored for another version than `version`,
   * except `keep` (the bytes just used, which a new version may share with an old one). Returns their hashes.
   */
  deleteOtherVersions(modelId: string, version: string, keep?: string): Promise<string[]>;
  list(): Promise<ArtifactMeta[]>;
  clear(): Promise<void>;
}

export function createModelCache(bytesStore: KeyValueStore<Uint8Array>, metaStore: KeyValueStore<ArtifactMeta>, deps: ModelCacheDeps = {}): ModelCache {
  const now = deps.now ?? Date.now;
  const list = async () => (await Promise.all((await metaStore.keys()).map((k) => metaStore.get(k)))).filter((m): m is ArtifactMeta => m !== undefined);
  const remove = async (sha256: string) => {
    await bytesStore.delete(sha256);
    await metaStore.delete(sha256);
  };
  return {
    async get(sha256, user) {
      const [meta, bytes] = await Promise.all([metaStore.get(sha256), bytesStore.get(sha256)]);
      if (!meta || !bytes) return undefined;
      if (bytes.byteLength !== meta.bytes) {
        await remove(sha256); // A torn write: treat as a miss and let the download repair it.
        return undefined;
      }
      await metaStore.set(sha256, { ...meta, ...user, lastUsed: now() });
      return bytes;
    },
    async put(meta, bytes) {
      const available = await deps.availableBytes?.();
      let evicted: string[] = [];
      if (available !== undefined) {
        const plan = planEviction(await list(), bytes.byteLength, available, new Set([meta.sha256]));
        if (plan === undefined) return { stored: false, evicted };
        for (const sha of plan) await remove(sha);
        evicted = plan;
      }
      await bytesStore.set(meta.sha256, bytes);
      await metaStore.set(meta.sha256, { ...meta, lastUsed: now() });
      return { stored: true, evicted };
    },
    delete: remove,
    async deleteOtherVersions(modelId, version, keep) {
      const doomed = (await list()).filter((m) => m.modelId === modelId && m.version !== version && m.sha256 !== keep).map((m) => m.sha256);
      for (const sha of doomed) await remove(sha);
      return doomed;
    },
    list,
    async clear() {
      await bytesStore.clear();
      await metaStore.clear();
    },
  };
}
