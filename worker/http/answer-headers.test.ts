/**
 * Headers written on an answer after its route made it (CORS, the request id): on answers with frozen
 * headers too, which a Cache API hit has.
 */
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { sha256Hex } from '../../protocol/sha256.ts';
import { createApp } from '../app.ts';
import { fetchApp, testEnv } from '../test-support.ts';
import { setAnswerHeaders } from './answer-headers.ts';
import { IMMUTABLE } from './etag.ts';

function appAnswering(answer: () => Response): Hono {
  const app = new Hono();
  app.use('*', async (c, next) => {
    await next();
    setAnswerHeaders(c, [
      ['x-one', '1'],
      ['x-two', '2'],
    ]);
  });
  app.get('/', answer);
  return app;
}

describe('setAnswerHeaders', () => {
  it('writes on an answer as it is, and on a copy of one whose headers are frozen', async () => {
    const plain = await appAnswering(() => new Response('hi', { headers: { 'x-route': 'r' } })).request('/');
    expect([plain.headers.get('x-one'), plain.headers.get('x-two'), plain.headers.get('x-route'), await plain.text()]).toEqual(['1', '2', 'r', 'hi']);

    const frozen = Response.redirect('https://elsewhere.test/', 302);
    expect(() => frozen.headers.set('x-probe', '1')).toThrow(TypeError);
    const moved = await appAnswering(() => Response.redirect('https://elsewhere.test/', 302)).request('/');
    expect([moved.status, moved.headers.get('location'), moved.headers.get('x-one'), moved.headers.get('x-two')]).toEqual([
      302,
      'https://elsewhere.test/',
      '1',
      '2',
    ]);
  });

  it("gives an artifact from the edge's cache its CORS headers and request id", async () => {
    const bytes = new Uint8Array(4096).map((_, i) => (i * 7) & 0xff);
    const sha256 = await sha256Hex(bytes);
    const key = `https://edge.test/v1/artifacts/${sha256}`;
    await caches.default.put(key, new Response(bytes, { headers: { 'cache-control': IMMUTABLE, 'content-length': String(bytes.length) } }));
    const hit = await caches.default.match(key);
    expect(() => hit?.headers.set('x-probe', '1')).toThrow(TypeError);
    await hit?.body?.cancel();

    const res = await fetchApp(
      createApp({ log: { write: () => undefined } }),
      `/v1/artifacts/${sha256}`,
      { headers: { origin: 'https://app.example' } },
      testEnv({}),
    );
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('access-control-expose-headers')).toContain('content-range');
    expect(res.headers.get('x-request-id')).toBeTruthy();
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(bytes);
  });
});
