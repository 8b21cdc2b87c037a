import { describe, expect, it } from 'vitest';
import { TandemError } from '../../protocol/errors.ts';
import { authorize, findApiKey, hashApiKey, parseApiKeys, presentedKey, VerifiedKeyCache, type ApiKeyRecord } from './api-keys.ts';

describe('API keys', () => {
  it('finds a key by its hash and nothing else', async () => {
    const keys = parseApiKeys(
      JSON.stringify([
        { name: 'a', sha256: await hashApiKey('key-a') },
        { name: 'b', sha256: await hashApiKey('key-b'), scopes: ['catalog'] },
      ]),
    );
    expect((await findApiKey('key-b', keys))?.name).toBe('b');
    expect(await findApiKey('key-c', keys)).toBeUndefined();
    expect(await findApiKey('', keys)).toBeUndefined();
  });

  it('accepts a comma list of hashes with default scopes', async () => {
    const keys = parseApiKeys(`${await hashApiKey('x')}, ${await hashApiKey('y')}`);
    expect(keys.map((k) => k.scopes)).toEqual([
      ['infer', 'catalog'],
      ['infer', 'catalog'],
    ]);
  });

  it('rejects malformed records at load', () => {
    expect(() => parseApiKeys('[{"sha256":"nothex"}]')).toThrow(/64 lowercase hex/);
    expect(() => parseApiKeys(`[{"sha256":"${'a'.repeat(64)}","scopes":["root"]}]`)).toThrow(/scopes/);
  });

  it('checks scopes and model lists (403)', () => {
    const [key] = parseApiKeys(`[{"name":"k","sha256":"${'a'.repeat(64)}","scopes":["infer"],"models":["m"]}]`);
    expect(() => authorize(key!, 'infer', 'm')).not.toThrow();
    const denied = (() => {
      try {
        authorize(key!, 'infer', 'other');
      } catch (e) {
        return e;
      }
    })();
    expect(denied).toBeInstanceOf(TandemError);
    expect((denied as TandemError).code).toBe('forbidden');
    expect(() => authorize(key!, 'admin')).toThrow(/admin/);
  });

  it('reads the key from Authorization or x-api-key', () => {
    expect(presentedKey(new Headers({ authorization: 'Bearer abc' }))).toBe('abc');
    expect(presentedKey(new Headers({ 'x-api-key': 'abc' }))).toBe('abc');
    expect(presentedKey(new Headers({ authorization: 'bearer abc' }))).toBe('abc');
    expect(presentedKey(new Headers({ authorization: 'Basic abc' }))).toBeUndefined();
    // What the origin refuses, the edge refuses too (protocol/bearer-token.ts): not a token68.
    expect(presentedKey(new Headers({ authorization: 'Bearer a,b' }))).toBeUndefined();
    expect(presentedKey(new Headers())).toBeUndefined();
  });

  it('remembers a verified key for its TTL only, and never an unknown one', async () => {
    const keys: ApiKeyRecord[] = parseApiKeys(JSON.stringify([{ name: 'a', sha256: await hashApiKey('key-a') }]));
    const cache = new VerifiedKeyCache(keys, 1000);
    expect((await cache.find('key-a', 0))?.name).toBe('a');
    expect(await cache.find('key-b', 0)).toBeUndefined();
    // Revoke a and add b behind the cache's back: a is still remembered within the TTL, b is seen at once.
    keys.splice(0, 1, ...parseApiKeys(JSON.stringify([{ name: 'b', sha256: await hashApiKey('key-b') }])));
    expect((await cache.find('key-a', 999))?.name).toBe('a');
    expect((await cache.find('key-b', 999))?.name).toBe('b');
    expect(await cache.find('key-a', 1000)).toBeUndefined();
    const uncached = new VerifiedKeyCache(keys, 0);
    expect((await uncached.find('key-b', 0))?.name).toBe('b');
    keys.splice(0, 1);
    expect(await uncached.find('key-b', 0)).toBeUndefined();
  });
});
