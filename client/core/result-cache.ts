/**
 * The result cache: answers already computed, by model version and input hash.
 *
 * Freshness is a TTL from when the answer was stored. An expired entry is kept: it is served only as a
 * last resort (device and origin both failed), marked `stale`. Entries are only ever looked up under the
 * current manifest version's key, so an older version's answer is never returned; `invalidateOtherVersions`
 * also deletes them when a new version is seen, so they stop taking space.
 *
 * It is bounded by entries and by bytes, least recently used out. The recency order lives in memory,
 * read once from the store (each entry carries when it was last used) on the first `put` or hit, and kept
 * from then on; another tab's writes are not seen until a reload, which at worst evicts a little early.
 *
 * The most recently used entries are also kept in memory (`HOT_ENTRIES`), so a repeated input is answered
 * without a store read: an IndexedDB read is most of a hit's time. An entry never changes under its key
 * (same model version, same input), so another tab cannot make the copy here wrong; a deletion in another
 * tab is seen here at the next reload.
 */
import type { NamedTensors, Tensor } from '../../protocol/tensor.ts';
import { resultKeyPrefix } from './cache-keys.ts';
import type { KeyValueStore } from './store.ts';

export interface ResultEntry {
  modelId: string;
  version: string;
  outputs: NamedTensors;
  /** Epoch ms. */
  storedAt: number;
  /** Epoch ms of the last hit; absent until the first one (then `storedAt` stands for it). */
  usedAt?: number;
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

/** What an entry is counted as against `maxBytes`: its outputs' data, its key, and a fixed 256 for the rest. */
export function resultEntryBytes(key: string, entry: ResultEntry): number {
  const tensorBytes = (t: Tensor) => (Array.isArray(t.data) ? t.data.reduce((sum, s) => sum + 2 * s.length, 0) : (t.data as ArrayBufferView).byteLength);
  return 256 + 2 * key.length + Object.entries(entry.outputs).reduce((sum, [name, t]) => sum + 2 * name.length + tensorBytes(t), 0);
}

/**
 * Which keys to evict, oldest first, so that at most `maxEntries` entries of at most `maxBytes` together
 * remain. `byRecency` lists every entry, least recently used first.
 * @example
 * resultsToEvict([{ key: 'a', bytes: 10 }, { key: 'b', bytes: 10 }], 1, 100); // ['a']
 */
export function resultsToEvict(byRecency: readonly { key: string; bytes: number }[], maxEntries: number, maxBytes: number): string[] {
  let count = byRecency.length;
  let bytes = byRecency.reduce((sum, e) => sum + e.bytes, 0);
  const victims: string[] = [];
  for (const e of byRecency) {
    if (count <= maxEntries && bytes <= maxBytes) break;
    victims.push(e.key);
    count--;
    bytes -= e.bytes;
  }
  return victims;
}

export interface ResultCacheOptions {
  /** How long a result stays fresh. */
  ttlMs: number;
  /** Entries kept at most. Default: no bound. */
  maxEntries?: number;
  /** Bytes kept at most (`resultEntryBytes`); a single larger answer is not kept. Default: no bound. */
  maxBytes?: number;
  now?: () => number;
}

export interface ResultCache {
  /** The entry under `key`, fresh or stale, or undefined. Never an entry of another version. */
  lookup(key: string, version: string): Promise<CachedResult | undefined>;
  /** Stores an entry, evicting the least recently used ones beyond the bounds. */
  put(key: string, entry: ResultEntry): Promise<void>;
  /** Deletes every entry of `modelId` whose version is not `version`; returns how many. */
  invalidateOtherVersions(modelId: string, version: string): Promise<number>;
  /** Deletes every entry of these versions of `modelId` (revoked ones); returns how many. */
  deleteVersions(modelId: string, versions: readonly string[]): Promise<number>;
  /** Deletes every entry of `modelId`, all versions; returns how many. */
  deleteModel(modelId: string): Promise<number>;
  /** Entries and bytes held (as this page knows them). */
  size(): Promise<{ entries: number; bytes: number }>;
  clear(): Promise<void>;
}

/** How many entries the page keeps in memory besides the store. */
const HOT_ENTRIES = 64;

export function createResultCache(store: KeyValueStore<ResultEntry>, options: ResultCacheOptions): ResultCache {
  const now = options.now ?? Date.now;
  const maxEntries = options.maxEntries ?? Number.POSITIVE_INFINITY;
  const maxBytes = options.maxBytes ?? Number.POSITIVE_INFINITY;
  /** Key → bytes, least recently used first (a Map keeps insertion order: a use re-inserts). */
  let recency: Promise<Map<string, number>> | undefined;
  const index = () =>
    (recency ??= (async () => {
      const rows = await Promise.all((await store.keys()).map(async (key) => ({ key, entry: await store.get(key) })));
      const known = rows.filter((r): r is { key: string; entry: ResultEntry } => r.entry !== undefined);
      known.sort((a, b) => (a.entry.usedAt ?? a.entry.storedAt) - (b.entry.usedAt ?? b.entry.storedAt));
      return new Map(known.map((r) => [r.key, resultEntryBytes(r.key, r.entry)]));
    })());
  /** The most recently used entries, least recent first. */
  const hot = new Map<string, ResultEntry>();
  const remember = (key: string, entry: ResultEntry) => {
    hot.delete(key);
    hot.set(key, entry);
    if (hot.size > HOT_ENTRIES) hot.delete(hot.keys().next().value!);
  };
  const deleteWhere = async (doomed: (key: string) => boolean) => {
    for (const k of [...hot.keys()]) if (doomed(k)) hot.delete(k);
    const keys = (await store.keys()).filter(doomed);
    if (recency) {
      const map = await recency;
      for (const k of keys) map.delete(k);
    }
    await Promise.all(keys.map((k) => store.delete(k)));
    return keys.length;
  };
  return {
    async lookup(key, version) {
      const entry = hot.get(key) ?? (await store.get(key));
      if (!entry || entry.version !== version) return undefined;
      remember(key, entry);
      const t = now();
      void index().then((map) => {
        const bytes = map.get(key);
        if (bytes === undefined) return void hot.delete(key); // Deleted meanwhile (evicted): not written back.
        map.delete(key);
        map.set(key, bytes);
        return store.set(key, { ...entry, usedAt: t });
      });
      return { entry, fresh: isFresh(entry, version, t, options.ttlMs), ageMs: t - entry.storedAt };
    },
    async put(key, entry) {
      const bytes = resultEntryBytes(key, entry);
      if (bytes > maxBytes || maxEntries < 1) return;
      // Written first, at once: the bookkeeping below may have to read the store.
      await store.set(key, entry);
      remember(key, entry);
      const map = await index();
      map.delete(key);
      map.set(key, bytes);
      const victims = resultsToEvict(
        [...map].map(([k, b]) => ({ key: k, bytes: b })),
        maxEntries,
        maxBytes,
      );
      for (const k of victims) {
        map.delete(k);
        hot.delete(k);
      }
      await Promise.all(victims.map((k) => store.delete(k)));
    },
    async invalidateOtherVersions(modelId, version) {
      const keep = resultKeyPrefix(modelId, version);
      return deleteWhere((k) => k.startsWith(`result:${modelId}@`) && !k.startsWith(keep));
    },
    deleteVersions: (modelId, versions) => deleteWhere((k) => versions.some((v) => k.startsWith(resultKeyPrefix(modelId, v)))),
    deleteModel: (modelId) => deleteWhere((k) => k.startsWith(`result:${modelId}@`)),
    async size() {
      const map = await index();
      return { entries: map.size, bytes: [...map.values()].reduce((a, b) => a + b, 0) };
    },
    async clear() {
      recency = Promise.resolve(new Map());
      hot.clear();
      await store.clear();
    },
  };
}
