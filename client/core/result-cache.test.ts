import { describe, expect, it, vi } from 'vitest';
import { createResultCache, isFresh, type ResultEntry } from './result-cache.ts';
import { forgivingStore, memoryStore, type KeyValueStore } from './store.ts';

const entry = (version: string, storedAt: number): ResultEntry => ({
  modelId: 'm',
  version,
  storedAt,
  computedOn: 'device',
  outputs: { y: { dtype: 'float32', dims: [1], data: new Float32Array([1]) } },
});

describe('result cache', () => {
  it('is fresh within the TTL and stale after it, and stale entries are still returned, marked', async () => {
    let now = 1000;
    const cache = createResultCache(memoryStore(), { ttlMs: 500, now: () => now });
    await cache.put('result:m@1.0.0:k', entry('1.0.0', now));
    now = 1499;
    expect(await cache.lookup('result:m@1.0.0:k', '1.0.0')).toMatchObject({ fresh: true, ageMs: 499 });
    now = 1500;
    expect(await cache.lookup('result:m@1.0.0:k', '1.0.0')).toMatchObject({ fresh: false, ageMs: 500 });
  });

  it('never returns an entry of another version, even under the same key', async () => {
    const cache = createResultCache(memoryStore(), { ttlMs: 1e9, now: () => 0 });
    await cache.put('k', entry('1.0.0', 0));
    expect(await cache.lookup('k', '1.1.0')).toBeUndefined();
    expect(isFresh(entry('1.0.0', 0), '1.1.0', 0, 1e9)).toBe(false);
  });

  it('invalidates the other versions of a model when a version is seen, and only them', async () => {
    const store = memoryStore<ResultEntry>();
    const cache = createResultCache(store, { ttlMs: 1e9 });
    await cache.put('result:m@1.0.0:a', entry('1.0.0', 0));
    await cache.put('result:m@1.1.0:b', entry('1.1.0', 0));
    await cache.put('result:mm@1.0.0:c', entry('1.0.0', 0));
    expect(await cache.invalidateOtherVersions('m', '1.1.0')).toBe(1);
    expect([...store.map.keys()].sort()).toEqual(['result:m@1.1.0:b', 'result:mm@1.0.0:c']);
  });

  it('deleteVersions removes the revoked versions of one model only', async () => {
    const store = memoryStore<ResultEntry>();
    const cache = createResultCache(store, { ttlMs: 1e9 });
    for (const key of ['result:m@1.0.0:a', 'result:m@1.1.0:b', 'result:m@1.1.0:c', 'result:m@1.1.00:d', 'result:mm@1.1.0:e'])
      await cache.put(key, entry('1.1.0', 0));
    expect(await cache.deleteVersions('m', ['1.1.0'])).toBe(2);
    expect([...store.map.keys()].sort()).toEqual(['result:m@1.0.0:a', 'result:m@1.1.00:d', 'result:mm@1.1.0:e']);
  });

  it('a failing store degrades to a miss with a warning, never an error', async () => {
    const broken: KeyValueStore<ResultEntry> = {
      get: () => Promise.reject(new Error('QuotaExceededError')),
      set: () => Promise.reject(new Error('QuotaExceededError')),
      delete: () => Promise.reject(new Error('x')),
      keys: () => Promise.reject(new Error('x')),
      clear: () => Promise.reject(new Error('x')),
    };
    const warn = vi.fn();
    const cache = createResultCache(forgivingStore(broken, warn, 'results'), { ttlMs: 1 });
    await expect(cache.put('k', entry('1', 0))).resolves.toBeUndefined();
    await expect(cache.lookup('k', '1')).resolves.toBeUndefined();
    await expect(cache.invalidateOtherVersions('m', '1')).resolves.toBe(0);
    expect(warn).toHaveBeenCalledWith('results: get failed; continuing without the cache', expect.any(Error));
  });
});
