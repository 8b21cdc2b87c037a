/** fast-check arbitraries for valid manifests, for property tests in any tier. */
import fc from 'fast-check';
import { BACKENDS, EXAMPLE_MEDIA_TYPE, MANIFEST_SCHEMA_VERSION, type Manifest, type ManifestVariant, type TensorSpec } from '../manifest.ts';
import { TENSOR_DTYPES } from '../tensor.ts';

const slug = fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,20}$/);
/** Record keys; the schema refuses keys naming Object.prototype members. */
const recordKey = (pattern: RegExp) => fc.stringMatching(pattern).filter((k) => !['__proto__', 'constructor', 'prototype'].includes(k));
const hex64 = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => [...b].map((x) => x.toString(16).padStart(2, '0')).join(''));
// Dim names as exporters write them, not only identifiers.
const dim = fc.oneof(fc.nat({ max: 4096 }), fc.constantFrom('batch', 'seq', 'N', 'p2o.DynamicDimension.0', 'unk__12', 'height + 2'));
/** A plain file name of the version directory. */
const fileName = fc.stringMatching(/^[A-Za-z0-9._-]{1,20}$/).filter((p) => p !== '.' && p !== '..');
const tensorSpec: fc.Arbitrary<TensorSpec> = fc.record({
  name: fc.string({ minLength: 1, maxLength: 12 }),
  dtype: fc.constantFrom(...TENSOR_DTYPES),
  shape: fc.array(dim, { maxLength: 5 }),
});

const variant = (name: string): fc.Arbitrary<ManifestVariant> =>
  fc.record(
    {
      name: fc.constant(name),
      tier: fc.constantFrom('device' as const, 'origin' as const),
      artifact: fc.record({
        path: fileName,
        sha256: hex64,
        bytes: fc.integer({ min: 1, max: 2 ** 40 }),
        mediaType: fc.constant('application/vnd.onnx' as const),
      }),
      opset: fc.integer({ min: 7, max: 23 }),
      // Names are unique within a variant's inputs, and within its outputs (the schema refuses duplicates).
      inputs: fc.uniqueArray(tensorSpec, { minLength: 1, maxLength: 3, selector: (t) => t.name }),
      outputs: fc.uniqueArray(tensorSpec, { minLength: 1, maxLength: 3, selector: (t) => t.name }),
      quantization: fc.oneof(
        fc.constant({ method: 'none' as const }),
        fc.record({
          method: fc.constant('dynamic-int8' as const),
          weightDtype: fc.constant('int8' as const),
          activationDtype: fc.constant('uint8' as const),
          granularity: fc.constantFrom('per-tensor' as const, 'per-channel' as const),
        }),
        fc.constant({ method: 'fp16' as const }),
      ),
      requirements: fc.record(
        {
          minMemoryMiB: fc.integer({ min: 1, max: 1 << 20 }),
          minStorageMiB: fc.nat({ max: 1 << 20 }),
          backends: fc.uniqueArray(fc.constantFrom(...BACKENDS), { minLength: 1 }),
          features: fc.constant(['shader-f16']),
          maxBatch: fc.integer({ min: 1, max: 1024 }),
        },
        { requiredKeys: ['minMemoryMiB', 'minStorageMiB', 'backends'] },
      ),
      batching: fc.constantFrom('rows' as const, 'none' as const),
    },
    { requiredKeys: ['name', 'tier', 'artifact', 'opset', 'inputs', 'outputs', 'quantization', 'requirements'] },
  );

export const manifestArbitrary: fc.Arbitrary<Manifest> = fc.uniqueArray(slug, { minLength: 1, maxLength: 3 }).chain((names) =>
  fc.record(
    {
      schemaVersion: fc.constant(MANIFEST_SCHEMA_VERSION),
      id: slug,
      version: fc.tuple(fc.nat(99), fc.nat(99), fc.nat(99)).map(([a, b, c]) => `${a}.${b}.${c}`),
      createdAt: fc.integer({ min: Date.UTC(2020, 0, 1), max: Date.UTC(2030, 0, 1) }).map((t) => new Date(t).toISOString()),
      expires: fc.integer({ min: Date.UTC(2030, 0, 1), max: Date.UTC(2040, 0, 1) }).map((t) => new Date(t).toISOString()),
      description: fc.string({ maxLength: 80 }),
      task: fc.oneof(fc.constantFrom('classification', 'embedding', 'regression', 'ocr'), slug),
      classLabels: fc.array(fc.string({ maxLength: 10 }), { maxLength: 10 }),
      labels: fc.dictionary(recordKey(/^[a-z]{1,8}$/), fc.string({ maxLength: 10 })),
      dataReference: fc.record({
        description: fc.string({ maxLength: 40 }),
        samples: fc.integer({ min: 1, max: 1e6 }),
        inputs: fc.dictionary(
          recordKey(/^[a-z]{1,8}$/),
          fc.record({ mean: fc.double({ noNaN: true, noDefaultInfinity: true }), std: fc.double({ min: 0, noNaN: true, noDefaultInfinity: true }) }),
        ),
      }),
      evaluation: fc.dictionary(recordKey(/^[a-z_]{1,12}$/), fc.double({ noNaN: true, noDefaultInfinity: true })),
      examples: fc.array(
        fc.record({ path: fileName, sha256: hex64, bytes: fc.integer({ min: 1, max: 2 ** 30 }), mediaType: fc.constant(EXAMPLE_MEDIA_TYPE) }),
        { maxLength: 3 },
      ),
      variants: fc.tuple(...names.map(variant)),
    },
    { requiredKeys: ['schemaVersion', 'id', 'version', 'createdAt', 'task', 'variants'] },
  ),
);

/** A small valid manifest to start hand-written tests from. */
export function sampleManifest(overrides: Partial<Manifest> = {}): Manifest {
  return {
    schemaVersion: MANIFEST_SCHEMA_VERSION,
    id: 'mlp-classifier',
    version: '1.0.0',
    createdAt: '2026-01-01T00:00:00.000Z',
    task: 'classification',
    classLabels: ['a', 'b'],
    variants: [
      {
        name: 'int8',
        tier: 'device',
        artifact: { path: 'int8.onnx', sha256: 'ab'.repeat(32), bytes: 1000, mediaType: 'application/vnd.onnx' },
        opset: 17,
        inputs: [{ name: 'x', dtype: 'float32', shape: ['batch', 256] }],
        outputs: [{ name: 'logits', dtype: 'float32', shape: ['batch', 2] }],
        quantization: { method: 'dynamic-int8', weightDtype: 'int8', activationDtype: 'uint8', granularity: 'per-channel' },
        requirements: { minMemoryMiB: 64, minStorageMiB: 1, backends: ['webgpu', 'wasm'] },
      },
    ],
    ...overrides,
  };
}
