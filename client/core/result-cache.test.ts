import { describe, expect, it, vi } from 'vitest';
import { createResultCache, isFresh, resultEntryBytes, resultsToEvict, type ResultEntry } from './result-cache.ts';
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

  it('a failing store degrades to this page’s memory with a warning, never an error', async () => {
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
    expect(warn).toHaveBeenCalledWith('results: set failed; continuing without the cache', expect.any(Error));
    // Kept in memory for this page; the next page, with the store still failing, misses.
    expect((await cache.lookup('k', '1'))?.entry.version).toBe('1');
    const nextPage = createResultCache(forgivingStore(broken, warn, 'results'), { ttlMs: 1 });
    await expect(nextPage.lookup('k', '1')).resolves.toBeUndefined();
    await expect(nextPage.invalidateOtherVersions('m', '1')).resolves.toBe(0);
    expect(warn).toHaveBeenCalledWith('results: get failed; continuing without the cache', expect.any(Error));
  });
});

describe('result cache memory', () => {
  it('answers a repeated input from memory, without a store read; deletions and eviction reach it', async () => {
    const store = memoryStore<ResultEntry>();
    const reads = vi.spyOn(store, 'get');
    const cache = createResultCache(store, { ttlMs: 60_000 });
    await cache.put('result:m@1:a', entry('1', 0));
    reads.mockClear(); // The put read the store once to learn its recency order.
    for (let i = 0; i < 3; i++) expect((await cache.lookup('result:m@1:a', '1'))?.entry.version).toBe('1');
    expect(reads).not.toHaveBeenCalled();
    // Another page of the same profile has no memory yet: it reads the store, then remembers.
    const other = createResultCache(store, { ttlMs: 60_000 });
    expect(await other.lookup('result:m@1:a', '1')).toBeDefined();
    expect(reads).toHaveBeenCalledWith('result:m@1:a');
    await other.size(); // Its recency order, read in the background on that hit, is in.
    reads.mockClear();
    expect(await other.lookup('result:m@1:a', '1')).toBeDefined();
    expect(reads).not.toHaveBeenCalled();
    await cache.deleteModel('m');
    expect(await cache.lookup('result:m@1:a', '1')).toBeUndefined();
    // Bounded: 65 entries put, the first is no longer in memory (read from the store again).
    for (let i = 0; i < 65; i++) await cache.put(`result:m@1:${i}`, entry('1', 0));
    reads.mockClear();
    expect(await cache.lookup('result:m@1:64', '1')).toBeDefined();
    expect(reads).not.toHaveBeenCalled();
    expect(await cache.lookup('result:m@1:0', '1')).toBeDefined();
    expect(reads).toHaveBeenCalledWith('result:m@1:0');
  });
});

describe('result cache bounds', () => {
  const sized = (floats: number, storedAt = 0): ResultEntry => ({
    modelId: 'm',
    version: '1',
    storedAt,
    computedOn: 'origin',
    outputs: { y: { dtype: 'float32', dims: [floats], data: new Float32Array(floats) } },
  });

  it('resultsToEvict: oldest first, until both bounds hold', () => {
    const rows = [
      { key: 'a', bytes: 50 },
      { key: 'b', bytes: 10 },
      { key: 'c', bytes: 10 },
    ];
    expect(resultsToEvict(rows, 3, 70)).toEqual([]);
    expect(resultsToEvict(rows, 2, 1000)).toEqual(['a']);
    expect(resultsToEvict(rows, 3, 15)).toEqual(['a', 'b']);
  });

  it('counts outputs, strings and keys', () => {
    expect(resultEntryBytes('k', sized(4))).toBe(256 + 2 + 2 + 16);
    const text: ResultEntry = { ...sized(0), outputs: { s: { dtype: 'string', dims: [2], data: ['ab', 'c'] } } };
    expect(resultEntryBytes('k', text)).toBe(256 + 2 + 2 + 6);
  });

  it('keeps at most maxEntries, evicting the least recently used (a hit counts as a use)', async () => {
    const store = memoryStore<ResultEntry>();
    let now = 0;
    const cache = createResultCache(store, { ttlMs: 1e9, maxEntries: 3, now: () => ++now });
    for (const k of ['a', 'b', 'c']) await cache.put(k, sized(1, ++now));
    expect(await cache.lookup('a', '1')).toBeDefined();
    await new Promise((r) => setTimeout(r, 0)); // The hit's bookkeeping is not awaited by lookup.
    await cache.put('d', sized(1, ++now));
    expect([...store.map.keys()].sort()).toEqual(['a', 'c', 'd']);
    expect(store.map.get('a')!.usedAt).toBeGreaterThan(0);
    expect(await cache.size()).toMatchObject({ entries: 3 });
  });

  it('keeps at most maxBytes, and never stores a single answer larger than that', async () => {
    const store = memoryStore<ResultEntry>();
    const one = resultEntryBytes('a', sized(100));
    const cache = createResultCache(store, { ttlMs: 1e9, maxBytes: 2 * one + 10 });
    for (const k of ['a', 'b', 'c']) await cache.put(k, sized(100));
    expect([...store.map.keys()].sort()).toEqual(['b', 'c']);
    expect((await cache.size()).bytes).toBeLessThanOrEqual(2 * one + 10);
    await cache.put('huge', sized(10_000));
    expect([...store.map.keys()].sort()).toEqual(['b', 'c']);
  });

  it('after a reload, the order comes from the store: usedAt, else storedAt', async () => {
    const store = memoryStore<ResultEntry>();
    store.map.set('old-but-used', { ...sized(1, 1), usedAt: 50 });
    store.map.set('stored-10', sized(1, 10));
    store.map.set('stored-20', sized(1, 20));
    const cache = createResultCache(store, { ttlMs: 1e9, maxEntries: 2 });
    await cache.put('new', sized(1, 60));
    expect([...store.map.keys()].sort()).toEqual(['new', 'old-but-used']);
  });

  it('deletions keep the count right, and deleteModel removes every version of one model only', async () => {
    const store = memoryStore<ResultEntry>();
    const cache = createResultCache(store, { ttlMs: 1e9, maxEntries: 3 });
    for (const k of ['result:m@1:a', 'result:m@2:b', 'result:mm@1:c']) await cache.put(k, sized(1));
    expect(await cache.deleteModel('m')).toBe(2);
    expect(await cache.size()).toMatchObject({ entries: 1 });
    for (const k of ['x', 'y']) await cache.put(k, sized(1));
    expect([...store.map.keys()].sort()).toEqual(['result:mm@1:c', 'x', 'y']);
  });
});
