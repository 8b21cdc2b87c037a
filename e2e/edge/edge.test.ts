/**
 * The real edge (`wrangler dev`) in front of two real origin processes on loopback. One edge and one
 * pair of origins serve every test, in order: the later tests kill origins.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseErrorBody } from '../../protocol/errors.ts';
import { INFER_TOKEN, type TestRepository } from '../../origin/test-support.ts';
import { startEdge, type RunningEdge } from '../../stack/edge-process.ts';
import { canaryRepository, inferBody, pool, refusedVersion, spawnOrigin, tamperedEnvelope, type ChildOrigin } from './support.ts';

const KEYS = { infer: 'it-infer', catalog: 'it-catalog', slow: 'it-slow', admin: 'it-admin' };
const MODEL = 'mlp-classifier';

let repo: TestRepository;
let a: ChildOrigin;
let b: ChildOrigin;
let edge: RunningEdge;
const logs: Record<string, unknown>[] = [];

beforeAll(async () => {
  repo = await canaryRepository();
  // 2.0.0 fails its signature check: both origins refuse it at load.
  await refusedVersion(repo, MODEL, '1.0.0', '2.0.0');
  [a, b] = await Promise.all([spawnOrigin(repo), spawnOrigin(repo)]);
  edge = await startEdge({
    origins: [a.url, b.url],
    repository: repo.repository,
    trustedKeys: repo.trustedKeys,
    originToken: INFER_TOKEN,
    apiKeys: [
      { name: 'infer', key: KEYS.infer, scopes: ['infer', 'catalog'], ratePerSecond: 10_000, burst: 10_000 },
      { name: 'catalog', key: KEYS.catalog, scopes: ['catalog'] },
      { name: 'slow', key: KEYS.slow, scopes: ['infer'], ratePerSecond: 0.5, burst: 3 },
      { name: 'admin', key: KEYS.admin, scopes: ['admin'] },
    ],
    canary: { [MODEL]: { '1.0.0': 90, '1.1.0': 10 } },
    tuning: { breakerFailureThreshold: 2, breakerCooldownMs: 1500, readinessTtlMs: 1000, backoffBaseMs: 5, backoffCapMs: 50 },
    extraObjects: [await tamperedEnvelope(repo)],
    onLine: (line) => {
      if (line.startsWith('{')) {
        try {
          logs.push(JSON.parse(line) as Record<string, unknown>);
        } catch {
          // A partial line.
        }
      }
    },
  });
});

afterAll(async () => {
  await edge?.stop();
  await Promise.all([a?.kill(), b?.kill()]);
  await repo?.cleanup();
});

function infer(headers: Record<string, string> = {}, seed = 1, version?: string): Promise<Response> {
  return fetch(`${edge.url}/v2/models/${MODEL}${version ? `/versions/${version}` : ''}/infer`, {
    method: 'POST',
    body: inferBody(seed),
    headers: { 'content-type': 'application/json', authorization: `Bearer ${KEYS.infer}`, ...headers },
  });
}

/** The error code of an answer: OIP's body on /v2, Tandem's on /v1 (protocol/errors.ts reads both). */
async function code(res: Response): Promise<string> {
  return parseErrorBody(res.status, await res.json(), res.headers).code;
}

async function originStatus(): Promise<{ url: string; breaker: string; consecutive_failures: number }[]> {
  const res = await fetch(`${edge.url}/v1/edge/status`, { headers: { authorization: `Bearer ${KEYS.admin}` } });
  return ((await res.json()) as { origins: { url: string; breaker: string; consecutive_failures: number }[] }).origins;
}

describe('edge in front of real origins', () => {
  it('serves the catalog and verified manifests with ETags', async () => {
    const catalog = (await (await fetch(`${edge.url}/v1/models`)).json()) as { models: { id: string; versions: string[] }[] };
    expect(catalog.models).toEqual([expect.objectContaining({ id: MODEL, versions: ['1.0.0', '1.1.0'] })]);
    const res = await fetch(`${edge.url}/v1/models/${MODEL}/manifest?version=1.0.0`);
    expect(res.status).toBe(200);
    const onDisk = await readFile(join(repo.repository, MODEL, '1.0.0', 'manifest.dsse.json'), 'utf8');
    expect(await res.text()).toBe(onDisk);
    const etag = res.headers.get('etag')!;
    expect((await fetch(`${edge.url}/v1/models/${MODEL}/manifest?version=1.0.0`, { headers: { 'if-none-match': etag } })).status).toBe(304);
  });

  it('refuses a tampered manifest, and logs it', async () => {
    const res = await fetch(`${edge.url}/v1/models/tampered/manifest`);
    expect(res.status).toBe(422);
    expect(await code(res)).toBe('manifest_signature_invalid');
    await expect.poll(() => logs.some((l) => l.event === 'manifest_refused' && l.model === 'tampered')).toBe(true);
  });

  it('answers an inference through an origin, saying which origin and version', async () => {
    const res = await infer({ 'x-request-id': 'it-req-1', 'x-client-id': 'client-x' });
    expect(res.status).toBe(200);
    expect([a.url, b.url]).toContain(res.headers.get('x-tandem-origin'));
    expect(['1.0.0', '1.1.0']).toContain(res.headers.get('x-model-version'));
    expect(res.headers.get('x-request-id')).toBe('it-req-1');
    const body = (await res.json()) as { outputs: { name: string; data: number[] }[] };
    expect(body.outputs.find((o) => o.name === 'probabilities')?.data).toHaveLength(10);
    await expect.poll(() => logs.some((l) => l.event === 'request' && l.request_id === 'it-req-1' && typeof l.total_ms === 'number')).toBe(true);
  });

  it('splits 1,000 clients 90/10 between versions within tolerance', async () => {
    const versions = await pool(1000, 8, async (i) => {
      const res = await infer({ 'x-client-id': `split-${i}` }, i);
      expect(res.status).toBe(200);
      await res.arrayBuffer();
      return res.headers.get('x-model-version');
    });
    const canary = versions.filter((v) => v === '1.1.0').length;
    expect(versions.filter((v) => v === '1.0.0').length + canary).toBe(1000);
    // Binomial(1000, 0.1): sd 9.5, so ±40 is over 4 sd.
    expect(canary).toBeGreaterThan(60);
    expect(canary).toBeLessThan(140);
  });

  it('keeps each client on its version, on the manifest route too', async () => {
    for (let c = 0; c < 8; c++) {
      const seen = new Set<string | null>();
      for (let i = 0; i < 6; i++) {
        const res = await infer({ 'x-client-id': `sticky-${c}` }, i);
        await res.arrayBuffer();
        seen.add(res.headers.get('x-model-version'));
      }
      expect(seen.size).toBe(1);
      const manifest = await fetch(`${edge.url}/v1/models/${MODEL}/manifest`, { headers: { 'x-client-id': `sticky-${c}` } });
      await manifest.arrayBuffer();
      expect(manifest.headers.get('x-model-version')).toBe([...seen][0]);
    }
  });

  it("one client asking for a refused or unknown version gets the origin's answer and changes nothing for the others", async () => {
    const outcomes = await pool(240, 8, async (i) => {
      const version = i % 3 === 0 ? '2.0.0' : i % 3 === 1 ? '9.9.9' : undefined;
      const res = await infer({ 'x-client-id': version ? 'curious' : `other-${i}` }, i, version);
      const body = res.ok ? (await res.arrayBuffer(), undefined) : parseErrorBody(res.status, await res.json(), res.headers);
      return { version, status: res.status, attempts: res.headers.get('x-tandem-attempts'), body };
    });
    for (const o of outcomes.filter((o) => o.version === '2.0.0')) {
      expect([o.status, o.body?.code, o.attempts]).toEqual([503, 'model_not_ready', '1']);
      expect(o.body?.message).toMatch(/version 2\.0\.0 was refused: manifest_signature_invalid/);
    }
    for (const o of outcomes.filter((o) => o.version === '9.9.9')) expect([o.status, o.body?.code, o.attempts]).toEqual([404, 'model_not_found', '1']);
    expect(outcomes.filter((o) => o.version === undefined).map((o) => o.status)).toEqual(new Array(80).fill(200));
    // With a breaker threshold of 2, two refusals counted against an origin would have opened it.
    expect((await originStatus()).map((o) => [o.breaker, o.consecutive_failures])).toEqual([
      ['closed', 0],
      ['closed', 0],
    ]);
    expect((await (await fetch(`${edge.url}/v1/models`)).json()) as { models: { versions: string[] }[] }).toMatchObject({
      models: [{ versions: ['1.0.0', '1.1.0'] }],
    });
  });

  it('401 without or with an unknown key, 403 without the scope, 429 past the rate', async () => {
    const none = await fetch(`${edge.url}/v2/models/${MODEL}/infer`, { method: 'POST', body: inferBody() });
    expect([none.status, await code(none)]).toEqual([401, 'unauthorized']);
    const unknown = await infer({ authorization: 'Bearer nope' });
    expect([unknown.status, await code(unknown)]).toEqual([401, 'unauthorized']);
    const forbidden = await infer({ authorization: `Bearer ${KEYS.catalog}` });
    expect([forbidden.status, await code(forbidden)]).toEqual([403, 'forbidden']);
    const statuses: number[] = [];
    let limited: Response | undefined;
    for (let i = 0; i < 5; i++) {
      const res = await infer({ authorization: `Bearer ${KEYS.slow}` });
      statuses.push(res.status);
      if (res.status === 429) limited = res;
      else await res.arrayBuffer();
    }
    expect(statuses.slice(0, 3)).toEqual([200, 200, 200]);
    expect(statuses.slice(3)).toEqual([429, 429]);
    expect(Number(limited!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await code(limited!)).toBe('rate_limited');
  });

  it('answers a CORS preflight and exposes its headers', async () => {
    const res = await fetch(`${edge.url}/v2/models/${MODEL}/infer`, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('access-control-allow-methods')).toContain('POST');
    const get = await fetch(`${edge.url}/v1/models`, { headers: { origin: 'https://app.example' } });
    await get.arrayBuffer();
    expect(get.headers.get('access-control-expose-headers')).toContain('x-tandem-origin');
  });

  it('resumes an artifact download with Range to identical bytes', async () => {
    const file = await readFile(join(repo.repository, MODEL, '1.0.0', 'int8.onnx'));
    const sha256 = createHash('sha256').update(file).digest('hex');
    const half = Math.floor(file.length / 2);
    const first = await fetch(`${edge.url}/v1/artifacts/${sha256}`, { headers: { range: `bytes=0-${half - 1}` } });
    expect(first.status).toBe(206);
    expect(first.headers.get('content-length')).toBe(String(half));
    const rest = await fetch(`${edge.url}/v1/artifacts/${sha256}`, { headers: { range: `bytes=${half}-` } });
    expect(rest.status).toBe(206);
    expect(rest.headers.get('content-range')).toBe(`bytes ${half}-${file.length - 1}/${file.length}`);
    const joined = Buffer.concat([Buffer.from(await first.arrayBuffer()), Buffer.from(await rest.arrayBuffer())]);
    expect(createHash('sha256').update(joined).digest('hex')).toBe(sha256);
    const whole = await fetch(`${edge.url}/v1/artifacts/${sha256}`);
    expect(whole.headers.get('content-length')).toBe(String(file.length));
    expect(Buffer.from(await whole.arrayBuffer()).equals(file)).toBe(true);
    const outside = await fetch(`${edge.url}/v1/artifacts/${sha256}`, { headers: { range: `bytes=${file.length}-` } });
    expect([outside.status, await code(outside)]).toEqual([416, 'range_not_satisfiable']);
  });

  it('loses no client request when an origin is killed mid-load, and opens its breaker', async () => {
    let done = 0;
    const killed = (async () => {
      while (done < 60) await new Promise((r) => setTimeout(r, 5));
      await b.kill('SIGKILL');
    })();
    const statuses = await pool(300, 6, async (i) => {
      const res = await infer({ 'x-client-id': `kill-${i}` }, i);
      await res.arrayBuffer();
      done++;
      return res.status;
    });
    await killed;
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    const status = await originStatus();
    expect(status.find((o) => o.url === b.url)?.breaker).not.toBe('closed');
    expect(status.find((o) => o.url === a.url)?.breaker).toBe('closed');
  });

  it('half-opens and closes the breaker when the origin comes back', async () => {
    b = await spawnOrigin(repo, b.port);
    const served = new Set<string | null>();
    const deadline = Date.now() + 20_000;
    while (!served.has(b.url) && Date.now() < deadline) {
      const res = await infer({}, 7);
      await res.arrayBuffer();
      expect(res.status).toBe(200);
      served.add(res.headers.get('x-tandem-origin'));
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(served).toContain(b.url);
    expect((await originStatus()).map((o) => o.breaker)).toEqual(['closed', 'closed']);
  });

  it('answers origin_unavailable fast when every origin is down', async () => {
    await Promise.all([a.kill('SIGKILL'), b.kill('SIGKILL')]);
    for (let i = 0; i < 3; i++) {
      const started = performance.now();
      const res = await infer();
      const elapsed = performance.now() - started;
      expect([res.status, await code(res)]).toEqual([502, 'origin_unavailable']);
      expect(elapsed).toBeLessThan(1000);
    }
  });
});
