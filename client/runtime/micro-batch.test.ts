/**
 * Micro-batching: the policy with a fake `execute` (what is coalesced, when, aborts, failures), then
 * through the device runtime on onnxruntime-web's real WASM backend under Node (8 concurrent callers,
 * fewer `session.run` calls, each caller's outputs those of its lone run).
 *
 * Tolerance: a coalesced fp32 run against the same rows run alone, |a − b| ≤ 1e-5·max(1, |b|) (the
 * kernels may block the rows differently, so sums can round differently; the rows never mix).
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as ortWeb from 'onnxruntime-web';
import { beforeAll, describe, expect, it } from 'vitest';
import { TandemError } from '../../protocol/errors.ts';
import type { Manifest } from '../../protocol/manifest.ts';
import type { NamedTensors, Tensor } from '../../protocol/tensor.ts';
import { sampleManifest } from '../../protocol/test-support/manifest-arbitrary.ts';
import { mlpClassifierData } from '../../models/recipes/mlp-classifier.ts';
import { sharedModelRepository, type TestModelRepository } from '../../models/test-support.ts';
import { createModelCache } from '../core/model-cache.ts';
import { DEFAULT_RETRY } from '../core/retry.ts';
import { memoryStore } from '../core/store.ts';
import { createFakeEdge, loadRequestFor, type FakeEdge } from '../test-support/fake-edge.ts';
import { variantSignature, type LoadRequest, type MicroBatchOptions, type RunResult, type VariantSignature } from './contract.ts';
import { createDeviceRuntime, type OrtLike, type OrtSession } from './device-runtime.ts';
import { batchingRefusal, batchKey, createMicroBatcher, type Execute } from './micro-batch.ts';

const quiet = () => {};
const rowsOf = (rows: number, start: number, width = 3): Tensor => ({
  dtype: 'float32',
  dims: [rows, width],
  data: Float32Array.from({ length: rows * width }, (_, i) => start + i),
});

describe('batchingRefusal', () => {
  const spec = (name: string, ...shape: (number | string)[]) => ({ name, dtype: 'float32' as const, shape });
  const signature = (over: Partial<VariantSignature> = {}): VariantSignature => ({
    inputs: [spec('x', 'batch', 3)],
    outputs: [spec('y', 'batch', 2)],
    quantization: 'none',
    ...over,
  });
  it('accepts a variant whose inputs and outputs all lead with the same dynamic dimension', () => {
    expect(batchingRefusal(signature())).toBeUndefined();
    expect(batchingRefusal(signature({ inputs: [spec('a', 'n', 3), spec('b', 'n')], outputs: [spec('y', 'n')], quantization: 'fp16' }))).toBeUndefined();
  });
  it('refuses fixed or absent leading dimensions, dimensions that differ, dynamic int8, and no signature', () => {
    expect(batchingRefusal(signature({ inputs: [spec('x', 1, 3)] }))).toMatch(/input x's first dimension is fixed \(1\)/);
    expect(batchingRefusal(signature({ outputs: [spec('y', 'batch', 2), spec('count', 1)] }))).toMatch(/output count/);
    expect(batchingRefusal(signature({ outputs: [spec('score')] }))).toMatch(/scalar/);
    expect(batchingRefusal(signature({ inputs: [spec('x', 'batch', 3), spec('mask', 'seq')] }))).toMatch(/input mask leads with "seq"/);
    // Nothing says an output led by another name follows the batch (a Softmax over axis 0 keeps the shape).
    expect(batchingRefusal(signature({ outputs: [spec('y', 'n', 2)] }))).toMatch(/output y leads with "n"/);
    expect(batchingRefusal(signature({ quantization: 'dynamic-int8' }))).toMatch(/dynamic int8/);
    expect(batchingRefusal(undefined)).toBeDefined();
  });
  it("follows the manifest's measured batching: none refuses, rows accepts outputs led by another dynamic name", () => {
    expect(batchingRefusal(signature({ batching: 'none' }))).toMatch(/batching: none/);
    expect(batchingRefusal(signature({ outputs: [spec('y', 'y_dim0', 2)], batching: 'rows' }))).toBeUndefined();
    const sampleVariant = sampleManifest().variants[0]!;
    expect(variantSignature({ ...sampleVariant, batching: 'none' }).batching).toBe('none');
    expect(variantSignature(sampleVariant).batching).toBeUndefined();
  });
});

describe('batchKey', () => {
  it('keys on every input name, dtype and trailing dims, and the outputs asked for (in any order)', () => {
    const a = batchKey({ x: rowsOf(2, 0) }, ['y', 'z']);
    expect(a?.rows).toBe(2);
    expect(batchKey({ x: rowsOf(5, 0) }, ['z', 'y'])?.key).toBe(a?.key);
    expect(batchKey({ x: rowsOf(2, 0, 4) }, ['y', 'z'])?.key).not.toBe(a?.key);
    expect(batchKey({ x: rowsOf(2, 0) })?.key).not.toBe(a?.key);
    expect(batchKey({ x: { dtype: 'int32', dims: [2, 3], data: new Int32Array(6) } }, ['y', 'z'])?.key).not.toBe(a?.key);
  });
  it('runs alone inputs that disagree on their rows, scalars, and zero rows', () => {
    expect(batchKey({ a: rowsOf(2, 0), b: rowsOf(3, 0) })).toBeUndefined();
    expect(batchKey({ s: { dtype: 'float32', dims: [], data: new Float32Array(1) } })).toBeUndefined();
    expect(batchKey({ x: rowsOf(0, 0) })).toBeUndefined();
  });
});

describe('createMicroBatcher (fake execute)', () => {
  /** A row-wise model, y = 2x, that records each call's rows; `gate` holds calls until it resolves. */
  function fakeExecute(options: { fail?: (x: Float32Array) => boolean; fixedRows?: number } = {}) {
    const calls: number[] = [];
    const state = { gate: undefined as Promise<void> | undefined };
    const execute: Execute = async (inputs) => {
      const x = inputs.x!;
      calls.push(x.dims[0]!);
      await state.gate;
      if (options.fail?.(x.data as Float32Array)) throw new TandemError('inference_failed', 'a value the kernel refuses');
      const rows = options.fixedRows ?? x.dims[0]!;
      const y = Float32Array.from((x.data as Float32Array).subarray(0, rows * x.dims[1]!), (v) => 2 * v);
      return { outputs: { y: { dtype: 'float32', dims: [rows, x.dims[1]!], data: y } }, backend: 'wasm', computeMs: 1 };
    };
    return { execute, calls, state };
  }
  const batcherWith = (execute: Execute, options: Partial<MicroBatchOptions> = {}) =>
    createMicroBatcher({ execute, options: { maxBatch: 32, maxDelayMs: 0, ...options }, warn: quiet });
  const doubled = (t: Tensor) => Array.from(t.data as Float32Array, (v) => 2 * v);
  const ys = (results: RunResult[]) => results.map((r) => Array.from(r.outputs.y!.data as Float32Array));

  it('coalesces 8 concurrent callers into one run; each gets its own rows, in a buffer of its own', async () => {
    const fake = fakeExecute();
    const batcher = batcherWith(fake.execute);
    const inputs = Array.from({ length: 8 }, (_, i) => rowsOf(1 + (i % 3), i * 100));
    const results = await Promise.all(inputs.map((x) => batcher.run({ x }, undefined)));
    expect(fake.calls).toEqual([inputs.reduce((n, x) => n + x.dims[0]!, 0)]);
    expect(ys(results)).toEqual(inputs.map(doubled));
    expect(results.map((r) => [r.batchCallers, r.outputs.y!.dims[0]])).toEqual(inputs.map((x) => [8, x.dims[0]]));
    expect(new Set(results.map((r) => (r.outputs.y!.data as Float32Array).buffer)).size).toBe(8);
  });

  it('runs a lone caller alone, with its own tensors', async () => {
    let seen: NamedTensors | undefined;
    const batcher = batcherWith(async (inputs) => ((seen = inputs), { outputs: { y: inputs.x! }, backend: 'wasm', computeMs: 1 }));
    const x = rowsOf(2, 0);
    expect((await batcher.run({ x }, undefined)).batchCallers).toBe(1);
    expect(seen!.x).toBe(x);
  });

  it('callers arriving while a batch computes go together in the next one', async () => {
    const fake = fakeExecute();
    let open!: () => void;
    fake.state.gate = new Promise((resolve) => (open = resolve));
    const batcher = batcherWith(fake.execute);
    const first = batcher.run({ x: rowsOf(1, 0) }, undefined);
    await new Promise((r) => setTimeout(r, 5));
    expect(fake.calls).toEqual([1]);
    const later = [1, 2, 3].map((i) => batcher.run({ x: rowsOf(1, i) }, undefined));
    open();
    const results = await Promise.all([first, ...later]);
    expect(fake.calls).toEqual([1, 3]);
    expect(results.map((r) => r.batchCallers)).toEqual([1, 3, 3, 3]);
  });

  it('takes at most maxBatch rows per run; a caller with more runs alone', async () => {
    const fake = fakeExecute();
    const batcher = batcherWith(fake.execute, { maxBatch: 4 });
    await Promise.all([...Array.from({ length: 10 }, (_, i) => batcher.run({ x: rowsOf(1, i) }, undefined)), batcher.run({ x: rowsOf(6, 0) }, undefined)]);
    expect(fake.calls).toEqual([4, 4, 2, 6]);
  });

  it('never mixes callers that differ in trailing dims or outputs asked for', async () => {
    const fake = fakeExecute();
    const batcher = batcherWith(fake.execute);
    const results = await Promise.all([
      batcher.run({ x: rowsOf(1, 0) }, undefined),
      batcher.run({ x: rowsOf(1, 0, 5) }, undefined),
      batcher.run({ x: rowsOf(1, 10) }, undefined),
      batcher.run({ x: rowsOf(1, 20) }, ['y']),
    ]);
    expect(fake.calls).toEqual([2, 1, 1]);
    expect(results.map((r) => r.outputs.y!.dims)).toEqual([
      [1, 3],
      [1, 5],
      [1, 3],
      [1, 3],
    ]);
  });

  it('an aborted caller that was not dispatched leaves the batch and rejects with aborted; a dispatched one still completes', async () => {
    const fake = fakeExecute();
    let open!: () => void;
    fake.state.gate = new Promise((resolve) => (open = resolve));
    const batcher = batcherWith(fake.execute);
    const running = new AbortController();
    const first = batcher.run({ x: rowsOf(1, 0) }, undefined, running.signal);
    await new Promise((r) => setTimeout(r, 5));
    const stop = new AbortController();
    const kept = batcher.run({ x: rowsOf(1, 1) }, undefined);
    const dropped = batcher.run({ x: rowsOf(2, 2) }, undefined, stop.signal);
    stop.abort();
    running.abort(); // Already computing: nothing to take back.
    await expect(dropped).rejects.toMatchObject({ code: 'aborted' });
    open();
    await Promise.all([first, kept]);
    expect(fake.calls).toEqual([1, 1]);
    await expect(batcher.run({ x: rowsOf(1, 0) }, undefined, AbortSignal.abort())).rejects.toMatchObject({ code: 'aborted' });
  });

  it('a failed batch runs again one caller at a time: only the caller whose input fails gets the error', async () => {
    const fake = fakeExecute({ fail: (x) => x.some(Number.isNaN) });
    const stats = { runs: 0, callers: 0 };
    const batcher = createMicroBatcher({ execute: fake.execute, options: { maxBatch: 32, maxDelayMs: 0 }, stats });
    const bad: Tensor = { dtype: 'float32', dims: [1, 3], data: new Float32Array([1, Number.NaN, 3]) };
    const settled = await Promise.allSettled([
      batcher.run({ x: rowsOf(1, 0) }, undefined),
      batcher.run({ x: bad }, undefined),
      batcher.run({ x: rowsOf(2, 7) }, undefined),
    ]);
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((settled[1] as PromiseRejectedResult).reason).toMatchObject({ code: 'inference_failed' });
    expect(ys([(settled[2] as PromiseFulfilledResult<RunResult>).value])).toEqual([doubled(rowsOf(2, 7))]);
    expect(fake.calls).toEqual([4, 1, 1, 2]);
    expect(stats).toEqual({ runs: 4, callers: 3 }); // The failed run counts; each caller once.
  });

  it('stops coalescing when an output does not follow the batch, answering each caller from its lone run', async () => {
    const fake = fakeExecute({ fixedRows: 1 });
    const warnings: string[] = [];
    const batcher = createMicroBatcher({ execute: fake.execute, options: { maxBatch: 32, maxDelayMs: 0 }, warn: (m) => warnings.push(m) });
    const results = await Promise.all([0, 1, 2].map((i) => batcher.run({ x: rowsOf(1, i * 10) }, undefined)));
    expect(ys(results)).toEqual([0, 1, 2].map((i) => doubled(rowsOf(1, i * 10))));
    expect(batcher.stopped).toMatch(/output y had 1 rows for a batch of 3/);
    expect(warnings).toHaveLength(1);
    await Promise.all([0, 1].map((i) => batcher.run({ x: rowsOf(1, i) }, undefined)));
    expect(fake.calls).toEqual([3, 1, 1, 1, 1, 1]);
  });

  it('with maxDelayMs the oldest caller waits for companions, and a full batch goes without waiting', async () => {
    const fake = fakeExecute();
    const waiting = batcherWith(fake.execute, { maxDelayMs: 500 });
    const early = waiting.run({ x: rowsOf(1, 0) }, undefined);
    await new Promise((r) => setTimeout(r, 10));
    await Promise.all([early, waiting.run({ x: rowsOf(1, 1) }, undefined)]);
    expect(fake.calls).toEqual([2]);
    // A minute's delay: this resolves only because two rows fill maxBatch.
    const full = batcherWith(fake.execute, { maxDelayMs: 60_000, maxBatch: 2 });
    await Promise.all([full.run({ x: rowsOf(1, 0) }, undefined), full.run({ x: rowsOf(1, 1) }, undefined)]);
    expect(fake.calls).toEqual([2, 2]);
  });
});

describe('through the device runtime, on real onnxruntime-web (WASM) under Node', () => {
  const WASM_PATHS = pathToFileURL(join(dirname(createRequire(import.meta.url).resolve('onnxruntime-web')), '/')).href;
  let shared: TestModelRepository;
  let edge: FakeEdge;
  beforeAll(async () => {
    shared = await sharedModelRepository();
    edge = createFakeEdge({ repository: shared.repository, manifests: shared.manifests });
  });

  function request(manifest: Manifest, variantName: string): LoadRequest {
    const variant = manifest.variants.find((v) => v.name === variantName)!;
    return { ...loadRequestFor(manifest, variantName, ['wasm']), signature: variantSignature(variant) };
  }

  /** onnxruntime-web with every session's `run` counted. */
  function countedOrt() {
    const counted = { runs: 0 };
    const ort = {
      ...ortWeb,
      InferenceSession: {
        async create(bytes: Uint8Array, options: { executionProviders: string[] }): Promise<OrtSession> {
          const session = await ortWeb.InferenceSession.create(bytes, options);
          const run = session.run.bind(session);
          return Object.assign(session, { run: (...args: Parameters<typeof run>) => (counted.runs++, run(...args)) }) as unknown as OrtSession;
        },
      },
    } as unknown as OrtLike;
    return { ort, counted };
  }

  async function runtimeWith(microBatch?: MicroBatchOptions | false) {
    const { ort, counted } = countedOrt();
    const runtime = createDeviceRuntime({ ort, fetch: edge.fetch, modelCache: createModelCache(memoryStore(), memoryStore()), warn: quiet });
    await runtime.init({ wasmPaths: WASM_PATHS, numThreads: 1, retry: DEFAULT_RETRY, ...(microBatch !== undefined ? { microBatch } : {}) });
    return { runtime, counted };
  }

  const held = mlpClassifierData().heldOut;
  const rows = (start: number, count: number): Tensor => ({ dtype: 'float32', dims: [count, 256], data: held.x.slice(start * 256, (start + count) * 256) });
  const callers = Array.from({ length: 8 }, (_, i) => rows(i * 3, 1 + (i % 3)));

  function expectClose(actual: Tensor, expected: Tensor): void {
    expect(actual.dims).toEqual(expected.dims);
    const a = actual.data as Float32Array;
    const b = expected.data as Float32Array;
    let worst = 0;
    for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!) / Math.max(1, Math.abs(b[i]!)));
    expect(worst).toBeLessThanOrEqual(1e-5);
  }

  it('8 concurrent callers of the fp32 MLP: fewer session.run calls, each caller the outputs of its lone run', async () => {
    const { runtime, counted } = await runtimeWith();
    const { sessionId } = await runtime.load(request(shared.manifests.get('mlp-classifier')!, 'fp32'));
    const lone: RunResult[] = [];
    for (const x of callers) lone.push(await runtime.run(sessionId, { x: { ...x, data: x.data.slice() } as Tensor }));
    expect(counted.runs).toBe(8);
    const together = await Promise.all(callers.map((x, i) => runtime.run(sessionId, { x }, undefined, { requestId: `r${i}` })));
    expect(counted.runs - 8).toBeLessThan(8);
    expect(together.every((r) => r.batchCallers! > 1)).toBe(true);
    together.forEach((r, i) => {
      expectClose(r.outputs.logits!, lone[i]!.outputs.logits!);
      expectClose(r.outputs.probabilities!, lone[i]!.outputs.probabilities!);
    });
    expect((await runtime.stats()).batching).toEqual({ runs: counted.runs, callers: 16 });
    await runtime.release(sessionId);
  });

  it('a queued caller cancelled by its request id leaves the batch; the others are answered', async () => {
    const { runtime, counted } = await runtimeWith();
    const { sessionId } = await runtime.load(request(shared.manifests.get('shapes-cnn')!, 'fp32'));
    const image = (v: number): Tensor => ({ dtype: 'float32', dims: [1, 1, 28, 28], data: new Float32Array(784).fill(v) });
    const runs = [0.1, 0.5, 0.9].map((v, i) => runtime.run(sessionId, { image: image(v) }, ['probabilities'], { requestId: `c${i}` }));
    await runtime.cancel('c1');
    const settled = await Promise.allSettled(runs);
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((settled[1] as PromiseRejectedResult).reason).toMatchObject({ code: 'aborted' });
    expect(counted.runs).toBe(1);
    expect((settled[0] as PromiseFulfilledResult<RunResult>).value).toMatchObject({ batchCallers: 2, outputs: { probabilities: { dims: [1, 10] } } });
    await runtime.release(sessionId);
  });

  it('runs alone the dynamic int8 variant (its answers would depend on the batch), and everything when micro-batching is off', async () => {
    const int8 = await runtimeWith();
    const a = await int8.runtime.load(request(shared.manifests.get('mlp-classifier')!, 'int8'));
    const results = await Promise.all(callers.map((x) => int8.runtime.run(a.sessionId, { x })));
    expect(int8.counted.runs).toBe(8);
    expect(results.every((r) => r.batchCallers === undefined)).toBe(true);

    const off = await runtimeWith(false);
    const b = await off.runtime.load(request(shared.manifests.get('mlp-classifier')!, 'fp32'));
    await Promise.all(callers.map((x) => off.runtime.run(b.sessionId, { x })));
    expect(off.counted.runs).toBe(8);
    expect((await off.runtime.stats()).batching).toEqual({ runs: 0, callers: 0 });
    await Promise.all([int8.runtime.release(a.sessionId), off.runtime.release(b.sessionId)]);
  });

  it('a load without a signature (a runtime an older page drives) never coalesces', async () => {
    const { runtime, counted } = await runtimeWith();
    const { signature: _, ...unsigned } = request(shared.manifests.get('mlp-classifier')!, 'fp32');
    const { sessionId } = await runtime.load(unsigned);
    await Promise.all(callers.slice(0, 4).map((x) => runtime.run(sessionId, { x })));
    expect(counted.runs).toBe(4);
  });

  it('a caller queued behind a batch whose session the page released gets model_not_ready', async () => {
    const { runtime } = await runtimeWith();
    const { sessionId } = await runtime.load(request(shared.manifests.get('mlp-classifier')!, 'fp32'));
    const queued = runtime.run(sessionId, { x: rows(0, 1) });
    await runtime.release(sessionId);
    await expect(queued).rejects.toMatchObject({ code: 'model_not_ready' });
  });
});
