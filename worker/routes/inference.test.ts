/**
 * Odd versions on the inference route (issue 18, item 6): the edge used to copy the path's version into
 * `x-model-version`, so a NUL or a line feed gave 500 and any other string was echoed back. Now anything
 * that is not a model id and a semantic version is 404 `model_not_found`, never forwarded nor echoed.
 */
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { parseErrorBody } from '../../protocol/errors.ts';
import { createApp } from '../app.ts';
import { apiKeysVar, fetchApp, KEYS, testEnv } from '../test-support.ts';

const app = createApp({ log: { write: () => undefined } });
let vars: Env;

beforeAll(async () => {
  vars = testEnv({ API_KEYS: await apiKeysVar(), ORIGINS: 'http://origin.test', ORIGIN_TOKEN: 't', TUNING: JSON.stringify({ readinessTtlMs: 1e9 }) });
});

afterEach(() => vi.restoreAllMocks());

describe('odd model names and versions on inference', () => {
  it('answers 404 model_not_found, forwards nothing and echoes nothing', async () => {
    const forwarded: string[] = [];
    vi.spyOn(globalThis, 'fetch').mockImplementation(async (input) => {
      forwarded.push(String(input instanceof Request ? input.url : input));
      return new Response('{"outputs":[]}', { status: 200 });
    });
    const odd = ['1.0.0\u0000', '1.0.0\n', '1.0.0\r\nset-cookie: a=b', 'evil-version', '1.0', '"><img src=x>', 'x'.repeat(3000)];
    for (const version of odd) {
      const res = await fetchApp(
        app,
        `/v2/models/m/versions/${encodeURIComponent(version)}/infer`,
        { method: 'POST', body: '{}', headers: { authorization: `Bearer ${KEYS.infer}` } },
        vars,
      );
      const text = await res.text();
      expect([res.status, parseErrorBody(res.status, JSON.parse(text), res.headers).code], JSON.stringify(version)).toEqual([404, 'model_not_found']);
      expect(res.headers.get('x-model-version')).toBeNull();
      expect(text).not.toContain(version.slice(0, 10));
    }
    for (const name of ['M', 'm\u0000', 'm\nx', '_edge']) {
      const res = await fetchApp(
        app,
        `/v2/models/${encodeURIComponent(name)}/infer`,
        { method: 'POST', body: '{}', headers: { authorization: `Bearer ${KEYS.infer}` } },
        vars,
      );
      expect([res.status, parseErrorBody(res.status, await res.json(), res.headers).code], JSON.stringify(name)).toEqual([404, 'model_not_found']);
    }
    expect(forwarded.filter((u) => u.endsWith('/infer'))).toEqual([]);
    // A well-formed version is forwarded as before.
    const ok = await fetchApp(
      app,
      '/v2/models/m/versions/1.2.3-rc.1/infer',
      { method: 'POST', body: '{}', headers: { authorization: `Bearer ${KEYS.infer}` } },
      vars,
    );
    expect([ok.status, ok.headers.get('x-model-version')]).toEqual([200, '1.2.3-rc.1']);
  });
});

describe('a body that stops arriving', () => {
  it('is answered 400 bad_request by the request deadline, and nothing is forwarded', async () => {
    const forwarded = vi.spyOn(globalThis, 'fetch').mockImplementation(async () => new Response('{"outputs":[]}', { status: 200 }));
    const stalled = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('{"inputs":'));
      },
    });
    const environment = { ...vars, TUNING: JSON.stringify({ readinessTtlMs: 1e9, deadlineMs: 150 }) } as Env;
    const started = Date.now();
    const res = await fetchApp(
      app,
      '/v2/models/m/versions/1.0.0/infer',
      { method: 'POST', body: stalled, headers: { authorization: `Bearer ${KEYS.infer}` }, duplex: 'half' } as RequestInit,
      environment,
    );
    const error = parseErrorBody(res.status, await res.json(), res.headers);
    expect([res.status, error.code]).toEqual([400, 'bad_request']);
    expect(error.message).toMatch(/did not arrive within 0\.1 s/);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(forwarded.mock.calls.map(([input]) => String(input)).filter((u) => u.endsWith('/infer'))).toEqual([]);
  });
});
