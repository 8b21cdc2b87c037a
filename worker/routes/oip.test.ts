import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { encodeBase64 } from '../../protocol/base64.ts';
import { generateSigningKey } from '../../protocol/keys.ts';
import type { Manifest } from '../../protocol/manifest.ts';
import { envelopeKey } from '../../protocol/repository-layout.ts';
import { signManifest } from '../../protocol/signed-manifest.ts';
import { sampleManifest } from '../../protocol/test-support/manifest-arbitrary.ts';
import { createApp } from '../app.ts';
import { hashApiKey } from '../auth/api-keys.ts';
import { testEnv } from '../test-support.ts';

const app = createApp({ log: { write: () => undefined } });
let vars: Env;

/** A manifest with a device variant and the origin variant the edge describes. */
function manifest(id: string, version: string, withOrigin = true): Manifest {
  const base = sampleManifest({ id, version });
  const device = base.variants[0]!;
  return {
    ...base,
    variants: [
      device,
      ...(withOrigin
        ? [
            {
              ...device,
              name: 'fp32',
              tier: 'origin' as const,
              inputs: [{ name: 'x', dtype: 'float32' as const, shape: ['batch', 4] }],
              outputs: [
                { name: 'probabilities', dtype: 'float32' as const, shape: ['batch', 3] },
                { name: 'label', dtype: 'int64' as const, shape: ['batch'] },
              ],
            },
          ]
        : []),
    ],
  };
}

async function call(path: string, init: RequestInit = {}, environment: Env = vars): Promise<Response> {
  const ctx = createExecutionContext();
  const res = await app.fetch(new Request(`https://edge.test${path}`, init), environment, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

/** Fake origins: `answer(url)` for every request the edge sends; records the URLs. */
function origins(answer: (url: string) => Response): string[] {
  const seen: string[] = [];
  vi.spyOn(globalThis, 'fetch').mockImplementation(async (input) => {
    const url = String(input instanceof Request ? input.url : input);
    seen.push(url);
    return answer(url);
  });
  return seen;
}

const withOrigins = (urls: string, extra: Partial<Record<string, string>> = {}) => ({ ...vars, ORIGINS: urls, ...extra }) as Env;

beforeAll(async () => {
  const key = await generateSigningKey();
  for (const [id, version, withOrigin] of [
    ['om', '1.0.0', true],
    ['om', '1.2.0', true],
    ['om', '1.1.0', true],
    ['devonly', '1.0.0', false],
  ] as const) {
    await env.MODELS.put(envelopeKey(id, version), JSON.stringify(await signManifest(manifest(id, version, withOrigin), [key])));
  }
  // om 1.1.0 edited after signing: never described, left out of `versions`.
  const envelope = JSON.parse(await (await env.MODELS.get(envelopeKey('om', '1.1.0')))!.text()) as { payload: string };
  envelope.payload = encodeBase64(new TextEncoder().encode(JSON.stringify({ ...manifest('om', '1.1.0'), task: 'tampered' })));
  await env.MODELS.put(envelopeKey('om', '1.1.0'), JSON.stringify(envelope));
  vars = testEnv({
    TRUSTED_KEYS: JSON.stringify([key.publicKey]),
    ORIGINS: 'http://origin-a.test,http://origin-b.test',
    ORIGIN_TOKEN: 'origin-token',
    API_KEYS: JSON.stringify([
      { name: 'catalog', sha256: await hashApiKey('k-catalog'), scopes: ['catalog'] },
      { name: 'infer-only', sha256: await hashApiKey('k-infer'), scopes: ['infer'] },
      { name: 'other-model', sha256: await hashApiKey('k-other'), scopes: ['catalog'], models: ['other'] },
    ]),
    TUNING: JSON.stringify({ readinessTtlMs: 1e9 }),
  });
});

afterEach(() => {
  vi.restoreAllMocks();
});

describe('OIP health', () => {
  it('is live without a key', async () => {
    const res = await call('/v2/health/live');
    expect([res.status, await res.json()]).toEqual([200, { live: true }]);
  });

  it('is ready when at least one origin is, counting origins without naming them', async () => {
    const seen = origins((url) => new Response(null, { status: url.startsWith('http://up-a.test') ? 200 : 503 }));
    const res = await call('/v2/health/ready', {}, withOrigins('http://up-a.test,http://down-b.test'));
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body).toEqual({ ready: true, origins: { ready: 1, total: 2 } });
    expect(JSON.stringify(body)).not.toContain('.test');
    expect(seen.sort()).toEqual(['http://down-b.test/v2/health/ready', 'http://up-a.test/v2/health/ready']);
  });

  it('is not ready when no origin is', async () => {
    origins(() => {
      throw new TypeError('connection refused');
    });
    const res = await call('/v2/health/ready', {}, withOrigins('http://gone-a.test'));
    expect([res.status, await res.json()]).toEqual([503, { ready: false, origins: { ready: 0, total: 1 } }]);
  });
});

describe('OIP metadata', () => {
  it('describes the edge', async () => {
    const res = await call('/v2');
    expect([res.status, await res.json()]).toEqual([200, { name: 'tandem-edge', version: '0.1.0', extensions: ['binary_tensor_data', 'classification'] }]);
  });

  it('describes a model version from its signed manifest: the origin variant, -1 for dynamic dims', async () => {
    const res = await call('/v2/models/om/versions/1.0.0');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      name: 'om',
      versions: ['1.0.0', '1.2.0'],
      platform: 'onnxruntime_onnx',
      inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 4] }],
      outputs: [
        { name: 'probabilities', datatype: 'FP32', shape: [-1, 3] },
        { name: 'label', datatype: 'INT64', shape: [-1] },
      ],
    });
    expect(res.headers.get('x-model-version')).toBe('1.0.0');
  });

  it('without a version, describes the newest verified one', async () => {
    const res = await call('/v2/models/om');
    expect([res.status, res.headers.get('x-model-version')]).toEqual([200, '1.2.0']);
  });

  it('answers unknown models, bad names and refused manifests with OIP error bodies and the code header', async () => {
    for (const [path, status, code] of [
      ['/v2/models/nope', 404, 'model_not_found'],
      ['/v2/models/om/versions/9.9.9', 404, 'model_not_found'],
      ['/v2/models/Bad%0AName', 404, 'model_not_found'],
      ['/v2/models/om/versions/..%2F1', 404, 'model_not_found'],
      ['/v2/models/om/versions/1.1.0', 422, 'manifest_signature_invalid'],
      ['/v2/models/devonly', 404, 'model_not_found'],
    ] as const) {
      const res = await call(path, { headers: { 'x-request-id': 'oip-err' } });
      expect([path, res.status, res.headers.get('x-tandem-error-code')]).toEqual([path, status, code]);
      expect(await res.json()).toEqual({ error: expect.any(String), code, request_id: 'oip-err' });
    }
  });

  it("takes the manifest route's keys: optional unless required, and then with the catalog scope and the model", async () => {
    const required = { ...vars, REQUIRE_KEY_FOR_CATALOG: 'true' } as Env;
    expect((await call('/v2/models/om', {}, required)).status).toBe(401);
    expect((await call('/v2/models/om', { headers: { authorization: 'Bearer k-infer' } }, required)).status).toBe(403);
    expect((await call('/v2/models/om', { headers: { authorization: 'Bearer k-other' } }, required)).status).toBe(403);
    expect((await call('/v2/models/om', { headers: { authorization: 'Bearer k-catalog' } }, required)).status).toBe(200);
    expect((await call('/v2/models/om', { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    // Health and server metadata stay open.
    expect((await call('/v2', {}, required)).status).toBe(200);
    expect((await call('/v2/health/live', {}, required)).status).toBe(200);
  });
});

describe('OIP model ready', () => {
  it('is ready when an origin says the version is, asking once per readiness period', async () => {
    const seen = origins(
      (url) => new Response('{}', { status: url.endsWith('/v2/models/om/versions/1.2.0/ready') ? 200 : url.endsWith('/health/ready') ? 200 : 404 }),
    );
    const environment = withOrigins('http://ready-a.test');
    const res = await call('/v2/models/om/ready', {}, environment);
    expect([res.status, await res.json()]).toEqual([200, { name: 'om', version: '1.2.0', ready: true }]);
    expect((await call('/v2/models/om/versions/1.2.0/ready', {}, environment)).status).toBe(200);
    expect(seen.filter((u) => u.endsWith('/ready') && u.includes('/models/'))).toEqual(['http://ready-a.test/v2/models/om/versions/1.2.0/ready']);
  });

  it('is not ready when no origin holds the version', async () => {
    origins((url) => new Response('{}', { status: url.includes('/models/') ? 503 : 200 }));
    const res = await call('/v2/models/om/versions/1.0.0/ready', {}, withOrigins('http://lacking-a.test,http://lacking-b.test'));
    expect([res.status, await res.json()]).toEqual([503, { name: 'om', version: '1.0.0', ready: false }]);
  });

  it('is not ready for a model with no origin variant, and unknown models are 404', async () => {
    expect((await call('/v2/models/nope/ready')).status).toBe(404);
    origins(() => new Response('{}', { status: 200 }));
    const res = await call('/v2/models/devonly/versions/1.0.0/ready', {}, withOrigins('http://any-a.test'));
    expect([res.status, await res.json()]).toEqual([503, { name: 'devonly', version: '1.0.0', ready: false }]);
  });
});

describe('OIP routes and methods', () => {
  it('answers a known path asked with another method 405 with Allow, in the OIP body', async () => {
    for (const [method, path, allow] of [
      ['POST', '/v2/health/live', 'GET, HEAD'],
      ['DELETE', '/v2/health/ready', 'GET, HEAD'],
      ['PUT', '/v2', 'GET, HEAD'],
      ['POST', '/v2/models/om', 'GET, HEAD'],
      ['POST', '/v2/models/om/versions/1.0.0/ready', 'GET, HEAD'],
      ['GET', '/v2/models/om/infer', 'POST'],
      ['GET', '/v2/models/om/versions/1.0.0/infer', 'POST'],
    ] as const) {
      const res = await call(path, { method });
      expect([method, path, res.status, res.headers.get('allow')]).toEqual([method, path, 405, allow]);
      expect(await res.json()).toMatchObject({ error: expect.any(String), code: 'method_not_allowed' });
    }
    // POST to infer still reaches the inference route (which wants a key).
    expect((await call('/v2/models/om/infer', { method: 'POST', body: '{}' })).status).toBe(401);
  });

  it("answers unknown /v2 routes in the OIP body and unknown /v1 routes in Tandem's", async () => {
    const oip = await call('/v2/nope');
    expect([oip.status, oip.headers.get('x-tandem-error-code')]).toEqual([404, 'not_found']);
    expect(await oip.json()).toMatchObject({ error: expect.stringContaining('/v2/nope'), code: 'not_found' });
    const tandem = await call('/v1/nope');
    expect([tandem.status, tandem.headers.get('x-tandem-error-code')]).toEqual([404, 'not_found']);
    expect(await tandem.json()).toMatchObject({ error: { code: 'not_found', message: expect.any(String) } });
    // A path with line breaks or markup is not echoed back.
    for (const odd of ['/v2/%0D%0ASet-Cookie:%20a=b', '/v1/%3Cscript%3E']) {
      const text = await (await call(odd)).text();
      expect(text, odd).toContain('no route GET this path');
      expect(text, odd).not.toMatch(/Set-Cookie|script/);
    }
  });
});
