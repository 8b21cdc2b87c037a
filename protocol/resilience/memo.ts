/**
 * Memoized in-flight work by key, for every tier: concurrent `load('mlp-classifier')` calls in the client
 * share one download and one session; concurrent reads of one manifest at the edge share one signature
 * check. A rejected promise is evicted so the next call tries again; the map is bounded, evicting the least
 * recently used settled entry first and never a pending one.
 */

export interface PromiseMemo<T> {
  get(key: string, create: () => Promise<T>): Promise<T>;
  delete(key: string): void;
  clear(): void;
  readonly size: number;
}

/**
 * `onEvict` hears of each settled entry the bound drops (not of `delete` or `clear`), so what it holds can be
 * released.
 * @example
 * const loads = memoizePromises<LoadedModel>(16, (key, model) => void model.then((m) => m.release()));
 * const model = await loads.get(`${id}:${placement}`, () => loadModel(id));
 */
export function memoizePromises<T>(maxEntries: number, onEvict?: (key: string, value: Promise<T>) => void): PromiseMemo<T> {
  if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new RangeError('maxEntries must be a positive integer');
  const entries = new Map<string, Promise<T>>();
  const settled = new Set<string>();
  return {
    get(key, create) {
      const existing = entries.get(key);
      if (existing) {
        // Refresh recency: Map keeps insertion order, so re-insert.
        entries.delete(key);
        entries.set(key, existing);
        return existing;
      }
      const promise = create();
      entries.set(key, promise);
      promise.then(
        () => {
          if (entries.get(key) === promise) settled.add(key);
        },
        () => {
          if (entries.get(key) === promise) {
            entries.delete(key);
            settled.delete(key);
          }
        },
      );
      while (entries.size > maxEntries) {
        const oldest = [...entries.keys()].find((k) => settled.has(k) && k !== key);
        if (oldest === undefined) break; // Everything else is still in flight: never drop a pending load.
        const dropped = entries.get(oldest)!;
        entries.delete(oldest);
        settled.delete(oldest);
        onEvict?.(oldest, dropped);
      }
      return promise;
    },
    delete(key) {
      entries.delete(key);
      settled.delete(key);
    },
    clear() {
      entries.clear();
      settled.clear();
    },
    get size() {
      return entries.size;
    },
  };
}
