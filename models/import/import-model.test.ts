import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSigningKey, loadTrustedKeys, type SigningKey, type TrustedKeySet } from '../../protocol/keys.ts';
import { EXAMPLE_MEDIA_TYPE } from '../../protocol/manifest.ts';
import { decodeInferRequest } from '../../protocol/oip-codec.ts';
import { sha256Hex } from '../../protocol/sha256.ts';
import { sharedModelRepository, type TestModelRepository } from '../test-support.ts';
import { openSession } from '../test-runtimes.ts';
import { verifyModelDirectory } from '../../origin/verify-version.ts';
import { BUILT_IN_MAKERS, type DeviceMakers } from './device-variants.ts';
import { importModel, type ImportDependencies } from './import-model.ts';
import type { ImportRequest } from './import-options.ts';
import { ALL_MAKERS } from './quantized-makers.ts';
import { minMemoryMiB, RUNTIME_OVERHEAD_MIB } from './requirements.ts';
import * as graphs from './test-graphs.ts';

let work: string;
let key: SigningKey;
let trusted: TrustedKeySet;
let shared: TestModelRepository;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'tandem-import-'));
  key = await generateSigningKey();
  trusted = await loadTrustedKeys([key.publicKey]);
  shared = await sharedModelRepository();
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

/** Writes bytes or text to a fresh file under the work folder and returns its path. */
let counter = 0;
async function file(name: string, content: Uint8Array | string): Promise<string> {
  const dir = join(work, `f${counter++}`);
  await mkdir(dir);
  const path = join(dir, name);
  await writeFile(path, content);
  return path;
}

async function freshRepository(): Promise<string> {
  const dir = join(work, `repo${counter++}`);
  await mkdir(dir);
  return dir;
}

const exampleBody = (rows: number[][]) => JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [rows.length, 4], data: rows.flat() }] });

async function run(request: Omit<ImportRequest, 'repository'> & { repository?: string }, deps: ImportDependencies = {}) {
  const repository = request.repository ?? (await freshRepository());
  const lines: string[] = [];
  const result = await importModel(
    { ...request, repository },
    { signingKey: key, progress: (l) => lines.push(l), now: () => new Date('2026-05-01T12:00:00Z'), ...deps },
  );
  return { result, repository, lines };
}

describe('tandem import of a small exported model', () => {
  it('writes a signed version that verifies, with exporter dim names, labels, examples and measured requirements', async () => {
    const model = await file('tiny.onnx', graphs.tinyClassifier());
    const labels = await file('labels.txt', 'cat\ndog\nbird\n');
    const example = await file(
      'two-rows.json',
      exampleBody([
        [1, 2, 3, 4],
        [0, 0, 0, 0],
      ]),
    );
    const { result, repository, lines } = await run({ model, id: 'tiny', version: '0.1.0', labels, examples: [example] });

    expect(lines[0]).toMatch(/^reading .*tiny\.onnx \(\d+ B\)$/);
    expect(lines).toContain('measuring activations on 1 input set(s)');
    const verified = await verifyModelDirectory(join(repository, 'tiny', '0.1.0'), trusted);
    expect(verified.keyids).toEqual([key.keyid]);
    const manifest = verified.manifest;
    expect(manifest).toEqual(result.manifest);
    expect(manifest).toMatchObject({
      id: 'tiny',
      version: '0.1.0',
      task: 'classification',
      createdAt: '2026-05-01T12:00:00.000Z',
      classLabels: ['cat', 'dog', 'bird'],
    });
    const [origin, device] = manifest.variants;
    expect(manifest.variants).toHaveLength(2);
    expect(origin).toMatchObject({
      name: 'fp32',
      tier: 'origin',
      opset: 17,
      quantization: { method: 'none' },
      artifact: { path: 'fp32.onnx', bytes: graphs.tinyClassifier().length },
    });
    expect(origin!.inputs).toEqual([{ name: 'x', dtype: 'float32', shape: ['p2o.DynamicDimension.0', 4] }]);
    expect(origin!.outputs).toEqual([
      { name: 'logits', dtype: 'float32', shape: ['p2o.DynamicDimension.0', 3] },
      { name: 'probabilities', dtype: 'float32', shape: ['p2o.DynamicDimension.0', 3] },
    ]);
    // The signed artifact is the user's file, byte for byte.
    expect(await readFile(join(repository, 'tiny', '0.1.0', 'fp32.onnx'))).toEqual(Buffer.from(graphs.tinyClassifier()));
    // The default device variant: the same file, for WebGPU then WASM.
    expect(device).toMatchObject({
      name: 'fp32-device',
      tier: 'device',
      artifact: origin!.artifact,
      requirements: { backends: ['webgpu', 'wasm'], minStorageMiB: 1 },
    });
    expect(origin!.requirements.backends).toEqual(['cpu']);
    // Requirements from the measured peak at the example's shape: x [2,4] and two [2,3] tensors at once.
    expect(result.activations).toEqual({ peakBytes: 2 * 4 * 4 + 2 * 2 * 3 * 4, intermediates: true });
    expect(origin!.requirements.minMemoryMiB).toBe(minMemoryMiB(origin!.artifact.bytes, 80));
    expect(origin!.requirements.minMemoryMiB).toBe(RUNTIME_OVERHEAD_MIB + 1);
    expect(manifest.labels).toMatchObject({
      'import.source': 'tiny.onnx',
      'onnx.producer': 'tandem-models test',
      'onnx.opsets': 'ai.onnx=17',
      'requirements.peakActivationBytes': '80',
      'requirements.measuredOn': '1 example(s)',
      'requirements.intermediates': 'measured',
    });
    // The example is stored as a canonical OIP request, hashed into the manifest.
    expect(manifest.examples).toHaveLength(1);
    const ref = manifest.examples![0]!;
    expect(ref).toMatchObject({ path: 'example-1.json', mediaType: EXAMPLE_MEDIA_TYPE });
    const stored = await readFile(join(repository, 'tiny', '0.1.0', ref.path));
    expect(await sha256Hex(stored)).toBe(ref.sha256);
    expect(stored.length).toBe(ref.bytes);
    const decoded = decodeInferRequest(new Uint8Array(stored));
    expect(decoded.inputs[0]).toMatchObject({ name: 'x', dtype: 'float32', dims: [2, 4] });
    expect(Array.from(decoded.inputs[0]!.data as Float32Array)).toEqual([1, 2, 3, 4, 0, 0, 0, 0]);
    expect((await readdir(join(repository, 'tiny'))).sort()).toEqual(['0.1.0']);
  });

  it('the device variant runs in onnxruntime-web (WASM) with the numbers onnxruntime-node gives', async () => {
    const model = await file('tiny.onnx', graphs.tinyClassifier());
    const { result, repository } = await run({ model, id: 'tiny', version: '0.2.0' });
    const device = result.manifest.variants.find((v) => v.tier === 'device')!;
    const bytes = new Uint8Array(await readFile(join(repository, 'tiny', '0.2.0', device.artifact.path)));
    const feeds = { x: { data: new Float32Array([1, 2, 3, 4, -1, 0, 0, 2]), dims: [2, 4] } };
    const [web, node] = await Promise.all([openSession('web', bytes), openSession('node', bytes)]);
    try {
      const [a, b] = [await web.run(feeds), await node.run(feeds)];
      expect(Array.from(a.logits!)).toEqual([1, 2.5, 6.5, 0, 0.5, 1.5]);
      Array.from(a.probabilities!).forEach((p, i) => expect(p).toBeCloseTo(b.probabilities![i]!, 6));
    } finally {
      await Promise.all([web.release(), node.release()]);
    }
  });

  it('names unnamed dimensions after their tensor, and defaults task and device without labels', async () => {
    const model = await file('unnamed.onnx', graphs.unnamedDims());
    const { result } = await run({ model, id: 'unnamed', version: '1.0.0' });
    expect(result.manifest.task).toBe('generic');
    expect(result.manifest.variants[0]!.inputs[0]!.shape).toEqual(['x_dim0', 4]);
    expect(result.manifest.variants[0]!.outputs.map((o) => o.shape)).toEqual([
      ['logits_dim0', 3],
      ['probabilities_dim0', 3],
    ]);
    expect(result.manifest.labels?.['requirements.measuredOn']).toBe('a synthetic input (dynamic dimensions = 1)');
    expect(result.manifest.examples).toBeUndefined();
  });

  it('imports a model whose input is named __proto__, with and without an example', async () => {
    // Found: refused with "Tensor.dims must be an array.": the input set's plain object took the name as its prototype.
    const model = await file('proto.onnx', graphs.protoInputName());
    // The fp16 variant is compared with the original in onnxruntime-node and -web: every runtime gets the input.
    const { result } = await run({ model, id: 'proto', version: '1.0.0', device: 'fp16,fp32', keepOutOfTolerance: true }, { makers: ALL_MAKERS });
    expect(result.manifest.variants.map((v) => v.name)).toEqual(['fp32', 'fp16', 'fp32-device']);
    expect(result.manifest.variants[0]!.inputs).toEqual([{ name: '__proto__', dtype: 'float32', shape: ['p2o.DynamicDimension.0', 4] }]);
    expect(result.manifest.evaluation).toMatchObject({ 'fp16.maxAbsError': expect.any(Number), 'fp16.wasm.maxAbsError': expect.any(Number) });
    const example = await file('proto.json', exampleBody([[1, 2, 3, 4]]).replace('"name":"x"', '"name":"__proto__"'));
    const withExample = await run({ model, id: 'proto', version: '1.0.1', examples: [example], device: 'fp32' });
    expect(withExample.result.manifest.labels?.['requirements.measuredOn']).toBe('1 example(s)');
  });

  it('--device none makes an origin-only version; --force replaces a version', async () => {
    const model = await file('tiny.onnx', graphs.tinyClassifier());
    const { repository } = await run({ model, id: 'tiny', version: '1.0.0' });
    await expect(run({ model, id: 'tiny', version: '1.0.0', repository, device: 'none' })).rejects.toMatchObject({ code: 'version_exists' });
    const { result } = await run({ model, id: 'tiny', version: '1.0.0', repository, device: 'none', force: true });
    expect(result.manifest.variants.map((v) => v.name)).toEqual(['fp32']);
    expect((await verifyModelDirectory(join(repository, 'tiny', '1.0.0'), trusted)).manifest.variants).toHaveLength(1);
  });
});

describe('device variant makers', () => {
  /** A stand-in for models/quantize/: rewrites the file (a new producer version) and reports figures. */
  const rewriting = (make: (bytes: Uint8Array) => Uint8Array): DeviceMakers => ({
    ...BUILT_IN_MAKERS,
    int8: {
      name: 'int8',
      make: async (bytes) => make(bytes),
      quantization: { method: 'dynamic-int8', weightDtype: 'int8', activationDtype: 'uint8', granularity: 'per-channel' },
      backends: ['wasm'],
      evaluate: async (reference, variant, inputs) => ({
        maxAbsError: reference.length === variant.length ? 0 : 0.5,
        inputSets: inputs.length,
        top1Agreement: undefined,
        maxRelError: Number.NaN,
      }),
    },
  });

  it('adds each variant in --device order, its own file, and its figures under evaluation', async () => {
    const model = await file('tiny.onnx', graphs.tinyClassifier());
    const makers = rewriting((bytes) => graphs.editModel(bytes, (m) => void (m.producer_version = 'int8-stand-in')));
    const { result, repository } = await run({ model, id: 'tiny', version: '2.0.0', device: 'int8,fp32' }, { makers });
    expect(result.manifest.variants.map((v) => [v.name, v.tier, v.artifact.path])).toEqual([
      ['fp32', 'origin', 'fp32.onnx'],
      ['int8', 'device', 'int8.onnx'],
      ['fp32-device', 'device', 'fp32.onnx'],
    ]);
    expect(result.manifest.variants[1]!.requirements.backends).toEqual(['wasm']);
    expect(result.manifest.evaluation).toEqual({ 'int8.maxAbsError': 0.5, 'int8.inputSets': 1 });
    const verified = await verifyModelDirectory(join(repository, 'tiny', '2.0.0'), trusted);
    expect(verified.artifacts.map((a) => a.variant.name)).toEqual(['fp32', 'int8', 'fp32-device']);
  });

  it('refuses a variant onnxruntime cannot load, writing nothing', async () => {
    const model = await file('tiny.onnx', graphs.tinyClassifier());
    const makers = rewriting(() => graphs.unknownOperator());
    const repository = await freshRepository();
    await expect(run({ model, id: 'tiny', version: '1.0.0', device: 'int8', repository }, { makers })).rejects.toMatchObject({ code: 'onnx_load_failed' });
    expect(await readdir(repository)).toEqual([]);
  });
});

describe('built-in models imported as foreign files', () => {
  for (const id of ['mlp-classifier', 'shapes-cnn']) {
    it(`${id}: the exported fp32 file imports with the built manifest's signatures`, async () => {
      const built = shared.manifests.get(id)!;
      const fp32 = built.variants.find((v) => v.name === 'fp32')!;
      const model = join(shared.repository, id, built.version, fp32.artifact.path);
      const { result, repository } = await run({ model, id, version: '9.0.0', task: 'classification' });
      const verified = await verifyModelDirectory(join(repository, id, '9.0.0'), trusted);
      const [origin, device] = verified.manifest.variants;
      expect(origin!.inputs).toEqual(fp32.inputs);
      expect(origin!.outputs).toEqual(fp32.outputs);
      expect(origin!.artifact.sha256).toBe(fp32.artifact.sha256);
      expect(device!.name).toBe('fp32-device');
      expect(result.activations.intermediates).toBe(true);
      expect(result.activations.peakBytes).toBeGreaterThan(0);
      // Weights dominate: about 2 × the file plus the runtime.
      expect(origin!.requirements.minMemoryMiB).toBeGreaterThanOrEqual(RUNTIME_OVERHEAD_MIB + Math.floor((2 * fp32.artifact.bytes) / 2 ** 20));
    });
  }
});

describe('refusals: a coded error naming the fix, and nothing written', () => {
  const cases: [string, () => Uint8Array | string, string, RegExp][] = [
    ['a text file', () => 'name,value\n1,2\n', 'onnx_invalid', /not an ONNX model/],
    ['external data', graphs.externalData, 'onnx_external_data', /save_as_external_data=False/],
    [
      'a custom domain',
      graphs.customDomain,
      'onnx_custom_domain',
      /com\.example\.custom \(Relu\).*re-export it with standard ONNX operators.*onnxruntime said: .*not a registered function\/op/,
    ],
    ['a custom domain inside an If branch', graphs.nestedCustomDomain, 'onnx_custom_domain', /com\.example\.nested \(Swish\)/],
    ['training info', graphs.trainingInfo, 'onnx_training_graph', /training graph/],
    ['a sequence output', graphs.sequenceOutput, 'onnx_unsupported_io', /output "both" is a sequence/],
    ['a bfloat16 input', graphs.bfloat16Input, 'onnx_unsupported_io', /bfloat16/],
    ['an input without a shape', graphs.rankless, 'onnx_unsupported_io', /declares no shape/],
    // Found: it imported, then every request without an outputs list failed 400 "duplicate tensor name".
    ['an output listed twice', graphs.duplicateOutput, 'onnx_unsupported_io', /output "logits" is listed twice/],
    // Found: 2^31 allocated 8.5 GB over 37 s before refusing; 2^40 failed as `internal`.
    [
      'an input dimension of 2^31',
      () => graphs.hugeInputDim(2 ** 31),
      'onnx_unsupported_io',
      /graph input "x" of shape \[p2o\.DynamicDimension\.0, 2147483648\] \(float32\) would take 8192 MiB .*over the 256 MiB limit per input; pass --example/,
    ],
    ['an input dimension of 2^40', () => graphs.hugeInputDim(2 ** 40), 'onnx_unsupported_io', /shape \[p2o\.DynamicDimension\.0, 1099511627776\].*4194304 MiB/],
    ['an unknown operator', graphs.unknownOperator, 'onnx_load_failed', /onnxruntime-node cannot load the model: .*NoSuchOperator/],
    [
      'a model that cannot run at the warm-up shape',
      graphs.failsOnBatchOne,
      'onnx_load_failed',
      /cannot run it on the origin's warm-up input.*Reshape|cannot run it on the origin's warm-up input/,
    ],
  ];
  for (const [what, bytes, code, message] of cases) {
    it(`${what}: ${code}`, async () => {
      const model = await file('model.onnx', bytes());
      const repository = await freshRepository();
      await expect(run({ model, id: 'refused', version: '1.0.0', repository })).rejects.toMatchObject({ code, message: expect.stringMatching(message) });
      expect(await readdir(repository)).toEqual([]);
    });
  }

  it('a model that cannot run at the warm-up shape imports with an example it runs on (the origin then warms up on the examples)', async () => {
    const model = await file('reshape.onnx', graphs.failsOnBatchOne());
    const example = await file(
      'rows.json',
      exampleBody([
        [1, 2, 3, 4],
        [5, 6, 7, 8],
        [9, 10, 11, 12],
      ]),
    );
    const { result } = await run({ model, id: 'reshape', version: '1.0.0', examples: [example], device: 'none' });
    expect(result.manifest.examples).toHaveLength(1);
    expect(result.manifest.labels?.['requirements.measuredOn']).toBe('1 example(s)');
  });

  it('examples and labels that do not fit the graph', async () => {
    const model = await file('tiny.onnx', graphs.tinyClassifier());
    const repository = await freshRepository();
    const attempt = async (extra: Partial<ImportRequest>) => run({ model, id: 'tiny', version: '1.0.0', repository, ...extra });
    const wide = await file('wide.json', JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 5], data: [1, 2, 3, 4, 5] }] }));
    await expect(attempt({ examples: [wide] })).rejects.toMatchObject({
      code: 'input_shape_mismatch',
      message: expect.stringMatching(/^--example .*wide\.json: input "x" has shape \[1,5\]/),
    });
    const other = await file('other.json', JSON.stringify({ inputs: [{ name: 'y', datatype: 'FP32', shape: [1, 4], data: [1, 2, 3, 4] }] }));
    await expect(attempt({ examples: [other] })).rejects.toMatchObject({ code: 'input_unknown' });
    const ints = await file('ints.json', JSON.stringify({ inputs: [{ name: 'x', datatype: 'INT32', shape: [1, 4], data: [1, 2, 3, 4] }] }));
    await expect(attempt({ examples: [ints] })).rejects.toMatchObject({ code: 'input_dtype_mismatch' });
    const malformed = await file('bad.json', '{"inputs": [{"name": "x"}]}');
    await expect(attempt({ examples: [malformed] })).rejects.toMatchObject({
      code: 'tensor_invalid',
      message: expect.stringMatching(/^--example .*bad\.json: /),
    });
    const labels = await file('labels.txt', 'a\nb\n');
    await expect(attempt({ labels })).rejects.toMatchObject({ code: 'bad_request', message: expect.stringContaining('2 labels') });
    expect(await readdir(repository)).toEqual([]);
  });

  it('checks flags before reading the model', async () => {
    const model = await file('garbage.onnx', 'not a model');
    const repository = await freshRepository();
    const attempt = async (extra: Partial<ImportRequest>) => {
      const lines: string[] = [];
      const error = await importModel({ model, id: 'ok', version: '1.0.0', repository, ...extra }, { signingKey: key, progress: (l) => lines.push(l) }).catch(
        (e: unknown) => e,
      );
      expect(lines).toEqual([]); // refused before the first long step
      return error;
    };
    expect(await attempt({ id: 'Bad Id' })).toMatchObject({ code: 'bad_request', message: expect.stringContaining('model id "Bad Id"') });
    expect(await attempt({ version: 'v1' })).toMatchObject({ code: 'bad_request', message: expect.stringContaining('version "v1"') });
    expect(await attempt({ task: 'Image Classification' })).toMatchObject({ code: 'bad_request', message: expect.stringContaining('--task') });
    expect(await attempt({ device: 'int8' })).toMatchObject({ code: 'bad_request', message: expect.stringContaining('cannot make a "int8" variant yet') });
    expect(await attempt({ model: join(work, 'missing.onnx') })).toMatchObject({ code: 'bad_request', message: expect.stringContaining('no such file') });
    expect(await attempt({ labels: join(work, 'missing.txt') })).toMatchObject({
      code: 'bad_request',
      message: expect.stringMatching(/--labels .*no such file/),
    });
    expect(await attempt({ key: await file('key.json', '{}') })).toMatchObject({ message: expect.stringContaining('--key') });
    expect(await attempt({ model: await file('empty.onnx', '') })).toMatchObject({ code: 'onnx_invalid' });
    expect(await readdir(repository)).toEqual([]);
  });
});
