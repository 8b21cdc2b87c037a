/**
 * The artifact route under attack (issue 18, item 4): bytes swapped in R2 are never served as a success
 * nor cached, whole or by Range; repaired bytes are served at once; 304 only for artifacts that exist and
 * are not known to be swapped. And its preconditions as RFC 9110 §13 has them: If-Match, If-Range.
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
const head = (sha256: string, headers: Record<string, string> = {}) => fetchApp(app, `/v1/artifacts/${sha256}`, { method: 'HEAD', headers }, vars);

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
    const before = await head(a.sha256);
    expect([before.status, before.headers.get('content-length'), (await before.arrayBuffer()).byteLength]).toEqual([200, String(a.bytes.length), 0]);
    await (await get(a.sha256)).arrayBuffer().catch(() => undefined);
    expect((await head(a.sha256)).status).toBe(422);
    expect((await head('e'.repeat(64))).status).toBe(404);
  });

  it('promises immutability only for bytes known to hash to their name', async () => {
    vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const a = await artifact();
    await put(a.sha256, a.swapped);
    // No verdict yet, and a HEAD does not read 200 kB (or 100 MB) to get one: it must not be cached for a year.
    const unknown = await head(a.sha256);
    expect([unknown.status, unknown.headers.get('cache-control')]).toEqual([200, 'no-cache']);
    await (await get(a.sha256)).arrayBuffer().catch(() => undefined);
    const refused = await head(a.sha256);
    expect([refused.status, refused.headers.get('cache-control'), refused.headers.get('x-tandem-error-code')]).toEqual([422, null, 'artifact_hash_mismatch']);

    await put(a.sha256, a.bytes);
    expect((await head(a.sha256)).headers.get('cache-control')).toBe('no-cache');
    await (await get(a.sha256)).arrayBuffer();
    const good = await head(a.sha256);
    expect([good.status, good.headers.get('cache-control')]).toEqual([200, 'public, max-age=31536000, immutable']);
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

  it('answers a swapped artifact with its 422, never 304, 412 or a success, once the swap is known', async () => {
    vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const a = await artifact();
    await put(a.sha256, a.swapped);
    await (await get(a.sha256)).arrayBuffer().catch(() => undefined);
    const etag = `"${a.sha256}"`;
    const conditions: Record<string, string>[] = [{ 'if-none-match': etag }, { 'if-none-match': '*' }, { 'if-match': etag }, { 'if-match': '"nope"' }];
    for (const headers of conditions) {
      const res = await get(a.sha256, headers);
      expect([res.status, await errorCode(res)], JSON.stringify(headers)).toEqual([422, 'artifact_hash_mismatch']);
      expect((await head(a.sha256, headers)).status, `HEAD ${JSON.stringify(headers)}`).toBe(422);
    }
  });

  it('answers 304 before any verdict without promising immutability, and with it once the bytes are verified', async () => {
    const a = await artifact();
    await put(a.sha256, a.bytes);
    const etag = `"${a.sha256}"`;
    const early = await get(a.sha256, { 'if-none-match': etag });
    expect([early.status, early.headers.get('etag'), early.headers.get('cache-control')]).toEqual([304, etag, 'no-cache']);
    await (await get(a.sha256)).arrayBuffer();
    const late = await get(a.sha256, { 'if-none-match': etag });
    expect([late.status, late.headers.get('cache-control')]).toEqual([304, 'public, max-age=31536000, immutable']);
  });

  it('answers 412 when If-Match names no current entity-tag, compared strongly', async () => {
    const a = await artifact();
    await put(a.sha256, a.bytes);
    const etag = `"${a.sha256}"`;
    for (const ifMatch of ['"nope"', `W/${etag}`, `"nope", W/${etag}`]) {
      const res = await get(a.sha256, { 'if-match': ifMatch });
      expect([res.status, await errorCode(res)], ifMatch).toEqual([412, 'precondition_failed']);
      const ranged = await get(a.sha256, { 'if-match': ifMatch, range: 'bytes=0-9' });
      expect(ranged.status, `${ifMatch} with a Range`).toBe(412);
      const headed = await head(a.sha256, { 'if-match': ifMatch });
      expect([headed.status, headed.headers.get('x-tandem-error-code')], `HEAD ${ifMatch}`).toEqual([412, 'precondition_failed']);
    }
    for (const ifMatch of [etag, '*', `"nope", ${etag}`]) {
      const res = await get(a.sha256, { 'if-match': ifMatch });
      expect(res.status, ifMatch).toBe(200);
      expect(await sha256Hex(await res.arrayBuffer())).toBe(a.sha256);
    }
    expect((await get(a.sha256, { 'if-match': etag, range: 'bytes=0-9' })).status).toBe(206);
    // If-Match is weighed before If-None-Match (RFC 9110 §13.2.2).
    expect((await get(a.sha256, { 'if-match': '"nope"', 'if-none-match': etag })).status).toBe(412);
    // Preconditions apply only to what exists: a missing artifact stays 404.
    const missing = 'd'.repeat(64);
    const res = await get(missing, { 'if-match': '"nope"' });
    expect([res.status, await errorCode(res)]).toEqual([404, 'not_found']);
  });
});

describe('If-Range', () => {
  it('serves the Range only when If-Range names the current entity-tag strongly; else the whole file', async () => {
    const a = await artifact();
    await put(a.sha256, a.bytes);
    const etag = `"${a.sha256}"`;
    const matched = await get(a.sha256, { range: 'bytes=0-9', 'if-range': etag });
    expect([matched.status, matched.headers.get('content-range')]).toEqual([206, `bytes 0-9/${a.bytes.length}`]);
    expect(new Uint8Array(await matched.arrayBuffer())).toEqual(a.bytes.slice(0, 10));
    // Artifacts have no Last-Modified, so a date never matches (RFC 9110 §13.1.5), nor does a weak tag.
    for (const ifRange of ['"deadbeef"', 'Wed, 21 Oct 2015 07:28:00 GMT', `W/${etag}`]) {
      const res = await get(a.sha256, { range: 'bytes=0-9', 'if-range': ifRange });
      expect([res.status, res.headers.get('content-range'), res.headers.get('content-length')], ifRange).toEqual([200, null, String(a.bytes.length)]);
      expect(await sha256Hex(await res.arrayBuffer())).toBe(a.sha256);
    }
    // A Range the file cannot satisfy is ignored along with the rest of the Range.
    expect((await get(a.sha256, { range: `bytes=${a.bytes.length}-`, 'if-range': '"deadbeef"' })).status).toBe(200);
  });
});
