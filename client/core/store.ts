/**
 * The small key-value interface every cache sits on. IndexedDB (idb-keyval) is one adapter
 * (`../adapters/idb-store.ts`); `memoryStore` is another, for tests and for apps that want no persistence.
 * Stores are passed in, never reached through a global.
 */

export interface KeyValueStore<V> {
  get(key: string): Promise<V | undefined>;
  set(key: string, value: V): Promise<void>;
  delete(key: string): Promise<void>;
  keys(): Promise<string[]>;
  clear(): Promise<void>;
}

/**
 * A store in a Map. Values are kept as given (no structured clone): callers must not mutate them.
 * @example
 * const store = memoryStore<Uint8Array>();
 */
export function memoryStore<V>(): KeyValueStore<V> & { readonly map: Map<string, V> } {
  const map = new Map<string, V>();
  return {
    map,
    get: async (key) => map.get(key),
    set: async (key, value) => void map.set(key, value),
    delete: async (key) => void map.delete(key),
    keys: async () => [...map.keys()],
    clear: async () => map.clear(),
  };
}

export type Warn = (message: string, cause?: unknown) => void;

/**
 * Wraps a store so that a failure (quota, a private-mode IndexedDB, a corrupt database) becomes a miss or a
 * no-op with a warning: a broken cache must never break inference.
 */
export function forgivingStore<V>(store: KeyValueStore<V>, warn: Warn, label: string): KeyValueStore<V> {
  const attempt = async <T>(what: string, fallback: T, run: () => Promise<T>): Promise<T> => {
    try {
      return await run();
    } catch (cause) {
      warn(`${label}: ${what} failed; continuing without the cache`, cause);
      return fallback;
    }
  };
  return {
    get: (key) => attempt('get', undefined, () => store.get(key)),
    set: (key, value) => attempt('set', undefined, () => store.set(key, value)),
    delete: (key) => attempt('delete', undefined, () => store.delete(key)),
    keys: () => attempt('keys', [], () => store.keys()),
    clear: () => attempt('clear', undefined, () => store.clear()),
  };
}
