import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import type { TandemError } from '../protocol/errors.ts';
import { bearerAuth } from './auth.ts';

function app() {
  const hono = new Hono();
  hono.onError((err, c) => c.json((err as TandemError).toBody(), (err as TandemError).status as 401));
  hono.get('/admin', bearerAuth({ tokens: ['admin-token-1'], forbidden: ['infer-token-1'] }), (c) => c.text('ok'));
  return hono;
}

const get = (authorization?: string) => app().request('/admin', authorization === undefined ? {} : { headers: { authorization } });

describe('bearerAuth', () => {
  it('lets the right token through, the scheme in any case (RFC 7235), as the edge does', async () => {
    expect((await get('Bearer admin-token-1')).status).toBe(200);
    expect((await get('bearer admin-token-1')).status).toBe(200);
    expect((await get('BEARER  admin-token-1')).status).toBe(200);
  });

  it('answers a missing token with 401 and a challenge', async () => {
    const res = await get();
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer realm="tandem"');
    expect(await res.json()).toMatchObject({ error: { code: 'unauthorized' } });
  });

  it.each(['Bearer nope', 'Bearer admin-token-', 'Bearer admin-token-12', 'Basic YWRtaW46eA==', 'Bearer'])('answers %j with 401', async (header) => {
    const res = await get(header);
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: { code: 'unauthorized' } });
  });

  it('answers a token that is valid elsewhere with 403', async () => {
    const res = await get('Bearer infer-token-1');
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ error: { code: 'forbidden' } });
  });
});
