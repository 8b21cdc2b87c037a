/**
 * A version the origins lack: the wrapper's keeping of stand-ins (with a fake origin), then the whole SDK
 * against a fake edge and a real origin that holds 1.0.0 only while the edge also stores 1.0.5 (another
 * signature), 1.1.0 and 2.0.0.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TandemError } from '../protocol/errors.ts';
import type { Manifest } from '../protocol/manifest.ts';
import { ENVELOPE_FILE } from '../protocol/repository-layout.ts';
import { signManifest } from '../protocol/signed-manifest.ts';
import { copyVersion, INFER_TOKEN, readVerifiedManifest, signedRepository, startTestOrigin, type TestRepository } from '../origin/test-support.ts';
import { CAPABLE_DEVICE } from './core/capabilities.ts';
import { memoryStore } from './core/store.ts';
import type { OriginAnswer, OriginClient } from './origin-client.ts';
import { createTandem } from './tandem.ts';
import { createFakeEdge, EDGE, type FakeEdge } from './test-support/fake-edge.ts';
import { VERSION_FALLBACK_TTL_MS, withVersionFallback } from './version-fallback.ts';

const manifestAt = (version: string) => ({ id: 'm', version }) as Manifest;
const answer = (version: string): OriginAnswer => ({ outputs: {}, version, computeMs: 1 });
const missing = (version: string) => new TandemError('model_not_found', `model m has no loaded version ${version}`);

/** An origin holding `held` versions of model `m`, counting what it is asked. */
function fakeOrigin(held: Set<string>) {
  const asked: string[] = [];
  const origin: OriginClient = {
    async infer(manifest) {
      asked.push(manifest.version);
      if (!held.has(manifest.version)) throw missing(manifest.version);
      return answer(manifest.version);
    },
  };
  return { origin, asked };
}

describe('withVersionFallback', () => {
  it('runs on the stand-in, marks the answer, and goes straight to it for the TTL; then asks for the version again', async () => {
    const held = new Set(['1.0.0']);
    const { origin, asked } = fakeOrigin(held);
    let now = 0;
    let searches = 0;
    const client = withVersionFallback(origin, { now: () => now, standIn: async () => (searches++, manifestAt('1.0.0')) });
    const first = await client.infer(manifestAt('1.1.0'), {}, undefined);
    expect(first).toMatchObject({ version: '1.0.0', versionFallback: { requested: '1.1.0', served: '1.0.0', reason: 'version_not_on_origin' } });
    expect(asked).toEqual(['1.1.0', '1.0.0']);
    now = VERSION_FALLBACK_TTL_MS - 1;
    expect((await client.infer(manifestAt('1.1.0'), {}, undefined)).versionFallback?.served).toBe('1.0.0');
    expect(asked).toEqual(['1.1.0', '1.0.0', '1.0.0']);
    expect(searches).toBe(1);
    // Past the TTL the origins hold 1.1.0 again: it answers, unmarked.
    now = VERSION_FALLBACK_TTL_MS;
    held.add('1.1.0');
    const back = await client.infer(manifestAt('1.1.0'), {}, undefined);
    expect(back.version).toBe('1.1.0');
    expect(back.versionFallback).toBeUndefined();
  });

  it('a version the origins hold is never searched for; other errors pass through untouched', async () => {
    const { origin } = fakeOrigin(new Set(['1.0.0']));
    const unavailable = new TandemError('origin_unavailable', 'down');
    let searches = 0;
    const standIn = async () => (searches++, manifestAt('1.0.0'));
    expect((await withVersionFallback(origin, { now: () => 0, standIn }).infer(manifestAt('1.0.0'), {}, undefined)).versionFallback).toBeUndefined();
    const failing: OriginClient = { infer: async () => Promise.reject(unavailable) };
    await expect(withVersionFallback(failing, { now: () => 0, standIn }).infer(manifestAt('1.1.0'), {}, undefined)).rejects.toBe(unavailable);
    expect(searches).toBe(0);
  });

  it('with no stand-in, the search error is kept for the TTL: runs ask for their own version only, not search again', async () => {
    const { origin, asked } = fakeOrigin(new Set());
    let searches = 0;
    const none = new TandemError('model_not_found', 'model m has no loaded version 1.1.0; no version the origins hold can answer for it: 1.0.0 (…)');
    const client = withVersionFallback(origin, { now: () => 0, standIn: async () => (searches++, Promise.reject(none)) });
    await expect(client.infer(manifestAt('1.1.0'), {}, undefined)).rejects.toBe(none);
    await expect(client.infer(manifestAt('1.1.0'), {}, undefined)).rejects.toBe(none);
    expect(searches).toBe(1);
    expect(asked).toEqual(['1.1.0', '1.1.0']);
  });

  it('concurrent runs share one search; a stand-in the origins dropped since is searched for again', async () => {
    const held = new Set(['1.0.0']);
    const { origin } = fakeOrigin(held);
    let searches = 0;
    let next = '1.0.0';
    const client = withVersionFallback(origin, { now: () => 0, standIn: async () => (searches++, manifestAt(next)) });
    const runs = await Promise.all([1, 2, 3].map(() => client.infer(manifestAt('1.1.0'), {}, undefined)));
    expect(runs.map((r) => r.versionFallback?.served)).toEqual(['1.0.0', '1.0.0', '1.0.0']);
    expect(searches).toBe(1);
    held.delete('1.0.0');
    held.add('1.2.0');
    next = '1.2.0';
    expect((await client.infer(manifestAt('1.1.0'), {}, undefined)).versionFallback?.served).toBe('1.2.0');
    expect(searches).toBe(2);
  });

  it('a run aborted while the search runs rejects with aborted; the search goes on for the others', async () => {
    const { origin } = fakeOrigin(new Set(['1.0.0']));
    let found = (_: Manifest) => {};
    const client = withVersionFallback(origin, { now: () => 0, standIn: () => new Promise<Manifest>((resolve) => (found = resolve)) });
    const controller = new AbortController();
    const aborted = client.infer(manifestAt('1.1.0'), {}, undefined, controller.signal);
    const other = client.infer(manifestAt('1.1.0'), {}, undefined);
    await new Promise((r) => setTimeout(r, 0));
    controller.abort();
    await expect(aborted).rejects.toMatchObject({ code: 'aborted' });
    found(manifestAt('1.0.0'));
    expect((await other).versionFallback?.served).toBe('1.0.0');
  });
});

describe('the SDK, against a real origin that lacks the version loaded', () => {
  let repo: TestRepository;
  let origin: Awaited<ReturnType<typeof startTestOrigin>>['origin'];
  let edge: FakeEdge;

  beforeAll(async () => {
    repo = await signedRepository(['mlp-classifier']);
    ({ origin } = await startTestOrigin(repo));
    // Stored at the edge after the origin started: the origin holds 1.0.0 only.
    for (const v of ['1.1.0', '2.0.0']) await copyVersion(repo, 'mlp-classifier', '1.0.0', v);
    // 1.0.5, nearest to 1.1.0, takes another input shape: it cannot stand in.
    const other = await copyVersion(repo, 'mlp-classifier', '1.0.0', '1.0.5');
    const narrowed = { ...other, variants: other.variants.map((v) => ({ ...v, inputs: v.inputs.map((i) => ({ ...i, shape: ['batch', 128] })) })) };
    await writeFile(join(repo.repository, 'mlp-classifier', '1.0.5', ENVELOPE_FILE), JSON.stringify(await signManifest(narrowed, [repo.key])));
    const current = await readVerifiedManifest(repo, 'mlp-classifier', '1.0.0');
    edge = createFakeEdge({
      repository: repo.repository,
      manifests: new Map([['mlp-classifier', current]]),
      origin: { url: origin.url, token: INFER_TOKEN },
      apiKey: 'app-key',
    });
  }, 60_000);
  afterAll(async () => {
    await origin?.shutdown();
    await repo?.cleanup();
  });

  const tandem = () =>
    createTandem(
      { edge: EDGE, publicKeys: JSON.parse(repo.trustedKeys), apiKey: 'app-key', retry: { baseDelayMs: 1, maxDelayMs: 2 } },
      {
        fetch: edge.fetch,
        manifestStore: memoryStore(),
        resultStore: memoryStore(),
        clientIdStore: memoryStore(),
        warn: () => {},
        probe: async () => CAPABLE_DEVICE,
      },
    );
  const x = { x: { data: new Float32Array(256).fill(0.5), dims: [1, 256] } };

  it('1.1.0 on the origin is answered by 1.0.0 (1.0.5 passed over for its signature), marked, and not searched for again', async () => {
    const sdk = tandem();
    const model = await sdk.load('mlp-classifier', { version: '1.1.0', placement: 'origin-only' });
    expect(model.version).toBe('1.1.0');
    edge.requests.length = 0;
    const first = await model.run(x);
    expect(first).toMatchObject({
      ranOn: 'origin',
      version: '1.0.0',
      versionFallback: { requested: '1.1.0', served: '1.0.0', reason: 'version_not_on_origin' },
    });
    expect(first.outputs.probabilities!.dims).toEqual([1, 10]);
    expect(edge.requests).toEqual([
      'POST /v2/models/mlp-classifier/versions/1.1.0/infer',
      'GET /v2/models/mlp-classifier',
      'GET /v1/models/mlp-classifier/manifest',
      'GET /v1/models/mlp-classifier/manifest',
      'GET /v2/models/mlp-classifier/versions/1.0.0/ready',
      'POST /v2/models/mlp-classifier/versions/1.0.0/infer',
    ]);
    // The same answer as 1.0.0's own, and not cached as 1.1.0's.
    const own = await (await sdk.load('mlp-classifier', { version: '1.0.0', placement: 'origin-only' })).run(x);
    expect(own.versionFallback).toBeUndefined();
    expect(first.outputs.probabilities!.data).toEqual(own.outputs.probabilities!.data);
    edge.requests.length = 0;
    expect((await model.run(x)).versionFallback).toMatchObject({ served: '1.0.0' });
    expect(edge.requests).toEqual(['POST /v2/models/mlp-classifier/versions/1.0.0/infer']);
    await sdk.dispose();
  });

  it('no version that fits: the origin’s model_not_found, naming each candidate and why', async () => {
    const sdk = tandem();
    const model = await sdk.load('mlp-classifier', { version: '2.0.0', placement: 'origin-only' });
    // 1.1.0 is not on the origins, 1.0.5 does not fit, and 1.0.0's origins answer that they are draining.
    edge.intercept = (path) =>
      path === '/v2/models/mlp-classifier/versions/1.0.0/ready'
        ? Response.json({ error: { code: 'model_not_ready', message: 'draining' } }, { status: 503, headers: { 'x-tandem-error-code': 'model_not_ready' } })
        : undefined;
    try {
      const err = await model.run(x).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TandemError);
      expect((err as TandemError).code).toBe('model_not_found');
      expect((err as TandemError).message).toMatch(
        /no version the origins hold can answer for it: 1\.1\.0 \(not ready on the origins: 404 model_not_found\); 1\.0\.5 \(input x is float32 \[batch, 128\], not float32 \[batch, 256\]\); 1\.0\.0 \(not ready on the origins: 503 model_not_ready\)/,
      );
    } finally {
      edge.intercept = undefined;
      await sdk.dispose();
    }
  });
});
