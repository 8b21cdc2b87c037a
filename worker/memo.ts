/**
 * Memoizes async loads by key: concurrent callers share one in-flight promise, a rejection is evicted so
 * the next caller retries, and the oldest entries go past `maxEntries`.
 */
export class PromiseMemo<T> {
  private readonly entries = new Map<string, Promise<T>>();

  constructor(private readonly maxEntries = 256) {}

  get(key: string, load: () => Promise<T>): Promise<T> {
    const hit = this.entries.get(key);
    if (hit) return hit;
    const promise = load();
    this.entries.set(key, promise);
    promise.catch(() => {
      if (this.entries.get(key) === promise) this.entries.delete(key);
    });
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
    return promise;
  }

  get size(): number {
    return this.entries.size;
  }
}
