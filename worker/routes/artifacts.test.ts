/**
 * The artifact route under attack (issue 18, item 4): bytes swapped in R2 are never served as a success
 * nor cached, whole or by Range; repaired bytes are served at once; 304 only for artifacts that exist.
 */
import { env } from 'cloudflare:workers';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { sha256Hex } from '../../protocol/sha256.ts';
import { createApp } from '../app.ts';
import type { ResponseCache } from '../http/edge-cache.ts';
import { verifiedMarkerKey } from '../storage/artifact-checks.ts';
import { artifactObjectKey } from '../storage/layout.ts';
import { apiKeysVar, errorCode, fetchApp, KEYS, testEnv } from '../test-support.ts';

/** A cache that, like the Cache API, stores a response only once its body has been read whole. */
const stored = new Map<string, Uint8Array>();
const cache: ResponseCache = {
  get: async (key) => {
    const bytes = stored.get(key);
    return bytes ? new Response(bytes.slice(), { headers: { 'content-length': String(bytes.length) } }) : undefined;
  },
  put: async (key, response) => void stored.set(key, new Uint8Array(await response.arrayBuffer())),
};
const app = createApp({ log: { write: () => undefined }, artifactCache: cache });
let vars: Env;
const get = (sha256: string, headers: Record<string, string> = {}) => fetchApp(app, `/v1/artifacts/${sha256}`, { headers }, vars);

let seed = 1;
/** Fresh bytes of `size`, their hash, and a same-sized swap of them. */
async function artifact(size = 200_000): Promise<{ bytes: Uint8Array; swapped: Uint8Array; sha256: string }> {
  const s = seed++;
  const bytes = new Uint8Array(size).map((_, i) => (i * 131 + s * 17) & 0xff);
  const swapped = bytes.slice();
  swapped[size - 5] = 255 - bytes[size - 5]!;
  return { bytes, swapped, sha256: await sha256Hex(bytes) };
}
const put = (sha256: string, bytes: Uint8Array) => env.MODELS.put(artifactObjectKey(sha256), bytes);

beforeAll(async () => {
  vars = testEnv({ API_KEYS: await apiKeysVar() });
});

afterEach(() => vi.restoreAllMocks());

describe('artifacts whose stored bytes fail their hash', () => {
  it('never completes a whole download of swapped bytes, never caches them, and refuses them from then on', async () => {
    const errors: string[] = [];
    vi.spyOn(console, 'error').mockImplementation((line: unknown) => void errors.push(String(line)));
    const a = await artifact();
    await put(a.sha256, a.swapped);
    const res = await get(a.sha256);
    // Headers went out before the last byte was hashed: the body must fail, short of its Content-Length.
    await expect(res.arrayBuffer()).rejects.toThrow(/hash/);
    expect([...stored.keys()].some((k) => k.endsWith(a.sha256))).toBe(false);
    expect(errors.map((l) => JSON.parse(l) as { event: string; sha256: string })).toContainEqual(
      expect.objectContaining({ event: 'artifact_corrupt', sha256: a.sha256 }),
    );

    const again = await get(a.sha256);
    expect([again.status, await errorCode(again)]).toEqual([422, 'artifact_hash_mismatch']);
    const ranged = await get(a.sha256, { range: 'bytes=0-99' });
    expect([ranged.status, await errorCode(ranged)]).toEqual([422, 'artifact_hash_mismatch']);
    const status = (await (await fetchApp(app, '/v1/edge/status', { headers: { authorization: `Bearer ${KEYS.admin}` } }, vars)).json()) as {
      refused: { key: string; code: string }[];
    };
    expect(status.refused).toContainEqual(expect.objectContaining({ key: artifactObjectKey(a.sha256), code: 'artifact_hash_mismatch' }));
  });

  it('refuses a Range of swapped bytes before sending any', async () => {
    vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const a = await artifact();
    await put(a.sha256, a.swapped);
    const res = await get(a.sha256, { range: 'bytes=100-199' });
    expect([res.status, await errorCode(res)]).toEqual([422, 'artifact_hash_mismatch']);
    expect(await env.MODELS.get(verifiedMarkerKey(a.sha256))).toBeNull();
  });

  it('serves repaired bytes at once: a new upload is hashed afresh', async () => {
    vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const a = await artifact();
    await put(a.sha256, a.swapped);
    await (await get(a.sha256)).arrayBuffer().catch(() => undefined);
    expect((await get(a.sha256)).status).toBe(422);
    await put(a.sha256, a.bytes);
    const res = await get(a.sha256);
    expect(res.status).toBe(200);
    expect(await sha256Hex(await res.arrayBuffer())).toBe(a.sha256);
    await vi.waitFor(async () => expect(await sha256Hex([...stored.entries()].find(([k]) => k.endsWith(a.sha256))?.[1] ?? new Uint8Array())).toBe(a.sha256));
    const ranged = await get(a.sha256, { range: 'bytes=10-19' });
    expect(ranged.status).toBe(206);
    expect(new Uint8Array(await ranged.arrayBuffer())).toEqual(a.bytes.slice(10, 20));
  });

  it('does not take a marker of an earlier upload for the bytes there now', async () => {
    vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const a = await artifact();
    await put(a.sha256, a.bytes);
    expect((await get(a.sha256, { range: 'bytes=0-9' })).status).toBe(206);
    const marker = JSON.parse(await (await env.MODELS.get(verifiedMarkerKey(a.sha256)))!.text()) as { version: string };
    expect(marker.version).toBe((await env.MODELS.head(artifactObjectKey(a.sha256)))!.version);
    await put(a.sha256, a.swapped);
    const res = await get(a.sha256, { range: 'bytes=0-9' });
    expect([res.status, await errorCode(res)]).toEqual([422, 'artifact_hash_mismatch']);
  });

  it('serves good bytes whole and by Range', async () => {
    const a = await artifact(1_000_000);
    await put(a.sha256, a.bytes);
    const ranged = await get(a.sha256, { range: 'bytes=999990-' });
    expect(ranged.status).toBe(206);
    expect(new Uint8Array(await ranged.arrayBuffer())).toEqual(a.bytes.slice(999_990));
    const whole = await get(a.sha256);
    expect(whole.headers.get('content-length')).toBe('1000000');
    // (Deep equality of a million elements takes vitest seconds: compare hashes.)
    expect(await sha256Hex(await whole.arrayBuffer())).toBe(a.sha256);
  });
});

describe('HEAD', () => {
  it('answers with the length and no body, and 422 once the stored bytes are known to be swapped', async () => {
    vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const a = await artifact();
    await put(a.sha256, a.swapped);
    const head = await fetchApp(app, `/v1/artifacts/${a.sha256}`, { method: 'HEAD' }, vars);
    expect([head.status, head.headers.get('content-length'), (await head.arrayBuffer()).byteLength]).toEqual([200, String(a.bytes.length), 0]);
    await (await get(a.sha256)).arrayBuffer().catch(() => undefined);
    expect((await fetchApp(app, `/v1/artifacts/${a.sha256}`, { method: 'HEAD' }, vars)).status).toBe(422);
    expect((await fetchApp(app, `/v1/artifacts/${'e'.repeat(64)}`, { method: 'HEAD' }, vars)).status).toBe(404);
  });
});

describe('conditional requests', () => {
  it('answers 304 only for an artifact that exists', async () => {
    const missing = 'f'.repeat(64);
    const res = await get(missing, { 'if-none-match': `"${missing}"` });
    expect([res.status, await errorCode(res)]).toEqual([404, 'not_found']);
    const star = await get(missing, { 'if-none-match': '*' });
    expect(star.status).toBe(404);
    const a = await artifact();
    await put(a.sha256, a.bytes);
    expect((await get(a.sha256, { 'if-none-match': `"${a.sha256}"` })).status).toBe(304);
  });
});
