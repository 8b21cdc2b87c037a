import { describe, expect, it } from 'vitest';
import { CLIENT_ID_KEY, persistentClientId } from './client-id.ts';
import { forgivingStore, memoryStore, type KeyValueStore } from './core/store.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('persistentClientId', () => {
  it('makes a UUID on first use, keeps it, and every later page load of the install reads the same one', async () => {
    const store = memoryStore<string>();
    const first = persistentClientId({ store });
    expect(store.map.size).toBe(0); // Nothing is touched before the first request.
    const id = await first();
    expect(id).toMatch(UUID);
    expect(store.map.get(CLIENT_ID_KEY)).toBe(id);
    expect(await first()).toBe(id);
    expect(await persistentClientId({ store })()).toBe(id);
    expect(await persistentClientId({ store: memoryStore<string>() })()).not.toBe(id);
  });

  it('concurrent first calls read and write once', async () => {
    const store = memoryStore<string>();
    let writes = 0;
    const counted: KeyValueStore<string> = { ...store, set: async (k, v) => void (writes++, await store.set(k, v)) };
    const clientId = persistentClientId({ store: counted });
    const ids = await Promise.all([clientId(), clientId(), clientId()]);
    expect(new Set(ids).size).toBe(1);
    expect(writes).toBe(1);
  });

  it('replaces a stored value that is not a usable header value', async () => {
    const store = memoryStore<string>();
    await store.set(CLIENT_ID_KEY, 'two\nlines');
    const id = await persistentClientId({ store, randomId: () => 'fresh-id' })();
    expect(id).toBe('fresh-id');
    expect(store.map.get(CLIENT_ID_KEY)).toBe('fresh-id');
  });

  it('keeps the id another tab wrote in between (last write wins, both tabs agree)', async () => {
    const store = memoryStore<string>();
    const racing: KeyValueStore<string> = { ...store, set: async (k) => void (await store.set(k, 'other-tab')) };
    expect(await persistentClientId({ store: racing, randomId: () => 'mine' })()).toBe('other-tab');
  });

  it('with IndexedDB unavailable: a warning, and an id for this page load all the same', async () => {
    const broken: KeyValueStore<string> = {
      get: () => Promise.reject(new DOMException('blocked', 'InvalidStateError')),
      set: () => Promise.reject(new DOMException('blocked', 'InvalidStateError')),
      delete: () => Promise.reject(new Error('blocked')),
      keys: () => Promise.reject(new Error('blocked')),
      clear: () => Promise.reject(new Error('blocked')),
    };
    const warnings: string[] = [];
    const clientId = persistentClientId({ store: forgivingStore(broken, (m) => warnings.push(m), 'client id store') });
    const id = await clientId();
    expect(id).toMatch(UUID);
    expect(await clientId()).toBe(id);
    expect(warnings.some((w) => w.startsWith('client id store: get failed'))).toBe(true);
  });
});
