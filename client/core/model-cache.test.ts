import { describe, expect, it } from 'vitest';
import { createModelCache, planEviction, type ArtifactMeta } from './model-cache.ts';
import { memoryStore } from './store.ts';

const meta = (sha256: string, bytes: number, lastUsed: number): ArtifactMeta => ({ sha256, bytes, lastUsed, modelId: sha256 });

describe('planEviction', () => {
  const entries = [meta('new', 50, 30), meta('old', 40, 10), meta('mid', 30, 20)];
  it('evicts nothing when it fits', () => expect(planEviction(entries, 10, 10)).toEqual([]));
  it('evicts least recently used first, only as many as needed', () => {
    expect(planEviction(entries, 60, 30)).toEqual(['old']);
    expect(planEviction(entries, 90, 30)).toEqual(['old', 'mid']);
  });
  it('never evicts a kept entry, and says when nothing would do', () => {
    expect(planEviction(entries, 60, 30, new Set(['old']))).toEqual(['mid']);
    expect(planEviction(entries, 1000, 0)).toBeUndefined();
  });
});

describe('model cache', () => {
  it('stores by sha256, marks use, and evicts LRU when the quota is short', async () => {
    let now = 0;
    let available = 100;
    const bytes = memoryStore<Uint8Array>();
    const cache = createModelCache(bytes, memoryStore(), { now: () => ++now, availableBytes: async () => available });
    await cache.put({ sha256: 'a', bytes: 40, modelId: 'a' }, new Uint8Array(40));
    await cache.put({ sha256: 'b', bytes: 40, modelId: 'b' }, new Uint8Array(40));
    await cache.get('a'); // 'a' is now more recent than 'b'.
    available = 20;
    expect(await cache.put({ sha256: 'c', bytes: 50, modelId: 'c' }, new Uint8Array(50))).toEqual({ stored: true, evicted: ['b'] });
    expect([...bytes.map.keys()].sort()).toEqual(['a', 'c']);
    available = 0;
    expect((await cache.put({ sha256: 'd', bytes: 500, modelId: 'd' }, new Uint8Array(500))).stored).toBe(false);
  });

  it('a torn entry (size differs from its record) is a miss and is removed', async () => {
    const bytes = memoryStore<Uint8Array>();
    const cache = createModelCache(bytes, memoryStore());
    await cache.put({ sha256: 'a', bytes: 4, modelId: 'a' }, new Uint8Array(4));
    bytes.map.set('a', new Uint8Array(2));
    expect(await cache.get('a')).toBeUndefined();
    expect(await cache.list()).toEqual([]);
  });

  it("deleteOtherVersions removes a model's other versions (and unversioned entries), never another model's nor the kept hash", async () => {
    const cache = createModelCache(memoryStore(), memoryStore());
    await cache.put({ sha256: 'a', bytes: 1, modelId: 'm', version: '1.0.0' }, new Uint8Array(1));
    await cache.put({ sha256: 'b', bytes: 1, modelId: 'm' }, new Uint8Array(1));
    await cache.put({ sha256: 'c', bytes: 1, modelId: 'm', version: '1.0.1' }, new Uint8Array(1));
    await cache.put({ sha256: 'd', bytes: 1, modelId: 'n', version: '1.0.0' }, new Uint8Array(1));
    await cache.put({ sha256: 'e', bytes: 1, modelId: 'm', version: '2.0.0' }, new Uint8Array(1));
    expect((await cache.deleteOtherVersions('m', '2.0.0', 'c')).sort()).toEqual(['a', 'b']);
    expect((await cache.list()).map((m) => m.sha256).sort()).toEqual(['c', 'd', 'e']);
  });

  it('get with a user records the entry as that model version (bytes a new version shares with the old)', async () => {
    const cache = createModelCache(memoryStore(), memoryStore());
    await cache.put({ sha256: 'a', bytes: 1, modelId: 'm', version: '1.0.0' }, new Uint8Array(1));
    await cache.get('a', { modelId: 'm', version: '1.1.0' });
    expect((await cache.list()).map((m) => `${m.modelId}@${m.version}`)).toEqual(['m@1.1.0']);
  });
});
