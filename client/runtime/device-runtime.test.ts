/**
 * The device runtime with a fake onnxruntime (backend fallback, recorded reasons, trust) and then with
 * the real onnxruntime-web WASM backend under Node on the built models.
 *
 * Documented tolerance: outputs are compared as |a − b| ≤ tol·max(1, |b|); fp32 in onnxruntime-web (WASM)
 * against onnxruntime-node: 1e-4 on logits and probabilities (the kernels differ only in summation order);
 * int8 against onnxruntime-node int8: 1e-3 on logits (dynamic quantization rounds activations to uint8,
 * so one rounding step can differ), and ≥ 99% top-1 agreement with the fp32 model.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as ortWeb from 'onnxruntime-web';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import type { Tensor } from '../../protocol/tensor.ts';
import { argmaxRows, fractionEqual } from '../../models/math/stats.ts';
import { mlpClassifierData } from '../../models/recipes/mlp-classifier.ts';
import { sharedModelRepository, type TestModelRepository } from '../../models/test-support.ts';
import { openSession } from '../../models/test-runtimes.ts';
import { createModelCache } from '../core/model-cache.ts';
import { DEFAULT_RETRY } from '../core/retry.ts';
import { memoryStore } from '../core/store.ts';
import { createFakeEdge, loadRequestFor, type FakeEdge } from '../test-support/fake-edge.ts';
import { gate } from '../test-support/gate.ts';
import type { DeviceRuntime, LoadRequest } from './contract.ts';
import { createDeviceRuntime, sessionsToRelease, type OrtLike, type OrtSession } from './device-runtime.ts';
import { WARM_MODEL_BYTES } from './warm-model.ts';

const WASM_PATHS = pathToFileURL(join(dirname(createRequire(import.meta.url).resolve('onnxruntime-web')), '/')).href;
const quiet = () => {};

let shared: TestModelRepository;
let edge: FakeEdge;
beforeAll(async () => {
  shared = await sharedModelRepository();
  edge = createFakeEdge({ repository: shared.repository, manifests: shared.manifests });
});

describe('backends one at a time (fake onnxruntime)', () => {
  function fakeOrt(failing: Record<string, string>, created: string[][]): OrtLike {
    const session: OrtSession = { inputNames: ['x'], outputNames: ['y'], run: async () => ({}), release: async () => {} };
    return {
      env: { wasm: {} },
      Tensor: class {
        constructor(
          readonly type: string,
          readonly data: unknown,
          readonly dims: readonly number[],
        ) {}
      } as unknown as OrtLike['Tensor'],
      InferenceSession: {
        async create(_bytes, options) {
          created.push(options.executionProviders);
          const reason = failing[options.executionProviders[0]!];
          if (reason) throw new Error(reason);
          return session;
        },
      },
    };
  }
  const runtimeWith = (ort: OrtLike, gpu: boolean) =>
    createDeviceRuntime({ ort, fetch: edge.fetch, modelCache: createModelCache(memoryStore(), memoryStore()), webgpuAvailable: async () => gpu, warn: quiet });

  it('falls back from webgpu to wasm, keeps the reason, and reports the backend that really ran', async () => {
    const created: string[][] = [];
    const runtime = runtimeWith(fakeOrt({ webgpu: 'unsupported op MatMulInteger' }, created), true);
    const loaded = await runtime.load(loadRequestFor(shared.manifests.get('mlp-classifier')!, 'int8'));
    expect(created).toEqual([['webgpu'], ['wasm']]); // Never a list: onnxruntime-web would hide the fallback.
    expect(loaded.backend).toBe('wasm');
    expect(loaded.attempts.map((a) => [a.backend, a.ok, a.reason])).toEqual([
      ['webgpu', false, 'unsupported op MatMulInteger'],
      ['wasm', true, undefined],
    ]);
  });

  it('skips webgpu without an adapter, saying so', async () => {
    const created: string[][] = [];
    const loaded = await runtimeWith(fakeOrt({}, created), false).load(loadRequestFor(shared.manifests.get('mlp-classifier')!, 'int8'));
    expect(created).toEqual([['wasm']]);
    expect(loaded.attempts[0]).toMatchObject({ backend: 'webgpu', ok: false, reason: 'no WebGPU adapter in this worker' });
  });

  it('when every backend fails, device_unsupported lists every cause', async () => {
    const runtime = runtimeWith(fakeOrt({ webgpu: 'device lost', wasm: 'out of memory' }, []), true);
    await expect(runtime.load(loadRequestFor(shared.manifests.get('mlp-classifier')!, 'int8'))).rejects.toMatchObject({
      code: 'device_unsupported',
      message: 'no backend could create a session (webgpu: device lost; wasm: out of memory)',
    });
  });
});

describe('trust and the model cache', () => {
  it('bytes with the wrong hash are never cached and never reach onnxruntime', async () => {
    const manifest = shared.manifests.get('shapes-cnn')!;
    const sha = manifest.variants.find((v) => v.name === 'int8')!.artifact.sha256;
    const bytes = memoryStore<Uint8Array>();
    let sessions = 0;
    const ort = { ...ortWeb, InferenceSession: { create: async () => (sessions++, {} as OrtSession) } } as unknown as OrtLike;
    const corrupting = createFakeEdge({ repository: shared.repository, manifests: shared.manifests });
    corrupting.corrupt.add(sha);
    const runtime = createDeviceRuntime({ ort, fetch: corrupting.fetch, modelCache: createModelCache(bytes, memoryStore()), warn: quiet });
    await expect(runtime.load(loadRequestFor(manifest, 'int8'))).rejects.toMatchObject({ code: 'artifact_hash_mismatch' });
    expect([bytes.map.size, sessions]).toEqual([0, 0]);
  });
});

describe('start-up overlaps (fake onnxruntime)', () => {
  /** A fake onnxruntime recording each create (the bytes' length, the providers) and the releases; `hold` delays the warm model's create. */
  function recordingOrt(options: { hold?: Promise<void>; warmFails?: string } = {}) {
    const state = { created: [] as string[], released: 0, writeDoneAtCreate: [] as boolean[] };
    const ort: OrtLike = {
      env: { wasm: {} },
      Tensor: class {} as unknown as OrtLike['Tensor'],
      InferenceSession: {
        async create(bytes, { executionProviders }) {
          const warm = bytes.length === WARM_MODEL_BYTES.length;
          state.created.push(`${warm ? 'warm' : 'model'} on ${executionProviders.join(',')}`);
          if (warm && options.hold) await options.hold;
          if (warm && options.warmFails) throw new Error(options.warmFails);
          return { inputNames: ['x'], outputNames: ['y'], run: async () => ({}), release: async () => void state.released++ };
        },
      },
    };
    return { ort, state };
  }
  const mlp = () => loadRequestFor(shared.manifests.get('mlp-classifier')!, 'int8');
  const settle = () => new Promise((resolve) => setTimeout(resolve, 20));

  it("warmUp opens the 94-byte model on wasm once and releases it; a load's session waits for it", async () => {
    const { held, release } = gate();
    const { ort, state } = recordingOrt({ hold: held });
    const bytes = memoryStore<Uint8Array>();
    const runtime = createDeviceRuntime({ ort, fetch: edge.fetch, modelCache: createModelCache(bytes, memoryStore()), warn: quiet });
    const warming = runtime.warmUp!();
    const again = runtime.warmUp!(); // Started already: no second warm-up.
    const loading = runtime.load(mlp());
    await vi.waitFor(() => expect(bytes.map.size).toBe(1)); // Downloaded, verified and cached meanwhile.
    await settle();
    expect(state.created).toEqual(['warm on wasm']); // onnxruntime-web would refuse a second start under way.
    release();
    await Promise.all([warming, again]);
    expect((await loading).backend).toBe('wasm');
    expect(state.created).toEqual(['warm on wasm', 'model on wasm']);
    expect(state.released).toBe(1);
  });

  it("two first loads at once: the second's session waits for onnxruntime-web's start by the first; a later warm-up does nothing", async () => {
    const { held, release } = gate();
    const { ort, state } = recordingOrt();
    const created = ort.InferenceSession.create;
    let first = true;
    ort.InferenceSession.create = async (model, options) => {
      const result = created(model, options);
      if (first) {
        first = false;
        await held; // onnxruntime-web starting, for as long as the test says.
      }
      return result;
    };
    const runtime = createDeviceRuntime({ ort, fetch: edge.fetch, modelCache: createModelCache(memoryStore(), memoryStore()), warn: quiet });
    const cnn = loadRequestFor(shared.manifests.get('shapes-cnn')!, 'int8');
    const loads = Promise.all([runtime.load(mlp()), runtime.load(cnn)]);
    await vi.waitFor(() => expect(state.created).toEqual(['model on wasm']));
    await settle();
    expect(state.created).toEqual(['model on wasm']);
    release();
    await loads;
    await runtime.warmUp!();
    expect(state.created).toEqual(['model on wasm', 'model on wasm']);
  });

  it('a warm-up that fails is a warning, and the load opens its session all the same', async () => {
    const { ort, state } = recordingOrt({ warmFails: 'no SIMD' });
    const warnings: string[] = [];
    const runtime = createDeviceRuntime({
      ort,
      fetch: edge.fetch,
      modelCache: createModelCache(memoryStore(), memoryStore()),
      warn: (message, cause) => warnings.push(`${message}: ${(cause as Error).message}`),
    });
    await runtime.warmUp!();
    expect(warnings).toEqual(['starting onnxruntime-web ahead of the load failed; the load will start it and report what fails: no SIMD']);
    expect((await runtime.load(mlp())).backend).toBe('wasm');
    expect(state.created).toEqual(['warm on wasm', 'model on wasm']);
  });

  it('writes the downloaded bytes to the model cache while the session is created, and answers when both are done', async () => {
    const { held, release } = gate();
    const inner = memoryStore<Uint8Array>();
    let writing = false;
    const bytes = {
      ...inner,
      set: async (key: string, value: Uint8Array) => {
        writing = true;
        await held;
        await inner.set(key, value);
        writing = false;
      },
    };
    const { ort, state } = recordingOrt();
    const created = ort.InferenceSession.create;
    ort.InferenceSession.create = (model, options) => (state.writeDoneAtCreate.push(!writing), created(model, options));
    const runtime = createDeviceRuntime({ ort, fetch: edge.fetch, modelCache: createModelCache(bytes, memoryStore()), warn: quiet });
    let answered = false;
    const loading = runtime.load(mlp()).finally(() => (answered = true));
    await vi.waitFor(() => expect(state.created).toEqual(['model on wasm']));
    expect(state.writeDoneAtCreate).toEqual([false]); // The session did not wait for the write.
    await settle();
    expect(answered).toBe(false); // The load waits for the write: `cached` is true only once it is stored.
    release();
    expect(await loading).toMatchObject({ cached: true, fromCache: false });
    expect(inner.map.size).toBe(1);
  });
});

describe('sessionsToRelease', () => {
  const open = [
    { id: 'a', bytes: 60, lastUsed: 1 },
    { id: 'c', bytes: 20, lastUsed: 3 },
    { id: 'b', bytes: 30, lastUsed: 2 },
  ];
  it('releases nothing when the new session fits', () => expect(sessionsToRelease(open, 10, 120)).toEqual([]));
  it('releases least recently used first, only as many as needed', () => {
    expect(sessionsToRelease(open, 40, 110)).toEqual(['a']);
    expect(sessionsToRelease(open, 70, 110)).toEqual(['a', 'b']);
  });
  it('counts pinned bytes, and releases everything for a model larger than the budget', () => {
    expect(sessionsToRelease(open, 10, 110, 30)).toEqual(['a']);
    expect(sessionsToRelease(open, 500, 110)).toEqual(['a', 'b', 'c']);
  });
});

describe('the memory budget (fake onnxruntime)', () => {
  /** A fake onnxruntime that counts open sessions; `gate` holds runs until it resolves. */
  function countingOrt() {
    const state = { created: 0, released: 0, gate: undefined as Promise<void> | undefined };
    const ort: OrtLike = {
      env: { wasm: {} },
      Tensor: class {
        constructor(
          readonly type: string,
          readonly data: unknown,
          readonly dims: readonly number[],
        ) {}
      } as unknown as OrtLike['Tensor'],
      InferenceSession: {
        async create() {
          state.created++;
          let released = false;
          return {
            inputNames: ['x'],
            outputNames: ['y'],
            async run() {
              if (released) throw new Error('session already released');
              await state.gate;
              return { y: { type: 'float32', dims: [1], data: new Float32Array([1]) } };
            },
            async release() {
              if (released) throw new Error('released twice');
              released = true;
              state.released++;
            },
          };
        },
      },
    };
    return { ort, state, open: () => state.created - state.released };
  }
  const manifest = () => shared.manifests.get('mlp-classifier')!;
  const int8Bytes = () => manifest().variants.find((v) => v.name === 'int8')!.artifact.bytes;
  /** The MLP's int8 variant under another model id (same bytes, so one download for all). */
  const as = (id: string, version = '1.0.0'): LoadRequest => ({ ...loadRequestFor(manifest(), 'int8', ['wasm']), requestId: id, modelId: id, version });
  const x = { x: { dtype: 'float32' as const, dims: [1, 256], data: new Float32Array(256) } };

  async function runtimeWithBudget(models: number) {
    const fake = countingOrt();
    const artifacts = () => edge.requests.filter((r) => r.includes('/v1/artifacts/')).length;
    const runtime = createDeviceRuntime({ ort: fake.ort, fetch: edge.fetch, modelCache: createModelCache(memoryStore(), memoryStore()), warn: quiet });
    await runtime.init({ numThreads: 1, retry: DEFAULT_RETRY, memoryBudgetBytes: Math.floor((models + 0.5) * int8Bytes()) });
    return { runtime, fake, artifacts };
  }

  it('keeps the open sessions within the budget, releasing the least recently used, and reopens a released one on its next run', async () => {
    const { runtime, fake, artifacts } = await runtimeWithBudget(2);
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) {
      ids.push((await runtime.load(as(`m${i}`))).sessionId);
      expect(fake.open()).toBeLessThanOrEqual(2);
      expect((await runtime.stats()).sessions).toBe(fake.open());
    }
    expect(fake.state.released).toBe(4);
    const downloads = artifacts();
    await runtime.run(ids[4]!, x); // m4 is now more recent than m5.
    expect((await runtime.run(ids[0]!, x)).outputs.y!.dims).toEqual([1]); // Reopened, from the model cache: m5 went.
    expect(artifacts()).toBe(downloads);
    const stats = await runtime.stats();
    expect(stats.sessions).toBe(2);
    expect(stats.memory).toMatchObject({ released: 5, reopened: 1, handles: 6, peakSessions: 2, sessionBytes: 2 * int8Bytes() });
    expect(stats.memory!.peakSessionBytes).toBeLessThanOrEqual(stats.memory!.budgetBytes);
    await runtime.run(ids[4]!, x); // Still open.
    expect(fake.state.created).toBe(7);
    for (const id of ids) await runtime.release(id);
    expect([fake.open(), (await runtime.stats()).memory!.handles]).toEqual([0, 0]);
  });

  it('never releases a session under a running run: it goes when the run ends, and a page release waits for it too', async () => {
    const { runtime, fake } = await runtimeWithBudget(1);
    const a = await runtime.load(as('a'));
    let open!: () => void;
    fake.state.gate = new Promise((resolve) => (open = resolve));
    const running = runtime.run(a.sessionId, x);
    await new Promise((r) => setTimeout(r, 10));
    const b = await runtime.load(as('b'));
    expect(fake.open()).toBe(2); // Over the budget while a's run lasts.
    open();
    await running;
    expect(fake.open()).toBe(1); // a's session went when its run ended.
    fake.state.gate = new Promise((resolve) => (open = resolve));
    const again = runtime.run(b.sessionId, x);
    await new Promise((r) => setTimeout(r, 10));
    await runtime.release(b.sessionId);
    expect(fake.open()).toBe(1);
    open();
    await again;
    expect(fake.open()).toBe(0);
    await expect(runtime.run(b.sessionId, x)).rejects.toMatchObject({ code: 'model_not_ready' });
  });

  it("a version change deletes the model's superseded artifacts from the model cache, not another model's, nor shared bytes", async () => {
    const fake = countingOrt();
    const cache = createModelCache(memoryStore(), memoryStore());
    const runtime = createDeviceRuntime({ ort: fake.ort, fetch: edge.fetch, modelCache: cache, warn: quiet });
    const fp32 = (id: string, version: string): LoadRequest => ({ ...loadRequestFor(manifest(), 'fp32', ['wasm']), modelId: id, version });
    await runtime.load(fp32('m', '1.0.0'));
    const cnn = shared.manifests.get('shapes-cnn')!;
    await runtime.load({ ...loadRequestFor(cnn, 'int8', ['wasm']), modelId: 'other' });
    await runtime.load(as('m', '1.1.0'));
    const listed = async () => (await cache.list()).map((m) => `${m.modelId}@${m.version}`).sort();
    expect(await listed()).toEqual(['m@1.1.0', 'other@1.0.0']);
    // 1.2.0 with the same bytes as 1.1.0 (a republished version): the bytes it runs from stay, now 1.2.0's.
    await runtime.load(as('m', '1.2.0'));
    expect(await listed()).toEqual(['m@1.2.0', 'other@1.0.0']);
    expect(await runtime.cachedArtifacts!('m')).toEqual([{ sha256: as('m').artifact.sha256, bytes: int8Bytes(), version: '1.2.0' }]);
    expect(await runtime.evictModel!('m')).toBe(1);
    expect(await listed()).toEqual(['other@1.0.0']);
  });
});

describe('real onnxruntime-web (WASM) under Node', () => {
  let runtime: DeviceRuntime;
  const bytes = memoryStore<Uint8Array>();
  beforeAll(async () => {
    runtime = createDeviceRuntime({ ort: ortWeb as unknown as OrtLike, fetch: edge.fetch, modelCache: createModelCache(bytes, memoryStore()), warn: quiet });
    await runtime.init({ wasmPaths: WASM_PATHS, numThreads: 1, retry: DEFAULT_RETRY });
  });

  const held = mlpClassifierData().heldOut;
  const N = 200;
  const rows = (start: number, count: number): Tensor => ({ dtype: 'float32', dims: [count, 256], data: held.x.slice(start * 256, (start + count) * 256) });

  function expectClose(actual: Float32Array, expected: Float32Array, tolerance: number): void {
    expect(actual.length).toBe(expected.length);
    let worst = 0;
    for (let i = 0; i < actual.length; i++) worst = Math.max(worst, Math.abs(actual[i]! - expected[i]!) / Math.max(1, Math.abs(expected[i]!)));
    expect(worst).toBeLessThanOrEqual(tolerance);
  }

  it('loads the int8 MLP (download, verify, cache; then from the cache with no request), runs it on wasm', async () => {
    const manifest = shared.manifests.get('mlp-classifier')!;
    const progress: number[] = [];
    const first = await runtime.load(loadRequestFor(manifest, 'int8'), (p) => p.phase === 'download' && progress.push(p.loaded));
    expect(first).toMatchObject({ backend: 'wasm', fromCache: false, cached: true, inputNames: ['x'], outputNames: ['logits', 'probabilities'] });
    expect(progress.at(-1)).toBe(manifest.variants.find((v) => v.name === 'int8')!.artifact.bytes);
    const before = (await runtime.stats()).network.artifact;
    const second = await runtime.load(loadRequestFor(manifest, 'int8'));
    expect(second.fromCache).toBe(true);
    expect((await runtime.stats()).network.artifact).toBe(before);

    const run = await runtime.run(second.sessionId, { x: rows(0, 3) });
    expect(run.backend).toBe('wasm');
    expect(run.outputs.logits).toMatchObject({ dtype: 'float32', dims: [3, 10] });
    await runtime.release(first.sessionId);
    await runtime.release(second.sessionId);
    await expect(runtime.run(second.sessionId, { x: rows(0, 1) })).rejects.toMatchObject({ code: 'model_not_ready' });
  });

  it(`int8 MLP: agrees with onnxruntime-node int8 (1e-3) and ≥ 99% top-1 with fp32 on ${N} held-out samples, accuracy ≥ 0.9`, async () => {
    const manifest = shared.manifests.get('mlp-classifier')!;
    const loaded = await runtime.load(loadRequestFor(manifest, 'int8'));
    const read = (v: string) => readFile(join(shared.repository, manifest.id, manifest.version, `${v}.onnx`));
    const nodeInt8 = await openSession('node', await read('int8'));
    const nodeFp32 = await openSession('node', await read('fp32'));
    const device = new Float32Array(N * 10);
    const fp32 = new Float32Array(N * 10);
    for (let n = 0; n < N; n++) {
      const x = rows(n, 1); // One row per run, as a device runs them (quantization ranges are per batch).
      const out = (await runtime.run(loaded.sessionId, { x })).outputs.logits!.data as Float32Array;
      device.set(out, n * 10);
      if (n < 20) expectClose(out, (await nodeInt8.run({ x: { data: x.data as Float32Array, dims: x.dims } })).logits!, 1e-3);
      fp32.set((await nodeFp32.run({ x: { data: x.data as Float32Array, dims: x.dims } })).logits!, n * 10);
    }
    await Promise.all([nodeInt8.release(), nodeFp32.release(), runtime.release(loaded.sessionId)]);
    const predictions = argmaxRows(device, N, 10);
    expect(fractionEqual(predictions, argmaxRows(fp32, N, 10))).toBeGreaterThanOrEqual(0.99);
    expect(fractionEqual(predictions, held.labels.subarray(0, N))).toBeGreaterThanOrEqual(0.9);
  });

  it('int8 shapes-cnn runs on wasm with a batch of 2', async () => {
    const manifest = shared.manifests.get('shapes-cnn')!;
    const loaded = await runtime.load(loadRequestFor(manifest, 'int8'));
    const run = await runtime.run(loaded.sessionId, { image: { dtype: 'float32', dims: [2, 1, 28, 28], data: new Float32Array(2 * 784).fill(0.5) } });
    expect(run.outputs.probabilities!.dims).toEqual([2, 10]);
    const p = run.outputs.probabilities!.data as Float32Array;
    expect(p.subarray(0, 10).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
    await runtime.release(loaded.sessionId);
  });

  for (const id of ['mlp-classifier', 'shapes-cnn']) {
    it(`fp32 ${id}: the device runtime agrees with onnxruntime-node within 1e-4`, async () => {
      const manifest = shared.manifests.get(id)!;
      const loaded = await runtime.load(loadRequestFor(manifest, 'fp32', ['wasm']));
      const node = await openSession('node', await readFile(join(shared.repository, id, manifest.version, 'fp32.onnx')));
      const input = manifest.variants[0]!.inputs[0]!;
      const sample = input.shape.slice(1) as number[];
      const size = sample.reduce((a, b) => a * b, 1);
      const data = new Float32Array(4 * size).map((_, i) => Math.sin(i * 0.37));
      const fromDevice = (await runtime.run(loaded.sessionId, { [input.name]: { dtype: 'float32', dims: [4, ...sample], data: data.slice() } })).outputs;
      const fromNode = await node.run({ [input.name]: { data, dims: [4, ...sample] } });
      expectClose(fromDevice.logits!.data as Float32Array, fromNode.logits!, 1e-4);
      expectClose(fromDevice.probabilities!.data as Float32Array, fromNode.probabilities!, 1e-4);
      await Promise.all([node.release(), runtime.release(loaded.sessionId)]);
    });
  }
});
