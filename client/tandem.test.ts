/**
 * The SDK end to end in Node: a fake edge (manifests and artifacts from a built repository, inference
 * forwarded to a real in-process origin), the real device runtime on onnxruntime-web's WASM backend
 * (in-process instead of in a Worker), and in-memory stores standing in for IndexedDB.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as ortWeb from 'onnxruntime-web';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { confidenceBucket, type TelemetryBatch } from '../protocol/device-telemetry.ts';
import { parseTelemetryBatch } from '../protocol/telemetry-batch-reader.ts';
import { listModelVersions, readEnvelope } from '../origin/repository.ts';
import { INFER_TOKEN, signedRepository, startTestOrigin, type TestRepository } from '../origin/test-support.ts';
import { loadTrustedKeys } from '../protocol/keys.ts';
import type { Manifest } from '../protocol/manifest.ts';
import { verifyManifest } from '../protocol/signed-manifest.ts';
import { CAPABLE_DEVICE } from './core/capabilities.ts';
import { requestKind } from './core/counters.ts';
import { createModelCache } from './core/model-cache.ts';
import type { ResultEntry } from './core/result-cache.ts';
import { memoryStore } from './core/store.ts';
import { createDeviceRuntime, type OrtLike } from './runtime/device-runtime.ts';
import { TandemError } from '../protocol/errors.ts';
import type { DeviceRuntime, RestartableRuntime } from './runtime/contract.ts';
import type { TandemConfig } from './config.ts';
import { createTandem, type TandemDeps } from './tandem.ts';
import { createFakeEdge, EDGE, type FakeEdge } from './test-support/fake-edge.ts';
import { gate } from './test-support/gate.ts';

const WASM_PATHS = pathToFileURL(join(dirname(createRequire(import.meta.url).resolve('onnxruntime-web')), '/')).href;
const quiet = () => {};

let repo: TestRepository;
let origin: Awaited<ReturnType<typeof startTestOrigin>>['origin'];
let originLines: Record<string, unknown>[];
let edge: FakeEdge;
const manifests = new Map<string, Manifest>();

beforeAll(async () => {
  repo = await signedRepository(['mlp-classifier']);
  ({ origin, lines: originLines } = await startTestOrigin(repo));
  const trusted = await loadTrustedKeys(repo.trustedKeys);
  for (const { id, version } of await listModelVersions(repo.repository)) {
    manifests.set(id, (await verifyManifest(await readEnvelope(repo.repository, id, version), trusted)).manifest);
  }
  edge = createFakeEdge({ repository: repo.repository, manifests, origin: { url: origin.url, token: INFER_TOKEN }, apiKey: 'app-key' });
});
afterAll(async () => {
  await origin?.shutdown();
  await repo?.cleanup();
});

/** One "browser profile": stores that survive page loads, and a fresh SDK per page load. */
function profile() {
  const stores = {
    resultStore: memoryStore<ResultEntry>(),
    manifestStore: memoryStore<unknown>(),
    clientIdStore: memoryStore<string>(),
    bytes: memoryStore<Uint8Array>(),
    meta: memoryStore<never>(),
  };
  let online = true;
  /** A device runtime on this profile's model cache, fetching through `fetchVia` (the edge by default). */
  const newRuntime = (fetchVia: typeof fetch = edge.fetch) =>
    createDeviceRuntime({ ort: ortWeb as unknown as OrtLike, fetch: fetchVia, modelCache: createModelCache(stores.bytes, stores.meta), warn: quiet });
  const page = (config: Partial<TandemConfig> = {}, deps: Partial<TandemDeps> = {}) => {
    return createTandem(
      { edge: EDGE, publicKeys: JSON.parse(repo.trustedKeys), apiKey: 'app-key', wasmPaths: WASM_PATHS, retry: { baseDelayMs: 1, maxDelayMs: 2 }, ...config },
      {
        fetch: edge.fetch,
        ...(deps.startRuntime ? {} : { runtime: newRuntime() }),
        probe: async () => CAPABLE_DEVICE,
        resultStore: stores.resultStore,
        manifestStore: stores.manifestStore,
        clientIdStore: stores.clientIdStore,
        online: () => online,
        persist: async () => true,
        warn: quiet,
        ...deps,
      },
    );
  };
  return { page, stores, newRuntime, setOnline: (v: boolean) => (online = v) };
}

const x = (seed = 1) => ({ x: { data: new Float32Array(256).map((_, i) => Math.sin(i * seed)), dims: [1, 256] } });
const top1 = (t: { data: unknown }) => {
  const d = t.data as Float32Array;
  return d.indexOf(Math.max(...d));
};

/** The edge's fetch, with every artifact request first awaiting `beforeArtifact` (to hold it, or to fail it). */
const artifactsAfter =
  (beforeArtifact: () => Promise<void>): typeof fetch =>
  async (input, init) => {
    if (new Request(input, init).url.includes('/v1/artifacts/')) await beforeArtifact();
    return edge.fetch(input, init);
  };

describe('createTandem', () => {
  it('prefer-device: verifies, downloads with progress, runs on wasm, then answers from the result cache', async () => {
    edge.down = false;
    const tandem = profile().page();
    const progress: number[] = [];
    const model = await tandem.load('mlp-classifier', { waitForDevice: true, onProgress: (p) => p.phase === 'download' && progress.push(p.loaded) });
    expect(model.placement).toMatchObject({ target: 'device', mode: 'prefer-device' });
    expect(model.device).toMatchObject({ backend: 'wasm', fromCache: false });
    expect(progress.at(-1)).toBe(model.placement.variant.artifact.bytes);

    const first = await model.run(x());
    expect(first).toMatchObject({ ranOn: 'device', backend: 'wasm', version: '1.0.0', stale: false });
    expect(first.outputs.probabilities!.dims).toEqual([1, 10]);
    const second = await model.run(x());
    expect(second).toMatchObject({ ranOn: 'cache', backend: 'wasm', stale: false });
    expect(second.outputs.logits!.data).toEqual(first.outputs.logits!.data);
    expect((await model.run(x(), { cache: 'no-store' })).ranOn).toBe('device');

    const stats = await tandem.stats();
    expect(stats).toMatchObject({ network: { manifest: 1, artifact: 1, infer: 0 }, results: { hits: 1, misses: 2 }, persisted: true });
  });

  it('prefer-device on a first visit: load resolves before the download, the origin answers until the device session is ready', async () => {
    const p = profile();
    const { held, release } = gate();
    let artifactAsked = false;
    // The runtime's artifact download waits for the test: the first runs cannot be the device's.
    const runtime = p.newRuntime(
      artifactsAfter(() => {
        artifactAsked = true;
        return held;
      }),
    );
    const tandem = p.page({}, { runtime });
    const progress: string[] = [];
    const model = await tandem.load('mlp-classifier', { onProgress: (e) => progress.push(e.phase) });
    expect(model.placement.target).toBe('device');
    expect(model.device).toBeUndefined();
    const early = await model.run(x(31), { cache: 'no-store' });
    expect(early).toMatchObject({ ranOn: 'origin', backend: undefined });
    expect(early.fallback).toBeUndefined();
    await vi.waitFor(() => expect(artifactAsked).toBe(true));
    expect(model.device).toBeUndefined();

    release();
    // A second caller that asks to wait shares the load and resolves once the session is open.
    const waited = await tandem.load('mlp-classifier', { waitForDevice: true });
    expect(waited).toBe(model);
    expect(model.device).toMatchObject({ backend: 'wasm', fromCache: false });
    expect(progress).toContain('download');
    expect(progress).toContain('session');
    const late = await model.run(x(31), { cache: 'no-store' });
    expect(late).toMatchObject({ ranOn: 'device', backend: 'wasm' });
    expect(top1(late.outputs.probabilities!)).toBe(top1(early.outputs.probabilities!));

    // The next page load finds the bytes in the model cache: that open is waited for, no origin run.
    const again = p.page();
    const cached = await again.load('mlp-classifier');
    expect(cached.device?.fromCache).toBe(true);
    expect((await cached.run(x(32), { cache: 'no-store' })).ranOn).toBe('device');
  });

  it('a background download that fails is warned about; the origin keeps answering, a later run tries again', async () => {
    const p = profile();
    const warnings: string[] = [];
    let failing = true;
    const runtime = p.newRuntime(artifactsAfter(async () => (failing ? Promise.reject(new TypeError('fetch failed')) : undefined)));
    const tandem = p.page({}, { runtime, warn: (message, cause) => warnings.push(`${message} ${String(cause)}`) });
    const model = await tandem.load('mlp-classifier');
    await vi.waitFor(() => expect(warnings.some((w) => w.includes('in the background'))).toBe(true));
    expect(model.device).toBeUndefined();
    failing = false;
    // This run goes to the origin and starts the download again, in the background.
    const during = await model.run(x(33), { cache: 'no-store' });
    expect(during).toMatchObject({ ranOn: 'origin' });
    expect(during.fallback).toBeUndefined();
    await vi.waitFor(() => expect(model.device).toMatchObject({ backend: 'wasm' }), { timeout: 10_000 });
    expect(await model.run(x(33), { cache: 'no-store' })).toMatchObject({ ranOn: 'device' });
  });

  it('a model disposed while it downloads in the background opens no session', async () => {
    const p = profile();
    const { held, release } = gate();
    const tandem = p.page({}, { runtime: p.newRuntime(artifactsAfter(() => held)) });
    const model = await tandem.load('mlp-classifier');
    await model.dispose();
    release();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await tandem.stats()).memory.sessions).toBe(0);
    expect(model.device).toBeUndefined();
  });

  it('concurrent loads of one model share one manifest request and one download', async () => {
    const tandem = profile().page();
    const [a, b] = await Promise.all([tandem.load('mlp-classifier', { waitForDevice: true }), tandem.load('mlp-classifier', { waitForDevice: true })]);
    expect(a).toBe(b);
    expect((await tandem.stats()).network).toMatchObject({ manifest: 1, artifact: 1 });
  });

  it("starts onnxruntime-web's WASM before the manifest arrives under device-only or on a returning visit, once placement says device otherwise, never for the origin", async () => {
    const events: string[] = [];
    /** A page whose runtime records its warm-ups, and whose manifest requests wait (up to 5 s) for the first. */
    const pageRecording = (placement: TandemConfig['placement'], manifestWaitsForWarmUp: boolean, p = profile()) => {
      const runtime = p.newRuntime();
      const warmed = gate();
      return p.page(
        { placement },
        {
          runtime: {
            ...runtime,
            warmUp: () => {
              events.push('warmUp');
              warmed.release();
              return runtime.warmUp!();
            },
          },
          fetch: async (input, init) => {
            const kind = requestKind(new Request(input, init).url);
            if (kind === 'manifest' && manifestWaitsForWarmUp) {
              const late = new Promise((_, reject) => setTimeout(() => reject(new Error('no warm-up before the manifest')), 5_000));
              await Promise.race([warmed.held, late]);
            }
            events.push(kind);
            return edge.fetch(input, init);
          },
        },
      );
    };

    await pageRecording('device-only', true).load('mlp-classifier');
    expect(events).toEqual(['warmUp', 'manifest']);

    events.length = 0;
    await pageRecording('prefer-device', false).load('mlp-classifier', { waitForDevice: true });
    expect(events.filter((e) => e === 'manifest' || e === 'warmUp')).toEqual(['manifest', 'warmUp']);

    // A returning visit under prefer-device: the model cache holds the model, so the compile starts before
    // the manifest is back.
    const returning = profile();
    await returning.page().load('mlp-classifier', { waitForDevice: true });
    events.length = 0;
    const again = await pageRecording('prefer-device', true, returning).load('mlp-classifier');
    expect(events.filter((e) => e === 'manifest' || e === 'warmUp')).toEqual(['warmUp', 'manifest']);
    expect(again.device?.fromCache).toBe(true);

    for (const placement of ['origin-only', 'prefer-origin'] as const) {
      events.length = 0;
      const model = await pageRecording(placement, false).load('mlp-classifier');
      await model.run(x(21), { cache: 'no-store' });
      expect(events, placement).not.toContain('warmUp');
    }
  });

  it('one caller aborting a shared load does not cancel it for the others; all aborting cancels it', async () => {
    const tandem = profile().page();
    const quitter = new AbortController();
    const leaving = tandem.load('mlp-classifier', { signal: quitter.signal });
    const staying = tandem.load('mlp-classifier', { signal: new AbortController().signal });
    quitter.abort();
    await expect(leaving).rejects.toMatchObject({ name: 'AbortError' });
    expect((await staying).placement.target).toBe('device');

    const other = profile().page();
    const [first, second] = [new AbortController(), new AbortController()];
    const loads = [other.load('mlp-classifier', { signal: first.signal }), other.load('mlp-classifier', { signal: second.signal })];
    first.abort();
    second.abort();
    for (const load of loads) await expect(load).rejects.toMatchObject({ name: 'AbortError' });
    // The shared load was cancelled and forgotten, so a new caller starts afresh and succeeds.
    expect((await other.load('mlp-classifier')).placement.target).toBe('device');
  });

  it('a second page load makes no artifact request; offline, the stored manifest and model bytes are enough', async () => {
    const p = profile();
    await (await p.page().load('mlp-classifier', { waitForDevice: true })).run(x(2));
    const again = p.page();
    const model = await again.load('mlp-classifier');
    expect(model.device?.fromCache).toBe(true);
    expect((await again.stats()).network.artifact).toBe(0);

    edge.down = true;
    p.setOnline(false);
    try {
      const offline = p.page();
      const m = await offline.load('mlp-classifier');
      expect(m.manifestSource).toBe('cache');
      expect((await m.run(x(3))).ranOn).toBe('device');
      expect((await offline.stats()).network.artifact).toBe(0);
    } finally {
      edge.down = false;
      p.setOnline(true);
    }
  });

  it("behind a captive portal (the edge's every answer a 200 page that is not JSON), the stored manifest is used, as offline", async () => {
    const p = profile();
    await (await p.page().load('mlp-classifier', { waitForDevice: true })).run(x(2));
    edge.intercept = async () => new Response('<html>sign in to the hotel wifi</html>', { headers: { 'content-type': 'text/html' } });
    try {
      const m = await p.page().load('mlp-classifier');
      expect(m.manifestSource).toBe('cache');
      expect((await m.run(x(3))).ranOn).toBe('device');
    } finally {
      edge.intercept = undefined;
    }
  });

  it('a crashed device runtime: that run falls back to the origin, the next reopens the model in a new runtime from the model cache', async () => {
    const p = profile();
    const started: RestartableRuntime[] = [];
    const startRuntime = (): RestartableRuntime => {
      const inner = p.newRuntime();
      const first = started.length === 0;
      let crashed = false;
      const runtime: RestartableRuntime = {
        ...inner,
        get crashed() {
          return crashed;
        },
        // The first runtime dies on its first run, as a worker out of memory would.
        run: async (...args) => {
          if (!first) return inner.run(...args);
          crashed = true;
          throw new TandemError('inference_failed', 'the Tandem worker crashed: out of memory');
        },
        terminate: () => {},
      };
      started.push(runtime);
      return runtime;
    };
    const tandem = p.page({}, { startRuntime });
    const model = await tandem.load('mlp-classifier', { waitForDevice: true });
    expect(model.placement.target).toBe('device');

    const during = await model.run(x(4), { cache: 'no-store' });
    expect(during).toMatchObject({ ranOn: 'origin', fallback: { from: 'device', code: 'inference_failed' } });
    const after = await model.run(x(5), { cache: 'no-store' });
    expect(after).toMatchObject({ ranOn: 'device', backend: 'wasm' });
    expect(started).toHaveLength(2);
    // The new runtime opened the model from the model cache: its counters show no download.
    expect((await tandem.stats()).modelCache).toEqual({ hits: 1, misses: 0 });
  });

  it('origin-only runs on the real origin through the edge, and agrees on top-1 with the device', async () => {
    const p = profile();
    const remote = await p.page().load('mlp-classifier', { placement: 'origin-only' });
    expect(remote.placement).toMatchObject({ target: 'origin', fallback: undefined });
    const r = await remote.run(x(5));
    expect(r).toMatchObject({ ranOn: 'origin', backend: undefined, version: '1.0.0' });
    const local = await (await p.page().load('mlp-classifier', { placement: 'device-only' })).run(x(5), { cache: 'no-store' });
    expect(top1(local.outputs.logits!)).toBe(top1(r.outputs.logits!));
  });

  it('reports device runs to the edge in batches (never inputs or outputs), unless the app turns telemetry off', async () => {
    const batches: TelemetryBatch[] = [];
    const spy = (async (input: RequestInfo | URL, init?: RequestInit) => {
      if (String(input).endsWith('/v1/telemetry')) {
        expect(init).toMatchObject({ method: 'POST', keepalive: true, headers: { authorization: 'Bearer app-key' } });
        batches.push(parseTelemetryBatch(JSON.parse(init!.body as string)));
        return new Response(null, { status: 204 });
      }
      return edge.fetch(input, init);
    }) as typeof fetch;
    const p = profile();
    const tandem = p.page({ telemetry: { maxBatch: 2 } }, { fetch: spy });
    const model = await tandem.load('mlp-classifier', { placement: 'device-only' });
    const runs = [await model.run(x(21), { cache: 'no-store' }), await model.run(x(22), { cache: 'no-store' })];
    await vi.waitFor(() => expect(batches).toHaveLength(1));
    expect(batches[0]!.dropped).toBe(0);
    for (const [i, r] of batches[0]!.records.entries()) {
      expect(r).toMatchObject({
        model: 'mlp-classifier',
        version: '1.0.0',
        variant: model.placement.variant.name,
        backend: 'wasm',
        outcome: 'ok',
        fallback: false,
      });
      expect(r.latency_ms).toBeGreaterThan(0);
      const probabilities = runs[i]!.outputs.probabilities!.data as Float32Array;
      expect(r.confidence_le).toBe(confidenceBucket(Math.max(...probabilities)));
    }
    await model.run(x(23), { cache: 'no-store' });
    await tandem.dispose(); // Sends what waits.
    await vi.waitFor(() => expect(batches.map((b) => b.records.length)).toEqual([2, 1]));

    const off = p.page({ telemetry: false }, { fetch: spy });
    await (await off.load('mlp-classifier', { placement: 'device-only' })).run(x(24), { cache: 'no-store' });
    await off.dispose();
    await new Promise((r) => setTimeout(r, 20));
    expect(batches).toHaveLength(2);
  });

  it("names each run's W3C trace: its own, or the app's; the origin's log line of the request names it too", async () => {
    const remote = await profile().page().load('mlp-classifier', { placement: 'origin-only' });
    const r = await remote.run(x(25), { cache: 'no-store' });
    expect(r.traceId).toMatch(/^[0-9a-f]{32}$/);
    await vi.waitFor(() =>
      expect(originLines).toContainEqual(expect.objectContaining({ trace_id: r.traceId, path: '/v2/models/mlp-classifier/versions/1.0.0/infer' })),
    );
    const appTrace = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const mine = await remote.run(x(26), { cache: 'no-store', traceparent: appTrace });
    expect(mine.traceId).toBe('0af7651916cd43dd8448eb211c80319c');
    await vi.waitFor(() => expect(originLines).toContainEqual(expect.objectContaining({ trace_id: mine.traceId })));
    const line = originLines.find((l) => l.trace_id === mine.traceId)!;
    expect(line.parent_span_id).not.toBe('b7ad6b7169203331'); // the SDK's span sits between the app's and the origin's
    expect((await remote.run(x(27), { cache: 'no-store', traceparent: 'garbage' })).traceId).toMatch(/^[0-9a-f]{32}$/);
  });

  it('a device run that fails falls back to the origin and says why', async () => {
    const p = profile();
    const failingRun = (rt: DeviceRuntime): DeviceRuntime => ({ ...rt, run: async () => Promise.reject(new Error('Out of memory')) });
    const inner = createDeviceRuntime({
      ort: ortWeb as unknown as OrtLike,
      fetch: edge.fetch,
      modelCache: createModelCache(memoryStore(), memoryStore()),
      warn: quiet,
    });
    const model = await p.page({}, { runtime: failingRun(inner) }).load('mlp-classifier', { waitForDevice: true });
    const r = await model.run(x(7));
    expect(r).toMatchObject({ ranOn: 'origin', fallback: { from: 'device', code: 'inference_failed', message: 'Out of memory' } });
  });

  it('origin unreachable: a stale cached answer, marked; without one, a typed error', async () => {
    const p = profile();
    const model = await p.page({ resultTtlMs: 0, placement: 'origin-only' }).load('mlp-classifier');
    const fresh = await model.run(x(9));
    edge.down = true;
    try {
      const stale = await model.run(x(9));
      expect(stale).toMatchObject({ ranOn: 'cache', stale: true, fallback: { from: 'origin', code: 'origin_unavailable' } });
      expect(stale.outputs.logits!.data).toEqual(fresh.outputs.logits!.data);
      await expect(model.run(x(10))).rejects.toMatchObject({ code: 'origin_unavailable' });
      p.setOnline(false);
      await expect(model.run(x(11))).rejects.toMatchObject({ code: 'offline' });
      expect(await model.run(x(9), { cache: 'only-if-cached' })).toMatchObject({ ranOn: 'cache', stale: true });
      await expect(model.run(x(12), { cache: 'only-if-cached' })).rejects.toMatchObject({ code: 'not_found' });
    } finally {
      edge.down = false;
      p.setOnline(true);
    }
  });

  it('prefer-origin falls back to the device (from the model cache) when the origin is unreachable', async () => {
    const p = profile();
    await p.page().load('mlp-classifier', { placement: 'device-only' }); // An earlier visit cached the bytes.
    const model = await p.page({ placement: 'prefer-origin' }).load('mlp-classifier');
    expect(model.placement.fallback?.target).toBe('device');
    expect((await model.run(x(13), { cache: 'no-store' })).ranOn).toBe('origin');
    edge.down = true;
    try {
      const r = await model.run(x(14));
      expect(r).toMatchObject({ ranOn: 'device', backend: 'wasm', fallback: { from: 'origin', code: 'origin_unavailable' } });
    } finally {
      edge.down = false;
    }
  });

  it('refuses a manifest not signed by the pinned keys, and bytes that do not hash right', async () => {
    const other = JSON.stringify([(await (await import('../protocol/keys.ts')).generateSigningKey()).publicKey]);
    await expect(
      profile()
        .page({ publicKeys: JSON.parse(other) })
        .load('mlp-classifier'),
    ).rejects.toMatchObject({ code: 'manifest_signature_invalid' });
    const sha = manifests.get('mlp-classifier')!.variants.find((v) => v.tier === 'device')!.artifact.sha256;
    edge.corrupt.add(sha);
    try {
      const p = profile();
      await expect(p.page().load('mlp-classifier', { placement: 'device-only' })).rejects.toMatchObject({ code: 'artifact_hash_mismatch' });
      expect(p.stores.bytes.map.size).toBe(0);
      const fallback = await p.page().load('mlp-classifier');
      expect([fallback.device, (await fallback.run(x())).ranOn]).toEqual([undefined, 'origin']);
    } finally {
      edge.corrupt.delete(sha);
    }
  });

  it('placement follows capability overrides and names the failed requirement', async () => {
    const model = await profile()
      .page({ capabilities: { memoryMiB: 64 } })
      .load('mlp-classifier');
    expect(model.placement.target).toBe('origin');
    expect(model.placement.reason).toContain('minMemoryMiB: need 128, have 64');
    await expect(
      profile()
        .page({ capabilities: { wasm: false } })
        .load('mlp-classifier', { placement: 'device-only' }),
    ).rejects.toMatchObject({ code: 'device_unsupported' });
  });

  it('loads a device variant asked for by name, and refuses a name the manifest has no device variant of', async () => {
    const page = profile().page();
    const model = await page.load('mlp-classifier', { placement: 'device-only', variant: 'int8' });
    expect([model.placement.target, model.placement.variant.name, model.device?.backend]).toEqual(['device', 'int8', 'wasm']);
    expect((await model.run(x(), { cache: 'no-store' })).ranOn).toBe('device');
    await expect(page.load('mlp-classifier', { variant: 'fp32' })).rejects.toMatchObject({
      code: 'bad_request',
      message: expect.stringMatching(/no device variant "fp32" \(its device variants: int8\)/),
    });
    await expect(page.load('mlp-classifier', { variant: '' })).rejects.toMatchObject({ code: 'bad_request' });
  });

  it('loads a version by name (?version= of the manifest route) and refuses a manifest of another version', async () => {
    const urls: string[] = [];
    const page = profile().page({}, { fetch: (input, init) => (urls.push(String(input)), edge.fetch(input, init)) });
    const { version } = manifests.get('mlp-classifier')!;
    const model = await page.load('mlp-classifier', { version });
    expect(model.version).toBe(version);
    expect(urls.some((u) => u.endsWith(`/v1/models/mlp-classifier/manifest?version=${encodeURIComponent(version)}`))).toBe(true);
    await expect(page.load('mlp-classifier', { version: '0.0.1' })).rejects.toMatchObject({ code: 'model_not_found' });
    // An edge that ignores ?version= and sends the current version: asked for another, the SDK refuses it.
    const ignoring = profile().page({}, { fetch: (input, init) => edge.fetch(String(input).replace(/\?version=.*$/, ''), init) });
    await expect(ignoring.load('mlp-classifier', { version: '0.0.1' })).rejects.toMatchObject({ code: 'manifest_invalid' });
    await expect(page.load('mlp-classifier', { version: '' })).rejects.toMatchObject({ code: 'bad_request' });
  });

  it("takes onnxruntime-web's executionProviders as the backend preference", async () => {
    const page = profile().page();
    const model = await page.load('mlp-classifier', { executionProviders: [{ name: 'wasm' }], waitForDevice: true });
    expect([model.placement.target, model.placement.backends, model.device?.backend]).toEqual(['device', ['wasm'], 'wasm']);
    // This device has no WebGPU: WebGPU only is the origin, or device_unsupported under device-only.
    expect((await page.load('mlp-classifier', { executionProviders: ['webgpu'] })).placement.target).toBe('origin');
    await expect(page.load('mlp-classifier', { executionProviders: ['webgpu'], placement: 'device-only' })).rejects.toMatchObject({
      code: 'device_unsupported',
    });
    await expect(page.load('mlp-classifier', { executionProviders: ['cpu' as 'wasm'] })).rejects.toMatchObject({ code: 'bad_request' });
  });

  it("sends one x-client-id per install: kept across page loads, another in another profile, the app's own when configured", async () => {
    const seen: string[] = [];
    const recording: typeof fetch = (input, init) => {
      const request = new Request(input, init);
      seen.push(`${requestKind(request.url)} ${request.headers.get('x-client-id')}`);
      return edge.fetch(input, init);
    };
    const p = profile();
    const withRecording = () => ({
      fetch: recording,
      runtime: createDeviceRuntime({
        ort: ortWeb as unknown as OrtLike,
        fetch: recording,
        modelCache: createModelCache(memoryStore(), memoryStore()),
        warn: quiet,
      }),
    });
    const first = p.page({}, withRecording());
    await (await first.load('mlp-classifier')).run(x(21));
    await (await first.load('mlp-classifier', { placement: 'origin-only' })).run(x(22));
    const id = p.stores.clientIdStore.map.get('client-id')!;
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    // The manifest, the artifact (fetched by the worker) and the origin all saw the install's id.
    expect(new Set(seen)).toEqual(new Set([`manifest ${id}`, `artifact ${id}`, `infer ${id}`]));

    seen.length = 0;
    await p
      .page({}, withRecording())
      .load('mlp-classifier', { placement: 'origin-only' })
      .then((m) => m.run(x(23)));
    expect(seen).toEqual([`manifest ${id}`, `infer ${id}`]);

    seen.length = 0;
    await profile().page({}, withRecording()).load('mlp-classifier', { placement: 'origin-only' });
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatch(/^manifest [0-9a-f-]{36}$/);
    expect(seen[0]).not.toBe(`manifest ${id}`);

    seen.length = 0;
    await p.page({ clientId: 'app-user-7' }, withRecording()).load('mlp-classifier', { placement: 'origin-only' });
    expect(seen).toEqual(['manifest app-user-7']);
    expect(p.stores.clientIdStore.map.get('client-id')).toBe(id);
    expect(() => createTandem({ edge: EDGE, publicKeys: [], clientId: 'two\nlines' })).toThrow(/clientId must be/);
  });

  it('rejects bad configuration at creation and bad inputs before any network', async () => {
    expect(() => createTandem({ edge: 'not a url', publicKeys: [] })).toThrow(expect.objectContaining({ code: 'bad_request' }));
    expect(() => createTandem({ edge: EDGE, publicKeys: [], placement: 'nearest' as never })).toThrow(/placement must be one of/);
    expect(() => createTandem({ edge: EDGE, publicKeys: [], retry: { attempts: 0 } })).toThrow(/retry.attempts/);
    expect(() => createTandem({ edge: EDGE, publicKeys: [], maxLoadedModels: 2.5 })).toThrow(expect.objectContaining({ code: 'bad_request' }));
    expect(() => createTandem({ edge: EDGE, publicKeys: [], wasmPaths: 'http://[' })).toThrow(/wasmPaths must be a folder URL/);
    const model = await profile().page().load('mlp-classifier', { placement: 'origin-only' });
    await expect(model.run({ x: { data: new Float32Array(3), dims: [1, 256] } })).rejects.toMatchObject({ code: 'tensor_invalid' });
    // Checked against the signature before any tier: the origin (no request) and the device alike.
    const shapes = await model.run({ x: { data: new Float32Array(128), dims: [1, 128] } }).catch((err: unknown) => err);
    expect(shapes).toMatchObject({ code: 'input_shape_mismatch' });
    await expect(model.run({ y: { data: new Float32Array(256), dims: [1, 256] } })).rejects.toMatchObject({ code: 'input_unknown' });
    await expect(model.run({ x: { data: new Int32Array(256), dims: [1, 256] } })).rejects.toMatchObject({ code: 'input_dtype_mismatch' });
  });

  it('under device-only, a wrong shape is input_shape_mismatch before the device runtime sees it', async () => {
    const model = await profile().page().load('mlp-classifier', { placement: 'device-only' });
    await expect(model.run({ x: { data: new Float32Array(255), dims: [1, 255] } })).rejects.toMatchObject({ code: 'input_shape_mismatch' });
    expect((await model.run({ x: { data: new Float32Array(256), dims: [1, 256] } })).ranOn).toBe('device');
  });
});
