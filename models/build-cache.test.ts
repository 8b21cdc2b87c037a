import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sampleManifest } from '../protocol/test-support/manifest-arbitrary.ts';
import { cacheEntryDir, canonicalJson, readCacheEntry, recipeCacheKey, writeCacheEntry } from './build-cache.ts';

let scratch: string;
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'tandem-cache-'));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

describe('recipeCacheKey', () => {
  it('depends on the params, not on their key order', async () => {
    const a = await recipeCacheKey({ id: 'm', version: '1.0.0', params: { x: 1, nested: { b: [1, 2], a: 'z' } } });
    const b = await recipeCacheKey({ id: 'm', version: '1.0.0', params: { nested: { a: 'z', b: [1, 2] }, x: 1 } });
    const c = await recipeCacheKey({ id: 'm', version: '1.0.0', params: { x: 2, nested: { b: [1, 2], a: 'z' } } });
    expect(a).toMatch(/^[0-9a-f]{64}$/);
    expect(b).toBe(a);
    expect(c).not.toBe(a);
    expect(canonicalJson({ b: [true, null, 'q'], a: 1.5 })).toBe('{"a":1.5,"b":[true,null,"q"]}');
  });
});

describe('cache entries', () => {
  const manifest = (sha: string) => {
    const m = sampleManifest({ id: `cached-${sha[0]}` });
    m.variants = [{ ...m.variants[0]!, artifact: { ...m.variants[0]!.artifact, path: 'model.onnx', bytes: 3, sha256: sha } }];
    return m;
  };

  it('round-trip, count a truncated artifact as a miss, and replace older entries of the same model', async () => {
    const m = manifest('a'.repeat(64));
    const old = cacheEntryDir(scratch, m, 'f'.repeat(64));
    await writeCacheEntry(old, m, new Map([['model.onnx', new Uint8Array([1, 2, 3])]]));
    expect(await readCacheEntry(old)).toEqual({ manifest: m, dir: old });

    const dir = cacheEntryDir(scratch, m, '0'.repeat(64));
    await writeCacheEntry(dir, m, new Map([['model.onnx', new Uint8Array([1, 2, 3])]]));
    expect(await readdir(scratch)).toEqual([`${m.id}@${m.version}-0000000000000000`]);

    await writeFile(join(dir, 'model.onnx'), new Uint8Array([1]));
    expect(await readCacheEntry(dir)).toBeUndefined();
    await writeFile(join(dir, 'manifest.json'), 'not json');
    expect(await readCacheEntry(dir)).toBeUndefined();
    expect(await readCacheEntry(join(scratch, 'absent'))).toBeUndefined();
  });

  it('keeps an entry another writer stored first', async () => {
    const m = manifest('b'.repeat(64));
    const dir = cacheEntryDir(scratch, m, '1'.repeat(64));
    const files = new Map([['model.onnx', new Uint8Array([4, 5, 6])]]);
    await Promise.all([writeCacheEntry(dir, m, files), writeCacheEntry(dir, m, files)]);
    expect(await readCacheEntry(dir)).toEqual({ manifest: m, dir });
  });
});
