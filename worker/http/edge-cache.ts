/**
 * A small cache interface over the Workers Cache API. A failing cache degrades to a miss with a warning;
 * it never fails a download. Tests and other runtimes pass their own store.
 */
export interface ResponseCache {
  get(key: string): Promise<Response | undefined>;
  put(key: string, response: Response): Promise<void>;
}

/** The Cache API's default cache, or a no-op where there is none. */
export function workersCache(): ResponseCache {
  const cache = (globalThis as { caches?: { default?: Cache } }).caches?.default;
  if (!cache) return { get: async () => undefined, put: async () => undefined };
  return {
    async get(key) {
      try {
        return await cache.match(key);
      } catch (err) {
        console.warn(JSON.stringify({ event: 'cache_warning', op: 'match', message: String(err) }));
        return undefined;
      }
    },
    async put(key, response) {
      try {
        await cache.put(key, response);
      } catch (err) {
        console.warn(JSON.stringify({ event: 'cache_warning', op: 'put', message: String(err) }));
      }
    },
  };
}
