import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createApp } from '../app.ts';
import { ORIGIN_LIST_KEY, OriginListCache, parseOriginList, type OriginListStore } from './origin-list.ts';
import { OriginPool } from './pool.ts';
import { apiKeysVar, KEYS, testEnv } from '../test-support.ts';

/** An in-memory store that counts reads. */
function memoryStore(initial?: string) {
  const objects = new Map<string, string>(initial === undefined ? [] : [[ORIGIN_LIST_KEY, initial]]);
  let reads = 0;
  const store: OriginListStore = {
    get: async (key) => {
      reads++;
      const text = objects.get(key);
      return text === undefined ? null : { text: async () => text };
    },
    put: async (key, value) => void objects.set(key, value),
    delete: async (key) => void objects.delete(key),
  };
  return { store, objects, reads: () => reads };
}

describe('parseOriginList', () => {
  it('takes http(s) base URLs, as ORIGINS does', () => {
    expect(parseOriginList({ origins: ['http://a.test/', 'https://b.test:8443'] })).toEqual(['http://a.test', 'https://b.test:8443']);
    expect(() => parseOriginList({ origins: ['ftp://a.test'] })).toThrow(/not an http\(s\) base URL/);
    expect(() => parseOriginList(['http://a.test'])).toThrow(/\{ "origins"/);
  });
});

describe('OriginListCache', () => {
  const later: Promise<unknown>[] = [];
  const waitUntil = (p: Promise<unknown>) => void later.push(p);

  it('reads once, serves the copy within the TTL, then refreshes in the background', async () => {
    const { store, objects, reads } = memoryStore(JSON.stringify({ origins: ['http://a.test'] }));
    const cache = new OriginListCache();
    expect(await cache.current(store, 1000, 0, waitUntil)).toEqual(['http://a.test']);
    expect(await cache.current(store, 1000, 999, waitUntil)).toEqual(['http://a.test']);
    expect(reads()).toBe(1);
    objects.set(ORIGIN_LIST_KEY, JSON.stringify({ origins: ['http://b.test'] }));
    // Stale: this request still gets the old list and does not wait; the refresh lands for the next one.
    expect(await cache.current(store, 1000, 1000, waitUntil)).toEqual(['http://a.test']);
    await Promise.all(later);
    expect(await cache.current(store, 1000, 1001, waitUntil)).toEqual(['http://b.test']);
    expect(reads()).toBe(2);
  });

  it('no override is undefined; a stored one applies at once in the isolate that stores it', async () => {
    const { store, objects } = memoryStore();
    const cache = new OriginListCache();
    expect(await cache.current(store, 1000, 0, waitUntil)).toBeUndefined();
    await cache.store(store, ['http://c.test'], 'ops', 10);
    expect(await cache.current(store, 1000, 11, waitUntil)).toEqual(['http://c.test']);
    expect(JSON.parse(objects.get(ORIGIN_LIST_KEY)!)).toMatchObject({ origins: ['http://c.test'], updated_by: 'ops' });
    await cache.store(store, undefined, 'ops', 20);
    expect(objects.has(ORIGIN_LIST_KEY)).toBe(false);
    expect(await cache.current(store, 1000, 21, waitUntil)).toBeUndefined();
  });

  it('a read that started before a store does not bring the old list back', async () => {
    const { store } = memoryStore(JSON.stringify({ origins: ['http://old.test'] }));
    const cache = new OriginListCache();
    await cache.current(store, 0, 0, waitUntil);
    let release = () => undefined as void;
    const gate = new Promise<void>((r) => (release = r));
    // Reads the old list, then answers only after the store below.
    const slow: OriginListStore = {
      ...store,
      get: async (key) => {
        const old = await store.get(key);
        await gate;
        return old;
      },
    };
    await cache.current(slow, 0, 1, waitUntil);
    await cache.store(store, ['http://new.test'], 'ops', 2);
    release();
    await Promise.all(later);
    expect(await cache.current(store, 1000, 3, waitUntil)).toEqual(['http://new.test']);
  });

  it('keeps the last good list when the stored one is unreadable', async () => {
    const error = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const { store, objects } = memoryStore(JSON.stringify({ origins: ['http://a.test'] }));
    const cache = new OriginListCache();
    await cache.current(store, 0, 0, waitUntil);
    objects.set(ORIGIN_LIST_KEY, '{"origins": "nope"}');
    await cache.current(store, 0, 1, waitUntil);
    await Promise.all(later);
    expect(await cache.current(store, 1000, 2, waitUntil)).toEqual(['http://a.test']);
    expect(error).toHaveBeenCalledWith(expect.stringContaining('origin_list_unreadable'));
    error.mockRestore();
  });
});

describe('OriginPool.setOrigins', () => {
  it('keeps the state of origins that stay and starts new ones fresh', () => {
    const pool = new OriginPool(['http://a.test', 'http://b.test'], { failureThreshold: 1, cooldownMs: 1000 });
    const a = pool.origins[0]!;
    pool.begin(a, 0);
    pool.fail(a, 0); // breaker open
    pool.setOrigins(['http://a.test', 'http://c.test']);
    expect(pool.urls()).toEqual(['http://a.test', 'http://c.test']);
    expect(pool.origins[0]).toBe(a);
    expect(pool.status(1).map((o) => o.breaker)).toEqual(['open', 'closed']);
    expect(pool.pick(1, new Set())?.url).toBe('http://c.test');
  });
});

describe('admin routes /v1/edge/origins', () => {
  const app = createApp({ log: { write: () => undefined } });
  let vars: Env;
  const call = async (path: string, init: RequestInit = {}, environment: Env = vars) => {
    const ctx = createExecutionContext();
    const res = await app.fetch(new Request(`https://edge.test${path}`, init), environment, ctx);
    await waitOnExecutionContext(ctx);
    return res;
  };
  const admin = { authorization: `Bearer ${KEYS.admin}`, 'content-type': 'application/json' };
  const infer = () =>
    call('/v2/models/m/versions/1.0.0/infer', {
      method: 'POST',
      body: '{"inputs":[]}',
      headers: { authorization: `Bearer ${KEYS.infer}`, 'content-type': 'application/json' },
    });
  const served: string[] = [];

  beforeAll(async () => {
    vars = testEnv({
      ORIGINS: 'http://origin-a.test',
      ORIGIN_TOKEN: 'origin-token',
      API_KEYS: await apiKeysVar(),
      // Every request refreshes the override in the background, as another isolate would after its TTL.
      TUNING: JSON.stringify({ readinessTtlMs: 1e9, originListTtlMs: 0 }),
    });
  });

  afterEach(async () => {
    vi.restoreAllMocks();
  });

  const mockOrigins = () =>
    vi.spyOn(globalThis, 'fetch').mockImplementation(async (input, init) => {
      const url = new Request(input as RequestInfo, init).url;
      served.push(new URL(url).origin);
      return new Response('{"outputs":[]}', { status: 200, headers: { 'content-type': 'application/json' } });
    });

  it('need the admin scope, and refuse a bad list', async () => {
    expect((await call('/v1/edge/origins', { headers: { authorization: `Bearer ${KEYS.infer}` } })).status).toBe(403);
    const put = (body: string) => call('/v1/edge/origins', { method: 'PUT', body, headers: admin });
    for (const body of ['not json', '{"origins":["ftp://x.test"]}', '{"origins":[]}', '["http://x.test"]']) {
      const res = await put(body);
      expect(res.status, body).toBe(400);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('bad_request');
    }
    expect(await env.MODELS.head(ORIGIN_LIST_KEY)).toBeNull();
  });

  it('PUT replaces the origins without a deploy; DELETE goes back to ORIGINS', async () => {
    mockOrigins();
    served.length = 0;
    expect((await infer()).headers.get('x-tandem-origin')).toBe('http://origin-a.test');

    const put = await call('/v1/edge/origins', {
      method: 'PUT',
      body: JSON.stringify({ origins: ['http://origin-b.test', 'http://origin-c.test'] }),
      headers: admin,
    });
    expect(put.status).toBe(200);
    const listed = (await (await call('/v1/edge/origins', { headers: admin })).json()) as {
      origins: string[];
      source: string;
      override: { updated_by: string };
      config: string[];
    };
    expect(listed).toMatchObject({
      origins: ['http://origin-b.test', 'http://origin-c.test'],
      source: 'override',
      override: { updated_by: 'admin' },
      config: ['http://origin-a.test'],
    });
    served.length = 0;
    for (let i = 0; i < 6; i++) expect((await infer()).status).toBe(200);
    expect(new Set(served)).toEqual(new Set(['http://origin-b.test', 'http://origin-c.test']));

    const back = await call('/v1/edge/origins', { method: 'DELETE', headers: admin });
    expect(await back.json()).toEqual({ origins: ['http://origin-a.test'], source: 'config' });
    expect((await infer()).headers.get('x-tandem-origin')).toBe('http://origin-a.test');
  });

  it('follows an override another isolate stored, within the TTL', async () => {
    mockOrigins();
    expect((await infer()).headers.get('x-tandem-origin')).toBe('http://origin-a.test');
    await env.MODELS.put(ORIGIN_LIST_KEY, JSON.stringify({ origins: ['http://origin-d.test'], updated_at: new Date().toISOString(), updated_by: 'elsewhere' }));
    // The first request after the write may still use the old list while the refresh runs.
    await infer();
    expect((await infer()).headers.get('x-tandem-origin')).toBe('http://origin-d.test');
    await env.MODELS.delete(ORIGIN_LIST_KEY);
    await infer();
    expect((await infer()).headers.get('x-tandem-origin')).toBe('http://origin-a.test');
  });
});
