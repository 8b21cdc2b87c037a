/**
 * The result cache (../core/result-cache.ts) as a lazy chunk, out of the main-thread SDK
 * (client/bundle-size.test.ts). Its import starts when the SDK is created, so it is in by the first run;
 * a run that comes sooner waits for it. A chunk that fails to load (a dropped network, a redeploy) is a
 * cache that holds nothing, as a failing store is: a run is never failed by its cache, and the next use
 * tries the import again.
 */
import { loadOnce } from '../core/load-once.ts';
import type { KeyValueStore } from '../core/store.ts';
import type { ResultCache, ResultCacheOptions, ResultEntry } from '../core/result-cache.ts';

/**
 * @example
 * const results = lazyResultCache(store, { ttlMs: 60_000 });
 * await results.lookup(key, '1.0.0'); // undefined until something is put
 */
export function lazyResultCache(store: KeyValueStore<ResultEntry>, options: ResultCacheOptions): ResultCache {
  const cache = loadOnce(() => import('../core/result-cache.ts').then((m) => m.createResultCache(store, options)));
  void cache().catch(() => undefined);
  // Each call on the loaded cache; what it answers when the chunk could not be had.
  const call =
    <A extends unknown[], R>(use: (c: ResultCache, ...args: A) => Promise<R>, unavailable: R) =>
    (...args: A): Promise<R> =>
      cache().then(
        (c) => use(c, ...args),
        () => unavailable,
      );
  return {
    lookup: call((c, key: string, version: string) => c.lookup(key, version), undefined),
    put: call((c, key: string, entry: ResultEntry) => c.put(key, entry), undefined),
    invalidateOtherVersions: call((c, id: string, version: string) => c.invalidateOtherVersions(id, version), 0),
    deleteVersions: call((c, id: string, versions: readonly string[]) => c.deleteVersions(id, versions), 0),
    deleteModel: call((c, id: string) => c.deleteModel(id), 0),
    size: call((c) => c.size(), { entries: 0, bytes: 0 }),
    clear: call((c) => c.clear(), undefined),
  };
}
