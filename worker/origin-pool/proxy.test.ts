import { describe, expect, it } from 'vitest';
import { TandemError } from '../../protocol/errors.ts';
import { DEFAULT_TUNING, type Tuning } from '../config.ts';
import { OriginPool, orderOrigins } from './pool.ts';
import { probeOpenBreakers, proxyInference, refreshReadiness, verdictFor, type ProxyDeps } from './proxy.ts';

const tuning: Tuning = { ...DEFAULT_TUNING, breakerFailureThreshold: 2, breakerCooldownMs: 1000 };
const breaker = { failureThreshold: 2, cooldownMs: 1000 };

/** Fake origins: `behaviour[url]` says how each answers; a virtual clock that sleeps instantly. */
function fakeDeps(behaviour: Record<string, () => Response | Promise<Response>>) {
  let clock = 1_000_000;
  const calls: string[] = [];
  const deps: ProxyDeps = {
    fetch: async (url) => {
      calls.push(url);
      const origin = Object.keys(behaviour).find((o) => url.startsWith(o));
      return behaviour[origin!]!();
    },
    now: () => clock,
    sleep: async (ms) => void (clock += ms),
    random: () => 0.5,
  };
  return { deps, calls, advance: (ms: number) => void (clock += ms) };
}

const ok = () => new Response('{"outputs":[]}', { status: 200, headers: { 'x-model-version': '1.0.0' } });
const refused = (): Response => {
  throw new TypeError('connection refused');
};

function request(deadline = Number.MAX_SAFE_INTEGER) {
  return {
    path: '/v2/models/m/infer',
    headers: new Headers({ 'content-type': 'application/json', cookie: 'secret' }),
    body: new ArrayBuffer(2),
    requestId: 'r1',
    deadline,
  };
}

/** An origin that never answers: the call settles only when the caller's signal aborts it. */
function hangUntilAborted(init: RequestInit): Promise<Response> {
  return new Promise((_, reject) => {
    const signal = init.signal;
    if (!signal) throw new Error('the proxy sent no signal: a hung origin would hold the request forever');
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}

/** An origin's typed error answer. */
const typed = (code: string, status: number) => (): Response =>
  new Response(JSON.stringify({ error: { code, message: `${code} from the origin` } }), { status, headers: { 'content-type': 'application/json' } });

describe('verdictFor', () => {
  const body = (code: string) => JSON.stringify({ error: { code, message: 'x' } });

  it('retries elsewhere only what says the origin is unwell, by the error table', () => {
    expect(verdictFor(200)).toBe('success');
    for (const [status, code] of [
      [503, 'overloaded'],
      [503, 'shutting_down'],
      [504, 'deadline_exceeded'],
    ] as const) {
      expect(verdictFor(status, body(code)), code).toBe('retry');
    }
    // No Tandem body: something in front of the origin answered; the status speaks.
    expect(verdictFor(502)).toBe('retry');
    expect(verdictFor(503, '<html>')).toBe('retry');
    expect(verdictFor(500)).toBe('retry');
  });

  it('relays answers about the request or the model as final', () => {
    for (const [status, code] of [
      [503, 'model_not_ready'],
      [404, 'model_not_found'],
      [400, 'input_shape_mismatch'],
      [500, 'inference_failed'],
      [500, 'internal'],
    ] as const) {
      expect(verdictFor(status, body(code)), code).toBe('final');
    }
    expect(verdictFor(400)).toBe('final');
    expect(verdictFor(404, 'not found')).toBe('final');
  });
});

describe('proxyInference', () => {
  it('sends the origin token and request id, not the client credentials', async () => {
    const pool = new OriginPool(['http://a'], breaker);
    let seen: Headers | undefined;
    const { deps } = fakeDeps({ 'http://a': ok });
    const wrapped = { ...deps, fetch: async (url: string, init: RequestInit) => ((seen = new Headers(init.headers)), deps.fetch(url, init)) };
    const result = await proxyInference(pool, request(), tuning, 'tok', wrapped);
    expect(result).toMatchObject({ status: 200, origin: 'http://a', attempts: 1 });
    expect(seen?.get('authorization')).toBe('Bearer tok');
    expect(seen?.get('x-request-id')).toBe('r1');
    expect(seen?.get('cookie')).toBeNull();
  });

  it('retries a failed attempt on another origin', async () => {
    const pool = new OriginPool(['http://a', 'http://b'], breaker);
    const { deps, calls } = fakeDeps({ 'http://a': refused, 'http://b': ok });
    for (let i = 0; i < 4; i++) {
      const result = await proxyInference(pool, request(), tuning, 't', deps);
      expect(result.origin).toBe('http://b');
    }
    // After two failures a's breaker is open: it is no longer tried.
    expect(calls.filter((c) => c.startsWith('http://a'))).toHaveLength(2);
    expect(pool.status(0)[0]?.breaker).toBe('open');
  });

  it('retries 503 but relays 4xx and 500 inference_failed as the answer', async () => {
    const pool = new OriginPool(['http://a', 'http://b'], breaker);
    const { deps } = fakeDeps({ 'http://a': () => new Response('', { status: 503 }), 'http://b': () => new Response('bad', { status: 400 }) });
    const result = await proxyInference(pool, request(), tuning, 't', deps);
    expect(result).toMatchObject({ status: 400, origin: 'http://b', attempts: 2 });
    const failing = new OriginPool(['http://a'], breaker);
    const { deps: failed } = fakeDeps({ 'http://a': typed('inference_failed', 500) });
    expect(await proxyInference(failing, request(), tuning, 't', failed)).toMatchObject({ status: 500, attempts: 1 });
  });

  it('relays model_not_ready and model_not_found as the origin gave them, never against its breaker', async () => {
    const pool = new OriginPool(['http://a', 'http://b'], breaker);
    const { deps, calls } = fakeDeps({ 'http://a': typed('model_not_ready', 503), 'http://b': typed('model_not_found', 404) });
    for (let i = 0; i < 10; i++) {
      const result = await proxyInference(pool, request(), tuning, 't', deps);
      expect(result.attempts).toBe(1);
      expect([503, 404]).toContain(result.status);
      const code = (JSON.parse(new TextDecoder().decode(result.body)) as { error: { code: string } }).error.code;
      expect(code).toBe(result.status === 503 ? 'model_not_ready' : 'model_not_found');
    }
    expect(calls).toHaveLength(10); // One attempt each: no retries on the other origin.
    expect(pool.status(0).map((o) => [o.breaker, o.consecutive_failures])).toEqual([
      ['closed', 0],
      ['closed', 0],
    ]);
  });

  it('counts an unwell origin (overloaded, a bare 500) and moves on', async () => {
    const pool = new OriginPool(['http://a', 'http://b'], breaker);
    const { deps } = fakeDeps({ 'http://a': typed('overloaded', 503), 'http://b': () => new Response('oops', { status: 500 }) });
    const error = await proxyInference(pool, request(), tuning, 't', deps).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'origin_unavailable', attempts: 3 });
    expect((error as TandemError).message).toMatch(/HTTP 503 overloaded.*HTTP 500 origin_unavailable/);
    // a, b, then a again (threshold 2): a opens.
    expect(pool.status(0).map((o) => [o.breaker, o.consecutive_failures])).toEqual([
      ['open', 2],
      ['closed', 1],
    ]);
  });

  it('answers overloaded (503) with the longest Retry-After when every origin tried shed the request', async () => {
    const pool = new OriginPool(['http://a', 'http://b'], { failureThreshold: 99, cooldownMs: 1 });
    const shedding = (retryAfter: string) => () => {
      const res = typed('overloaded', 503)();
      res.headers.set('retry-after', retryAfter);
      return res;
    };
    const { deps, calls } = fakeDeps({ 'http://a': shedding('2'), 'http://b': shedding('7') });
    const error = await proxyInference(pool, request(), tuning, 't', deps).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'overloaded', attempts: tuning.maxAttempts, retryAfterSeconds: 7 });
    expect((error as TandemError).message).toMatch(/every origin tried is overloaded: origin 1: HTTP 503 overloaded/);
    expect(calls).toHaveLength(tuning.maxAttempts);
  });

  it('makes at most maxAttempts origin attempts, and says how many', async () => {
    const pool = new OriginPool(['http://a', 'http://b', 'http://c', 'http://d'], { failureThreshold: 99, cooldownMs: 1 });
    const { deps, calls } = fakeDeps({ 'http://a': refused, 'http://b': refused, 'http://c': refused, 'http://d': refused });
    await expect(proxyInference(pool, request(), tuning, 't', deps)).rejects.toMatchObject({ code: 'origin_unavailable', attempts: tuning.maxAttempts });
    expect(calls).toHaveLength(tuning.maxAttempts);
  });

  it('fails fast with origin_unavailable when every breaker is open', async () => {
    const pool = new OriginPool(['http://a', 'http://b'], breaker);
    const { deps, calls } = fakeDeps({ 'http://a': refused, 'http://b': refused });
    await expect(proxyInference(pool, request(), tuning, 't', deps)).rejects.toMatchObject({ code: 'origin_unavailable' });
    await expect(proxyInference(pool, request(), tuning, 't', deps)).rejects.toMatchObject({ code: 'origin_unavailable' });
    const before = calls.length;
    const error = await proxyInference(pool, request(), tuning, 't', deps).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TandemError);
    expect((error as TandemError).message).toMatch(/marked down/);
    expect((error as TandemError).attempts).toBe(0);
    expect(calls.length).toBe(before);
  });

  it('half-opens after the cooldown and closes on a good probe', async () => {
    const pool = new OriginPool(['http://a'], breaker);
    let up = false;
    const { deps, advance } = fakeDeps({ 'http://a': () => (up ? ok() : refused()) });
    await proxyInference(pool, request(), tuning, 't', deps).catch(() => undefined);
    await proxyInference(pool, request(), tuning, 't', deps).catch(() => undefined);
    expect(pool.status(Date.now())[0]?.breaker).not.toBe('closed');
    up = true;
    advance(1000);
    expect((await proxyInference(pool, request(), tuning, 't', deps)).status).toBe(200);
    expect(pool.origins[0]?.breaker.state).toBe('closed');
  });

  it("probes an open breaker's readiness and lets a request through as soon as the origin is ready, not after the cooldown", async () => {
    const cooldown = { failureThreshold: 2, cooldownMs: 5000 };
    const pool = new OriginPool(['http://a'], cooldown);
    let up = false;
    let probes = 0;
    const { deps, advance } = fakeDeps({
      'http://a': () => {
        if (!up) return refused();
        return ok();
      },
    });
    const counting: ProxyDeps = { ...deps, fetch: (url, init) => (url.endsWith('/health/ready') && probes++, deps.fetch(url, init)) };
    const slow = { ...tuning, breakerCooldownMs: 5000, breakerProbeIntervalMs: 250 };
    await proxyInference(pool, request(), slow, 't', counting).catch(() => undefined);
    expect(pool.status(deps.now())[0]?.breaker).toBe('open');
    // Down: probed once per interval from when the breaker opened, and the breaker stays open.
    expect(probeOpenBreakers(pool, slow, 't', counting)).toBeUndefined();
    advance(250);
    await probeOpenBreakers(pool, slow, 't', counting);
    expect(probeOpenBreakers(pool, slow, 't', counting)).toBeUndefined();
    advance(250);
    await probeOpenBreakers(pool, slow, 't', counting);
    expect([probes, pool.status(deps.now())[0]?.breaker]).toEqual([2, 'open']);
    await expect(proxyInference(pool, request(), slow, 't', counting)).rejects.toMatchObject({ code: 'origin_unavailable', attempts: 0 });
    // Back after 500 ms: the next probe opens the way, long before the 5 s cooldown.
    up = true;
    advance(250);
    await probeOpenBreakers(pool, slow, 't', counting);
    expect(pool.status(deps.now())[0]?.breaker).toBe('half-open');
    expect((await proxyInference(pool, request(), slow, 't', counting)).status).toBe(200);
    expect(pool.origins[0]?.breaker.state).toBe('closed');
    expect(probeOpenBreakers(pool, slow, 't', counting)).toBeUndefined();
  });

  it('stops at the deadline', async () => {
    const pool = new OriginPool(['http://a', 'http://b', 'http://c'], { failureThreshold: 99, cooldownMs: 1 });
    const { deps, calls } = fakeDeps({ 'http://a': refused, 'http://b': refused, 'http://c': refused });
    await expect(proxyInference(pool, request(1_000_000), { ...tuning, maxAttempts: 10 }, 't', deps)).rejects.toMatchObject({ code: 'origin_unavailable' });
    expect(calls).toHaveLength(0);
  });

  it('gives up on an origin that does not answer within the attempt timeout and tries the next', async () => {
    const pool = new OriginPool(['http://a', 'http://b'], breaker);
    const { deps } = fakeDeps({ 'http://a': ok, 'http://b': ok });
    const seen: string[] = [];
    const hangingA: ProxyDeps = {
      ...deps,
      fetch: (url, init) => (seen.push(url), url.startsWith('http://a') ? hangUntilAborted(init) : deps.fetch(url, init)),
    };
    const result = await proxyInference(pool, request(), { ...tuning, attemptTimeoutMs: 30 }, 't', hangingA);
    expect(result).toMatchObject({ status: 200, origin: 'http://b', attempts: 2 });
    expect(result.failures).toEqual(['http://a: timed out after 30 ms']);
    expect(seen.map((u) => u.slice(0, 8))).toEqual(['http://a', 'http://b']);
  });

  it("never names an origin's URL, or the runtime's words about it, to the caller: the URLs and reasons are the error's cause, for the log", async () => {
    const pool = new OriginPool(['http://ops:s3cret@a', 'http://b'], { failureThreshold: 99, cooldownMs: 1 });
    const { deps } = fakeDeps({ 'http://b': typed('overloaded', 503) });
    const failing: ProxyDeps = {
      ...deps,
      fetch: (url, init) => (url.startsWith('http://ops') ? Promise.reject(new TypeError(`Fetch API cannot load: ${url}`)) : deps.fetch(url, init)),
    };
    const error = (await proxyInference(pool, request(), tuning, 't', failing).catch((e: unknown) => e)) as TandemError;
    expect(error.code).toBe('origin_unavailable');
    expect(error.message).toMatch(/^no origin could answer: origin 1: network error; origin 2: HTTP 503 overloaded/);
    expect(error.message).not.toMatch(/s3cret|http:/);
    expect(error.cause).toEqual(
      expect.arrayContaining([expect.stringMatching(/^http:\/\/ops:s3cret@a: Fetch API cannot load/), 'http://b: HTTP 503 overloaded']),
    );
  });

  it('maps an origin refusing the edge token to origin_unavailable', async () => {
    const pool = new OriginPool(['http://a'], breaker);
    const { deps } = fakeDeps({ 'http://a': () => new Response('', { status: 401 }) });
    await expect(proxyInference(pool, request(), tuning, 't', deps)).rejects.toMatchObject({ code: 'origin_unavailable' });
  });
});

describe('origin selection', () => {
  it('prefers ready, untried, least loaded origins, rotating between equals', () => {
    const pool = new OriginPool(['http://a', 'http://b', 'http://c'], breaker);
    const [a, b, c] = pool.origins;
    a!.ready = false;
    b!.inFlight = 3;
    expect(orderOrigins(pool.origins, 0, breaker, new Set(), 0).map((o) => o.url)).toEqual(['http://c', 'http://b', 'http://a']);
    expect(orderOrigins(pool.origins, 0, breaker, new Set(['http://c']), 0).map((o) => o.url)).toEqual(['http://b', 'http://a', 'http://c']);
    b!.inFlight = 0;
    c!.ready = true;
    const firsts = new Set([0, 1, 2, 3].map((r) => orderOrigins(pool.origins, 0, breaker, new Set(), r)[0]?.url));
    expect(firsts).toEqual(new Set(['http://b', 'http://c']));
  });

  it('takes an origin whose readiness check does not answer in time for not ready', async () => {
    const pool = new OriginPool(['http://a'], breaker);
    const { deps } = fakeDeps({ 'http://a': ok });
    await refreshReadiness(pool, { ...tuning, readinessTimeoutMs: 20 }, 't', { ...deps, fetch: (_url, init) => hangUntilAborted(init) });
    expect(pool.origins[0]?.ready).toBe(false);
  });

  it('checks readiness of stale origins in the background', async () => {
    const pool = new OriginPool(['http://a', 'http://b'], breaker);
    const { deps } = fakeDeps({ 'http://a': ok, 'http://b': () => new Response('', { status: 503 }) });
    await refreshReadiness(pool, tuning, 't', deps);
    expect(pool.origins.map((o) => o.ready)).toEqual([true, false]);
    expect(refreshReadiness(pool, tuning, 't', deps)).toBeUndefined();
  });
});
