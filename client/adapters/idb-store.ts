/**
 * IndexedDB as a `KeyValueStore`, through idb-keyval. One database per store: idb-keyval's `createStore`
 * opens a database with exactly one object store, and opening a second store name in an existing
 * database would need a version upgrade it does not do.
 */
import { clear, createStore, del, get, keys, set } from 'idb-keyval';
import type { KeyValueStore } from '../core/store.ts';

/**
 * @example
 * const results = idbStore<ResultEntry>('tandem-results', 'results');
 */
export function idbStore<V>(dbName: string, storeName: string): KeyValueStore<V> {
  let store: ReturnType<typeof createStore> | undefined;
  // Opened lazily: constructing the SDK must not touch IndexedDB (it may be blocked, e.g. in private mode).
  const handle = () => (store ??= createStore(dbName, storeName));
  return {
    get: (key) => get<V>(key, handle()),
    set: (key, value) => set(key, value, handle()),
    delete: (key) => del(key, handle()),
    keys: async () => (await keys(handle())).map(String),
    clear: () => clear(handle()),
  };
}
