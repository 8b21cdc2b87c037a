/**
 * A model's run with the tiers faked: aborts as the web does them (at once, even while the device
 * computes, nothing stored or leaked), onnxruntime Tensors in and out on every path (device, origin,
 * cache), and the signature read from the manifest.
 */
import { Tensor as OrtTensor } from 'onnxruntime-common';
import { describe, expect, it, vi } from 'vitest';
import { TandemError } from '../protocol/errors.ts';
import type { Manifest, ManifestVariant } from '../protocol/manifest.ts';
import type { NamedTensors } from '../protocol/tensor.ts';
import { CAPABLE_DEVICE } from './core/capabilities.ts';
import { decidePlacement, type PlacementMode } from './core/placement.ts';
import { createResultCache, type ResultEntry } from './core/result-cache.ts';
import { memoryStore } from './core/store.ts';
import type { Device, DeviceSession } from './device.ts';
import { createModel, type ModelDeps } from './model.ts';
import type { OriginClient } from './origin-client.ts';
import { loadTensorClass } from './ort-tensor.ts';
import type { RestartableRuntime, RunResult as RuntimeRunResult } from './runtime/contract.ts';

const variant = (tier: 'device' | 'origin'): ManifestVariant => ({
  name: tier === 'device' ? 'int8' : 'fp32',
  tier,
  artifact: { path: `${tier}.onnx`, sha256: 'a'.repeat(64), bytes: 100, mediaType: 'application/vnd.onnx' },
  opset: 17,
  inputs: [
    { name: 'x', dtype: 'float32', shape: ['batch', 4] },
    { name: 'mask', dtype: 'int64', shape: ['batch', 4] },
  ],
  outputs: [{ name: 'y', dtype: 'float32', shape: ['batch', 2] }],
  quantization: { method: 'none' },
  requirements: { minMemoryMiB: 1, minStorageMiB: 1, backends: tier === 'device' ? ['wasm'] : ['cpu'] },
});
const manifest: Manifest = {
  schemaVersion: 1,
  id: 'm',
  version: '1.0.0',
  createdAt: '2026-01-01T00:00:00Z',
  task: 'classification',
  variants: [variant('device'), variant('origin')],
};
const Y: NamedTensors = { y: { dtype: 'float32', dims: [1, 2], data: new Float32Array([0.25, 0.75]) } };
const inputs = () => ({ x: new OrtTensor('float32', new Float32Array(4), [1, 4]), mask: new OrtTensor('int64', new BigInt64Array(4), [1, 4]) });

/** A device runtime whose run answers after `runMs` (a long compute that cannot be interrupted). */
function fakeRuntime(runMs: number) {
  const calls = { runs: 0, answered: 0, lastInputs: undefined as NamedTensors | undefined };
  const runtime: RestartableRuntime = {
    init: async () => {},
    load: async () => {
      throw new Error('not used');
    },
    run: (_id, given) => {
      calls.runs++;
      calls.lastInputs = given;
      return new Promise<RuntimeRunResult>((resolve) =>
        setTimeout(() => {
          calls.answered++;
          resolve({ outputs: structuredClone(Y), backend: 'wasm', computeMs: runMs });
        }, runMs),
      );
    },
    release: async () => {},
    cancel: async () => {},
    clearModelCache: async () => {},
    stats: async () => ({ network: { manifest: 0, artifact: 0, infer: 0, other: 0 }, modelCacheHits: 0, modelCacheMisses: 0, sessions: 1 }),
  };
  const session: DeviceSession = {
    sessionId: 's1',
    backend: 'wasm',
    attempts: [],
    fromCache: false,
    cached: true,
    timings: { downloadMs: 0, verifyMs: 0, sessionMs: 0 },
    inputNames: ['x', 'mask'],
    outputNames: ['y'],
    runtime,
  };
  return { runtime, session, calls };
}

function setup(mode: PlacementMode, options: { runMs?: number; origin?: OriginClient['infer'] } = {}) {
  const { session, calls } = fakeRuntime(options.runMs ?? 0);
  const results = createResultCache(memoryStore<ResultEntry>(), { ttlMs: 60_000 });
  const puts: string[] = [];
  const put = results.put.bind(results);
  results.put = (key, entry) => (puts.push(key), put(key, entry));
  const decision = decidePlacement(manifest, CAPABLE_DEVICE, mode);
  const deps: ModelDeps = {
    device: {} as Device,
    origin: { infer: options.origin ?? (async () => ({ outputs: structuredClone(Y), version: '1.0.0', computeMs: 1 })) },
    results,
    counts: { hits: 0, staleHits: 0, misses: 0 },
    now: () => performance.now(),
    wallClock: Date.now,
    onDispose: () => {},
    tensorClass: loadTensorClass,
  };
  const model = createModel({ manifest, decision, source: 'network', session: decision.target === 'device' ? session : undefined, openError: undefined }, deps);
  return { model, calls, puts };
}

describe('model.run aborts as fetch does', () => {
  it('a device run aborted while the worker computes rejects with AbortError at once; the late answer is dropped, nothing cached', async () => {
    const { model, calls, puts } = setup('device-only', { runMs: 1500 });
    const controller = new AbortController();
    const running = model.run(inputs(), { signal: controller.signal });
    await vi.waitFor(() => expect(calls.runs).toBe(1));
    controller.abort();
    const err = await running.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DOMException);
    expect(err).toBe(controller.signal.reason);
    expect((err as DOMException).name).toBe('AbortError');
    // Rejected while the worker still computes (how soon is the e2e's figure, e2e/abort.test.ts).
    expect(calls.answered).toBe(0);
    await vi.waitFor(() => expect(calls.answered).toBe(1), { timeout: 10_000 }); // the worker finished; its answer went nowhere
    expect(puts).toEqual([]);
  });

  it('an already-aborted signal rejects with AbortError before any tier is asked', async () => {
    const { model, calls } = setup('device-only');
    await expect(model.run(inputs(), { signal: AbortSignal.abort() })).rejects.toMatchObject({ name: 'AbortError' });
    expect(calls.runs).toBe(0);
  });

  it("keeps the signal's own reason when it is a DOMException (TimeoutError from AbortSignal.timeout)", async () => {
    const { model } = setup('device-only', { runMs: 300 });
    await expect(model.run(inputs(), { signal: AbortSignal.timeout(10) })).rejects.toMatchObject({ name: 'TimeoutError' });
  });

  it('an aborted device run does not fall back to the origin', async () => {
    let originCalls = 0;
    const { model } = setup('prefer-device', {
      runMs: 200,
      origin: async () => {
        originCalls++;
        return { outputs: structuredClone(Y), version: '1.0.0', computeMs: 1 };
      },
    });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 10);
    await expect(model.run(inputs(), { signal: controller.signal })).rejects.toMatchObject({ name: 'AbortError' });
    expect(originCalls).toBe(0);
  });

  it("an origin run passes the signal to the origin's request and rejects with AbortError", async () => {
    let seen: AbortSignal | undefined;
    const { model } = setup('origin-only', {
      origin: (_m, _i, _o, signal) =>
        new Promise((_, reject) => {
          seen = signal;
          signal?.addEventListener('abort', () => reject(new TandemError('aborted', 'infer on the origin: aborted')));
        }),
    });
    const controller = new AbortController();
    const running = model.run(inputs(), { signal: controller.signal, cache: 'no-store' });
    await new Promise((r) => setTimeout(r, 5));
    controller.abort();
    await expect(running).rejects.toMatchObject({ name: 'AbortError' });
    expect(seen?.aborted).toBe(true);
  });
});

describe('onnxruntime tensors', () => {
  it('takes Tensor instances in and gives Tensor instances out, from the device, then from the cache', async () => {
    const { model, calls } = setup('device-only');
    const first = await model.run(inputs());
    expect(first.ranOn).toBe('device');
    expect(calls.lastInputs?.x).toMatchObject({ dtype: 'float32', dims: [1, 4] });
    expect(calls.lastInputs?.mask?.data).toBeInstanceOf(BigInt64Array);
    expect(first.outputs.y).toBeInstanceOf(OrtTensor);
    expect(first.outputs.y).toMatchObject({ type: 'float32', dims: [1, 2], size: 2 });
    expect([...(first.outputs.y!.data as Float32Array)]).toEqual([0.25, 0.75]);
    const again = await model.run(inputs());
    expect(again.ranOn).toBe('cache');
    expect(again.outputs.y).toBeInstanceOf(OrtTensor);
    expect([...(again.outputs.y!.data as Float32Array)]).toEqual([0.25, 0.75]);
  });

  it('from the origin too, and plain { type, dims, data } objects are inputs as well', async () => {
    const { model } = setup('origin-only');
    const r = await model.run({
      x: { type: 'float32', dims: [1, 4], data: new Float32Array(4) },
      mask: { type: 'int64', dims: [1, 4], data: new BigInt64Array(4) },
    });
    expect(r.ranOn).toBe('origin');
    expect(r.outputs.y).toBeInstanceOf(OrtTensor);
    expect(await r.outputs.y!.getData()).toEqual(new Float32Array([0.25, 0.75]));
  });

  it('refuses outputs that are not a list of distinct output names (bad_request), or name none of the model (output_unknown)', async () => {
    const { model, calls } = setup('device-only');
    const run = (outputs: unknown) => model.run(inputs(), { outputs: outputs as string[] }).catch((e: TandemError) => e.code);
    expect(await run('y')).toBe('bad_request');
    expect(await run(['y', 'y'])).toBe('bad_request');
    expect(await run([1])).toBe('bad_request');
    expect(await run(['z'])).toBe('output_unknown');
    expect(calls.runs).toBe(0);
    expect((await model.run(inputs(), { outputs: ['y'] })).ranOn).toBe('device');
  });

  it("refuses a tensor that is not on the CPU (a GPU tensor's data cannot be read) with tensor_invalid", async () => {
    const { model } = setup('device-only');
    const gpu = {
      type: 'float32',
      dims: [1, 4],
      location: 'gpu-buffer',
      get data(): never {
        throw new Error('The data is not on CPU.');
      },
    };
    await expect(model.run({ x: gpu, mask: inputs().mask })).rejects.toMatchObject({ code: 'tensor_invalid', message: expect.stringMatching(/getData/) });
  });

  it('reads the signature from the manifest as an InferenceSession has it', () => {
    const { model } = setup('device-only');
    expect(model.inputNames).toEqual(['x', 'mask']);
    expect(model.outputNames).toEqual(['y']);
    expect(model.inputMetadata).toEqual([
      { name: 'x', isTensor: true, type: 'float32', shape: ['batch', 4] },
      { name: 'mask', isTensor: true, type: 'int64', shape: ['batch', 4] },
    ]);
    expect(model.outputMetadata).toEqual([{ name: 'y', isTensor: true, type: 'float32', shape: ['batch', 2] }]);
  });
});

/** A device whose opens wait for the test: each one's settle functions, signal and progress callback. */
function deferredDevice() {
  const opens: { resolve: (s: DeviceSession) => void; reject: (e: unknown) => void; signal: AbortSignal | undefined; onProgress: unknown }[] = [];
  const device = {
    open: (_m: Manifest, _c: unknown, options: { signal?: AbortSignal; onProgress?: unknown } = {}) =>
      new Promise<DeviceSession>((resolve, reject) => opens.push({ resolve, reject, signal: options.signal, onProgress: options.onProgress })),
  } as unknown as Device;
  return { device, opens };
}

function backgroundSetup(options: { origin?: OriginClient['infer'] } = {}) {
  const { session, calls, runtime } = fakeRuntime(0);
  const released: string[] = [];
  runtime.release = async (id) => void released.push(id);
  const { device, opens } = deferredDevice();
  const warnings: string[] = [];
  const decision = decidePlacement(manifest, CAPABLE_DEVICE, 'prefer-device');
  const onProgress = () => {};
  const model = createModel(
    { manifest, decision, source: 'network', session: undefined, openError: undefined, background: { onProgress } },
    {
      device,
      origin: { infer: options.origin ?? (async () => ({ outputs: structuredClone(Y), version: '1.0.0', computeMs: 1 })) },
      results: createResultCache(memoryStore<ResultEntry>(), { ttlMs: 60_000 }),
      counts: { hits: 0, staleHits: 0, misses: 0 },
      now: () => performance.now(),
      wallClock: Date.now,
      onDispose: () => {},
      tensorClass: loadTensorClass,
      warn: (message) => warnings.push(message),
    },
  );
  return { model, opens, session, calls, released, warnings, onProgress };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

describe('background open under prefer-device', () => {
  it('runs go to the origin while the device variant opens, then to the device once its session is ready', async () => {
    const { model, opens, session, calls, onProgress } = backgroundSetup();
    expect(opens).toHaveLength(1);
    expect(opens[0]!.onProgress).toBe(onProgress); // the load's progress hears the background download
    expect(model.device).toBeUndefined();
    const early = await model.run(inputs(), { cache: 'no-store' });
    expect(early).toMatchObject({ ranOn: 'origin', backend: undefined });
    expect(early.fallback).toBeUndefined();
    expect(calls.runs).toBe(0);

    let ready = false;
    const waiting = model.deviceReady().then(() => (ready = true));
    await settle();
    expect(ready).toBe(false);
    opens[0]!.resolve(session);
    await waiting;
    expect(model.device).toMatchObject({ backend: 'wasm' });
    expect(await model.run(inputs(), { cache: 'no-store' })).toMatchObject({ ranOn: 'device', backend: 'wasm' });
    expect(calls.runs).toBe(1);
    expect(opens).toHaveLength(1);
  });

  it('when the origin fails meanwhile, the run waits for the device instead', async () => {
    const { model, opens, session } = backgroundSetup({
      origin: async () => {
        throw new TandemError('origin_unavailable', 'the edge is down');
      },
    });
    const running = model.run(inputs(), { cache: 'no-store' });
    await settle();
    opens[0]!.resolve(session);
    expect(await running).toMatchObject({ ranOn: 'device', fallback: { from: 'origin', code: 'origin_unavailable' } });
  });

  it('a download that failed worth retrying is warned about; the next run goes to the origin and opens it again', async () => {
    const { model, opens, session, warnings } = backgroundSetup();
    opens[0]!.reject(new TandemError('origin_unavailable', 'artifact download: fetch failed'));
    await model.deviceReady();
    expect(model.device).toBeUndefined();
    expect(warnings).toEqual([expect.stringMatching(/could not open int8 in the background \(artifact download: fetch failed\)/)]);
    const during = await model.run(inputs(), { cache: 'no-store' });
    expect(during).toMatchObject({ ranOn: 'origin' });
    expect(during.fallback).toBeUndefined();
    expect(opens).toHaveLength(2);
    opens[1]!.resolve(session);
    await model.deviceReady();
    expect(await model.run(inputs(), { cache: 'no-store' })).toMatchObject({ ranOn: 'device' });
  });

  it('a failure not worth retrying (bytes that do not hash right) leaves the model on the origin, and says why in each run', async () => {
    const { model, opens, warnings } = backgroundSetup();
    opens[0]!.reject(new TandemError('artifact_hash_mismatch', 'sha256 differs'));
    await model.deviceReady();
    expect(warnings).toHaveLength(1);
    for (let i = 0; i < 2; i++)
      expect(await model.run(inputs(), { cache: 'no-store' })).toMatchObject({
        ranOn: 'origin',
        fallback: { from: 'device', code: 'artifact_hash_mismatch' },
      });
    expect(opens).toHaveLength(1);
  });

  it('dispose stops the background open; a session that still arrives is released at once', async () => {
    const { model, opens, session, released } = backgroundSetup();
    await model.dispose();
    expect(opens[0]!.signal?.aborted).toBe(true);
    opens[0]!.resolve(session);
    await settle();
    expect(released).toEqual(['s1']);
    expect(model.device).toBeUndefined();
    await expect(model.run(inputs())).rejects.toMatchObject({ code: 'model_not_ready' });
  });

  it('the memo dropping the model stops its background open too; the next device run opens it itself', async () => {
    const { model, opens, session, released } = backgroundSetup();
    await model.releaseDevice();
    expect(opens[0]!.signal?.aborted).toBe(true);
    opens[0]!.resolve(session);
    await settle();
    expect(released).toEqual(['s1']);
    const running = model.run(inputs(), { cache: 'no-store' });
    await settle();
    expect(opens).toHaveLength(2);
    opens[1]!.resolve({ ...session, sessionId: 's2' });
    expect(await running).toMatchObject({ ranOn: 'device' });
  });
});
