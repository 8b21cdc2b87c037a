import { afterEach, describe, expect, it, vi } from 'vitest';
import { memoryStore } from '../core/store.ts';
import type { ResultEntry } from '../core/result-cache.ts';
import { lazyResultCache } from './lazy-result-cache.ts';

const entry = (version: string): ResultEntry => ({ modelId: 'm', version, storedAt: 0, backend: 'wasm', outputs: {} }) as unknown as ResultEntry;

afterEach(() => {
  vi.doUnmock('../core/result-cache.ts');
  vi.resetModules();
});

describe('lazyResultCache', () => {
  it('is the result cache once its chunk is in: what is put is found, for its version only', async () => {
    const results = lazyResultCache(memoryStore<ResultEntry>(), { ttlMs: 60_000, now: () => 0 });
    expect(await results.lookup('k', '1.0.0')).toBeUndefined();
    await results.put('k', entry('1.0.0'));
    expect((await results.lookup('k', '1.0.0'))?.entry).toMatchObject({ version: '1.0.0' });
    expect(await results.lookup('k', '2.0.0')).toBeUndefined();
    expect(await results.size()).toMatchObject({ entries: 1 });
  });

  it('is a cache that holds nothing when its chunk cannot be loaded: a run is never failed by it', async () => {
    vi.resetModules();
    vi.doMock('../core/result-cache.ts', () => {
      throw new Error('chunk failed to load');
    });
    const { lazyResultCache: lazy } = await import('./lazy-result-cache.ts');
    const results = lazy(memoryStore<ResultEntry>(), { ttlMs: 60_000 });
    await expect(results.put('k', entry('1.0.0'))).resolves.toBeUndefined();
    await expect(results.lookup('k', '1.0.0')).resolves.toBeUndefined();
    await expect(results.deleteModel('m')).resolves.toBe(0);
    await expect(results.size()).resolves.toEqual({ entries: 0, bytes: 0 });
  });
});
