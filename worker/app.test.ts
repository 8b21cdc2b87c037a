import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { errorFromResponse } from '../client/core/error-mapping.ts';
import { DEFAULT_RETRY, retry } from '../client/core/retry.ts';
import { encodeBase64 } from '../protocol/base64.ts';
import { envelopeKey } from '../protocol/repository-layout.ts';
import { createApp } from './app.ts';
import { DEFAULT_TUNING } from './config.ts';
import type { ResponseCache } from './http/edge-cache.ts';
import { apiKeysVar, KEYS, seedModel, testEnv, type Seeded } from './test-support.ts';

const lines: Record<string, unknown>[] = [];
const memoryCache = new Map<string, Response>();
const cache: ResponseCache = {
  get: async (k) => memoryCache.get(k)?.clone(),
  put: async (k, r) => void memoryCache.set(k, r),
};
const app = createApp({ log: { write: (line) => void lines.push(JSON.parse(line)) }, artifactCache: cache });

let seeded: Seeded;
let vars: Env;

async function call(path: string, init: RequestInit = {}, environment: Env = vars): Promise<Response> {
  const ctx = createExecutionContext();
  const res = await app.fetch(new Request(`https://edge.test${path}`, init), environment, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

beforeAll(async () => {
  seeded = await seedModel('m', ['1.0.0', '1.1.0']);
  // An envelope whose payload was edited after signing.
  const tampered = await seedModel('t', ['1.0.0']);
  const text = await (await env.MODELS.get(envelopeKey('t', '1.0.0')))!.text();
  const envelope = JSON.parse(text) as { payload: string };
  const manifest = JSON.parse(atob(envelope.payload)) as { classLabels: string[] };
  manifest.classLabels = ['evil', 'labels'];
  envelope.payload = encodeBase64(new TextEncoder().encode(JSON.stringify(manifest)));
  await env.MODELS.put(envelopeKey('t', '1.0.0'), JSON.stringify(envelope));
  void tampered;
  vars = testEnv({
    TRUSTED_KEYS: JSON.stringify([seeded.key.publicKey, tampered.key.publicKey]),
    ORIGINS: 'http://origin-a.test,http://origin-b.test',
    ORIGIN_TOKEN: 'origin-token',
    API_KEYS: await apiKeysVar(),
    CANARY: JSON.stringify({ m: { '1.0.0': 50, '1.1.0': 50 } }),
    TUNING: JSON.stringify({ readinessTtlMs: 1e9, backoffBaseMs: 1 }),
  });
});

afterEach(() => {
  vi.restoreAllMocks();
});

describe('catalog and manifests', () => {
  it('lists verified models only', async () => {
    const res = await call('/v1/models');
    expect(res.status).toBe(200);
    const body = (await res.json()) as { models: { id: string; versions: string[]; latest: string }[] };
    expect(body.models.map((m) => m.id)).toEqual(['m']);
    expect(body.models[0]).toMatchObject({ latest: '1.1.0', versions: ['1.0.0', '1.1.0'] });
    expect(lines.some((l) => l.event === undefined)).toBe(false);
  });

  it('serves a verified manifest with ETag, and 304 for If-None-Match', async () => {
    const res = await call('/v1/models/m/manifest?version=1.0.0');
    expect(res.status).toBe(200);
    const etag = res.headers.get('etag')!;
    expect(etag).toMatch(/^"[0-9a-f]{64}"$/);
    expect(res.headers.get('cache-control')).toMatch(/public, max-age=\d+/);
    expect(res.headers.get('x-model-version')).toBe('1.0.0');
    expect(await res.text()).toBe(await (await env.MODELS.get(envelopeKey('m', '1.0.0')))!.text());
    const again = await call('/v1/models/m/manifest?version=1.0.0', { headers: { 'if-none-match': etag } });
    expect(again.status).toBe(304);
  });

  it('never serves a tampered manifest', async () => {
    const res = await call('/v1/models/t/manifest');
    expect(res.status).toBe(422);
    const body = (await res.json()) as { error: { code: string; request_id: string } };
    expect(body.error.code).toBe('manifest_signature_invalid');
    expect(body.error.request_id).toBe(res.headers.get('x-request-id'));
  });

  it('refuses a manifest signed by a key that is not trusted', async () => {
    const res = await call('/v1/models/m/manifest', {}, { ...vars, TRUSTED_KEYS: JSON.stringify([]) } as Env);
    expect(res.status).toBe(422);
  });

  it('picks the same canary version for a client as inference does', async () => {
    const versions = new Map<string, string>();
    for (let i = 0; i < 40; i++) {
      const res = await call('/v1/models/m/manifest', { headers: { 'x-client-id': `c${i}` } });
      versions.set(`c${i}`, res.headers.get('x-model-version')!);
      expect(res.headers.get('cache-control')).toMatch(/^private/);
    }
    expect(new Set(versions.values())).toEqual(new Set(['1.0.0', '1.1.0']));
    const paths: string[] = [];
    vi.spyOn(globalThis, 'fetch').mockImplementation(async (input) => {
      paths.push(new URL(String(input instanceof Request ? input.url : input)).pathname);
      return new Response('{}', { status: 200 });
    });
    for (const [client, version] of versions) {
      const res = await call('/v2/models/m/infer', { method: 'POST', body: '{}', headers: { authorization: `Bearer ${KEYS.infer}`, 'x-client-id': client } });
      expect(res.headers.get('x-model-version')).toBe(version);
    }
    expect(paths.filter((p) => p.endsWith('/infer')).every((p) => /\/versions\/1\.[01]\.0\/infer$/.test(p))).toBe(true);
  });

  it('answers 404 model_not_found for unknown models', async () => {
    const res = await call('/v1/models/nope/manifest');
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('model_not_found');
  });
});

describe('artifacts', () => {
  it('serves the whole file with length, ETag and immutable caching, then from the cache', async () => {
    memoryCache.clear();
    const res = await call(`/v1/artifacts/${seeded.artifactSha256}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-length')).toBe(String(seeded.artifact.length));
    expect(res.headers.get('etag')).toBe(`"${seeded.artifactSha256}"`);
    expect(res.headers.get('cache-control')).toContain('immutable');
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(seeded.artifact);
    // Cached once its bytes have hashed to their name, after the download.
    await vi.waitFor(() => expect(memoryCache.size).toBe(1));
    const hit = await call(`/v1/artifacts/${seeded.artifactSha256}`);
    expect(new Uint8Array(await hit.arrayBuffer())).toEqual(seeded.artifact);
    expect(lines.at(-1)?.cache).toBe('hit');
  });

  it('resumes with Range to identical bytes, and answers 416 outside the file', async () => {
    const first = await call(`/v1/artifacts/${seeded.artifactSha256}`, { headers: { range: 'bytes=0-39999' } });
    expect(first.status).toBe(206);
    expect(first.headers.get('content-range')).toBe(`bytes 0-39999/${seeded.artifact.length}`);
    expect(first.headers.get('content-length')).toBe('40000');
    const rest = await call(`/v1/artifacts/${seeded.artifactSha256}`, { headers: { range: 'bytes=40000-' } });
    expect(rest.status).toBe(206);
    const joined = new Uint8Array([...new Uint8Array(await first.arrayBuffer()), ...new Uint8Array(await rest.arrayBuffer())]);
    expect(joined).toEqual(seeded.artifact);
    const outside = await call(`/v1/artifacts/${seeded.artifactSha256}`, { headers: { range: `bytes=${seeded.artifact.length}-` } });
    expect(outside.status).toBe(416);
    expect(((await outside.json()) as { error: { code: string } }).error.code).toBe('range_not_satisfiable');
    expect(outside.headers.get('content-range')).toBe(`bytes */${seeded.artifact.length}`);
  });

  it('404 for unknown hashes, 400 for names that are not hashes', async () => {
    expect((await call(`/v1/artifacts/${'0'.repeat(64)}`)).status).toBe(404);
    expect((await call('/v1/artifacts/not-a-hash')).status).toBe(400);
  });
});

describe('inference', () => {
  const post = (path: string, headers: Record<string, string> = {}, body: BodyInit = '{"inputs":[]}') =>
    call(path, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });

  it('proxies to an origin with its token and says which origin and version served', async () => {
    const seen: Request[] = [];
    vi.spyOn(globalThis, 'fetch').mockImplementation(async (input, init) => {
      const req = new Request(input as RequestInfo, init);
      seen.push(req);
      return new Response('{"model_name":"m","outputs":[]}', { status: 200, headers: { 'content-type': 'application/json', 'x-model-version': '1.0.0' } });
    });
    const res = await post('/v2/models/m/versions/1.0.0/infer', { authorization: `Bearer ${KEYS.infer}`, 'x-request-id': 'req-123' });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-tandem-origin')).toMatch(/^http:\/\/origin-[ab]\.test$/);
    expect(res.headers.get('x-model-version')).toBe('1.0.0');
    expect(res.headers.get('x-request-id')).toBe('req-123');
    const inferCall = seen.find((r) => r.url.endsWith('/infer'))!;
    expect(inferCall.headers.get('authorization')).toBe('Bearer origin-token');
    expect(inferCall.headers.get('x-request-id')).toBe('req-123');
    const log = lines.at(-1)!;
    expect(log).toMatchObject({ request_id: 'req-123', route: '/v2/models/:name/versions/:version/infer', status: 200, model: 'm', attempts: 1 });
    expect(typeof log.total_ms).toBe('number');
  });

  it('401 without a key or with an unknown one; 403 for a key without the infer scope', async () => {
    const none = await post('/v2/models/m/infer');
    expect(none.status).toBe(401);
    expect(((await none.json()) as { code: string }).code).toBe('unauthorized');
    expect((await post('/v2/models/m/infer', { authorization: 'Bearer wrong' })).status).toBe(401);
    const forbidden = await post('/v2/models/m/infer', { authorization: `Bearer ${KEYS.catalog}` });
    expect(forbidden.status).toBe(403);
    expect(((await forbidden.json()) as { code: string }).code).toBe('forbidden');
  });

  it("429 rate_limited with Retry-After past the key's burst (Durable Object bucket)", async () => {
    vi.spyOn(globalThis, 'fetch').mockImplementation(async () => new Response('{}', { status: 200 }));
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 4; i++) {
      const res = await post('/v2/models/m/infer', { authorization: `Bearer ${KEYS.slow}` });
      statuses.push(res.status);
      if (res.status === 429) {
        retryAfter = res.headers.get('retry-after');
        expect(((await res.json()) as { code: string }).code).toBe('rate_limited');
      }
    }
    expect(statuses).toEqual([200, 200, 429, 429]);
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
  });

  it('spends tokens leased in a batch without a call per request, and still refuses past the burst', async () => {
    vi.spyOn(globalThis, 'fetch').mockImplementation(async () => new Response('{}', { status: 200 }));
    const asked: number[] = [];
    const namespace = env.RATE_LIMITER;
    const counting = {
      idFromName: (name: string) => namespace.idFromName(name),
      get: (id: DurableObjectId) => {
        const stub = namespace.get(id);
        return { grant: (limits: { ratePerSecond: number; burst: number }, max: number) => (asked.push(max), stub.grant(limits, max)) };
      },
    };
    // A lease period of 10 s lets a 1/s key ask for 10 tokens; its bucket holds 5.
    const leased = {
      ...vars,
      RATE_LIMITER: counting,
      TUNING: JSON.stringify({ readinessTtlMs: 1e9, backoffBaseMs: 1, rateLimitLeaseMs: 10_000 }),
    } as unknown as Env;
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) {
      const ctx = createExecutionContext();
      const res = await app.fetch(
        new Request('https://edge.test/v2/models/m/infer', { method: 'POST', body: '{}', headers: { authorization: `Bearer ${KEYS.leased}` } }),
        leased,
        ctx,
      );
      await waitOnExecutionContext(ctx);
      statuses.push(res.status);
      if (i === 0) expect(res.headers.get('x-ratelimit-remaining')).toBe('4');
      await res.arrayBuffer();
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429]);
    // One batch for five requests, then one call per refused request.
    expect(asked).toEqual([10, 10, 10]);
  });

  it('413 for a body over the limit', async () => {
    const small = { ...vars, TUNING: JSON.stringify({ maxBodyBytes: 100 }) } as Env;
    const ctx = createExecutionContext();
    const res = await app.fetch(
      new Request('https://edge.test/v2/models/m/infer', { method: 'POST', body: 'x'.repeat(1000), headers: { authorization: `Bearer ${KEYS.infer}` } }),
      small,
      ctx,
    );
    expect(res.status).toBe(413);
    expect(((await res.json()) as { code: string }).code).toBe('payload_too_large');
  });

  it('502 origin_unavailable when no origin answers', async () => {
    vi.spyOn(globalThis, 'fetch').mockImplementation(async () => {
      throw new TypeError('connection refused');
    });
    const down = { ...vars, ORIGINS: 'http://down-a.test,http://down-b.test' } as Env;
    const res = await call('/v2/models/m/infer', { method: 'POST', body: '{}', headers: { authorization: `Bearer ${KEYS.infer}` } }, down);
    expect(res.status).toBe(502);
    expect(((await res.json()) as { code: string }).code).toBe('origin_unavailable');
  });
});

describe('origin answers and retries', () => {
  const infer = (path: string, environment: Env = vars) =>
    call(path, { method: 'POST', body: '{"inputs":[]}', headers: { 'content-type': 'application/json', authorization: `Bearer ${KEYS.infer}` } }, environment);
  const typed = (code: string, status: number, message = `${code} from the origin`) =>
    // The origin's error body (OIP's: the message, with Tandem's code beside it) and code header.
    new Response(JSON.stringify({ error: message, code }), { status, headers: { 'content-type': 'application/json', 'x-tandem-error-code': code } });

  /** Fake origins: `/infer` answers with `answer()`, readiness with 200 (or 503 when not `ready`); counts the inference attempts. */
  function origins(answer: (url: string) => Response, ready = true) {
    const attempts: string[] = [];
    vi.spyOn(globalThis, 'fetch').mockImplementation(async (input) => {
      const url = String(input instanceof Request ? input.url : input);
      if (!url.endsWith('/infer')) return new Response(JSON.stringify({ ready }), { status: ready ? 200 : 503 });
      attempts.push(url);
      return answer(url);
    });
    return attempts;
  }

  async function breakers(environment: Env): Promise<{ breaker: string; consecutive_failures: number }[]> {
    const res = await call('/v1/edge/status', { headers: { authorization: `Bearer ${KEYS.admin}` } }, environment);
    return ((await res.json()) as { origins: { breaker: string; consecutive_failures: number }[] }).origins;
  }

  it('relays an answer about one model as the origin gave it, and never counts it against the origin', async () => {
    const environment = {
      ...vars,
      ORIGINS: 'http://typed-a.test,http://typed-b.test',
      TUNING: JSON.stringify({ readinessTtlMs: 1e9, breakerFailureThreshold: 1 }),
    } as Env;
    const reason = 'model m version 9.0.0 was refused: manifest_signature_invalid: no trusted signature';
    const attempts = origins((url) =>
      url.includes('/versions/9.0.0/')
        ? typed('model_not_ready', 503, reason)
        : url.includes('/versions/8.0.0/')
          ? typed('model_not_found', 404)
          : new Response('{"outputs":[]}', { status: 200 }),
    );
    for (let i = 0; i < 5; i++) {
      const refused = await infer('/v2/models/m/versions/9.0.0/infer', environment);
      expect(refused.status).toBe(503);
      expect(refused.headers.get('x-tandem-attempts')).toBe('1');
      expect(await refused.json()).toMatchObject({ error: reason, code: 'model_not_ready' });
      expect(refused.headers.get('x-tandem-error-code')).toBe('model_not_ready');
      const unknown = await infer('/v2/models/m/versions/8.0.0/infer', environment);
      expect([unknown.status, ((await unknown.json()) as { code: string }).code]).toEqual([404, 'model_not_found']);
    }
    expect(attempts).toHaveLength(10); // Not retried on the other origin.
    expect(await breakers(environment)).toEqual([
      expect.objectContaining({ breaker: 'closed', consecutive_failures: 0 }),
      expect.objectContaining({ breaker: 'closed', consecutive_failures: 0 }),
    ]);
    // Other clients are served as before.
    expect((await infer('/v2/models/m/versions/1.0.0/infer', environment)).status).toBe(200);
  });

  it('counts an unwell origin against its breaker and tries the other', async () => {
    const environment = {
      ...vars,
      ORIGINS: 'http://busy-a.test,http://fine-b.test',
      TUNING: JSON.stringify({ readinessTtlMs: 1e9, backoffBaseMs: 1, breakerFailureThreshold: 1, breakerCooldownMs: 60_000 }),
    } as Env;
    origins((url) => (url.startsWith('http://busy-a.test') ? typed('overloaded', 503) : new Response('{"outputs":[]}', { status: 200 })));
    for (let i = 0; i < 3; i++) {
      const res = await infer('/v2/models/m/versions/1.0.0/infer', environment);
      expect([res.status, res.headers.get('x-tandem-origin')]).toEqual([200, 'http://fine-b.test']);
    }
    expect((await breakers(environment)).map((o) => o.breaker)).toEqual(['open', 'closed']);
  });

  it('one client call reaches the origins at most maxAttempts times: the client does not retry what the edge retried', async () => {
    // The client's origin path: its retry loop and error mapping (client/core), against the whole edge.
    const clientCall = (environment: Env) =>
      retry(
        async () => {
          edgeRequests++;
          const res = await infer('/v2/models/m/versions/1.0.0/infer', environment);
          if (!res.ok) throw await errorFromResponse(res);
          return res;
        },
        DEFAULT_RETRY,
        {},
        { sleep: async () => {} },
      );
    let edgeRequests = 0;
    const sick = {
      ...vars,
      ORIGINS: 'http://sick-a.test,http://sick-b.test',
      TUNING: JSON.stringify({ readinessTtlMs: 1e9, backoffBaseMs: 1, breakerFailureThreshold: 99 }),
    } as Env;
    // Unready too: an open breaker whose origin answers ready is probed through at once (origin-pool/proxy.ts).
    const attempts = origins(() => typed('overloaded', 503), false);
    // Every origin shed it: overloaded (503), not a gateway failure.
    await expect(clientCall(sick)).rejects.toMatchObject({ code: 'overloaded', attempts: DEFAULT_TUNING.maxAttempts });
    expect(attempts).toHaveLength(DEFAULT_TUNING.maxAttempts); // 3, not client attempts × edge attempts = 9.
    expect(edgeRequests).toBe(1);

    // Every breaker open: the edge tries no origin (x-tandem-attempts: 0), so the client may try again,
    // and the origins still see no more than maxAttempts attempts for the call.
    edgeRequests = 0;
    attempts.length = 0;
    const fragile = {
      ...sick,
      TUNING: JSON.stringify({ readinessTtlMs: 1e9, backoffBaseMs: 1, breakerFailureThreshold: 1, breakerCooldownMs: 60_000 }),
    } as Env;
    await expect(clientCall(fragile)).rejects.toMatchObject({ code: 'overloaded', attempts: 2 });
    expect([attempts.length, edgeRequests]).toEqual([2, 1]);
    await expect(clientCall(fragile)).rejects.toMatchObject({ code: 'origin_unavailable', attempts: 0 });
    expect([attempts.length, edgeRequests]).toEqual([2, 1 + DEFAULT_RETRY.attempts]);
  });
});

describe('CORS and errors', () => {
  it('answers a preflight and exposes the edge headers', async () => {
    const res = await call('/v2/models/m/infer', {
      method: 'OPTIONS',
      headers: {
        origin: 'https://app.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, content-type, x-client-id',
      },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('access-control-allow-headers')).toContain('x-client-id');
    const get = await call('/v1/models', { headers: { origin: 'https://app.example' } });
    const exposed = get.headers.get('access-control-expose-headers') ?? '';
    for (const h of ['x-request-id', 'x-model-version', 'x-tandem-origin', 'x-tandem-attempts', 'content-range', 'etag', 'inference-header-content-length'])
      expect(exposed).toContain(h);
  });

  it('lets a page read every answer: errors, unknown routes and proxied inferences carry the CORS headers', async () => {
    const browser = { origin: 'https://app.example' };
    vi.spyOn(globalThis, 'fetch').mockImplementation(async () => new Response('{}', { status: 200 }));
    const refused = await call('/v2/models/m/infer', { method: 'POST', body: '{}', headers: browser });
    const unknown = await call('/nope', { headers: browser });
    const answered = await call('/v2/models/m/infer', { method: 'POST', body: '{}', headers: { ...browser, authorization: `Bearer ${KEYS.infer}` } });
    expect([refused.status, unknown.status, answered.status]).toEqual([401, 404, 200]);
    for (const res of [refused, unknown, answered]) {
      expect(res.headers.get('access-control-allow-origin')).toBe('*');
      expect(res.headers.get('access-control-expose-headers')).toContain('x-tandem-error-code');
      expect(res.headers.get('x-request-id')).toBeTruthy();
      await res.arrayBuffer();
    }
    // A header a middleware set before the route answered is on the proxied answer too.
    expect(answered.headers.get('x-ratelimit-remaining')).toMatch(/^\d+$/);
  });

  it('unknown routes get the shared error body', async () => {
    const res = await call('/nope');
    expect(res.status).toBe(404);
    const body = (await res.json()) as { error: { code: string; request_id: string } };
    expect(body.error.code).toBe('not_found');
    expect(body.error.request_id).toBeTruthy();
  });

  it('the admin status route needs the admin scope', async () => {
    expect((await call('/v1/edge/status', { headers: { authorization: `Bearer ${KEYS.infer}` } })).status).toBe(403);
    const res = await call('/v1/edge/status', { headers: { authorization: `Bearer ${KEYS.admin}` } });
    expect(res.status).toBe(200);
    const status = (await res.json()) as { origins: unknown[]; trusted_keys: { keyids: string[]; threshold: number } };
    expect(status.origins).toHaveLength(2);
    // The keys this edge trusts, as TRUSTED_KEYS gave them.
    expect(status.trusted_keys).toEqual({ keyids: JSON.parse(vars.TRUSTED_KEYS).map((k: { keyid: string }) => k.keyid), threshold: 1 });
  });
});
