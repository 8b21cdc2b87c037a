/**
 * The model manifest: what a model is, where its bytes are, what it takes and returns, and what a device
 * needs to run it. It is the payload of a signed DSSE envelope (see `signed-manifest.ts`); the client,
 * the edge and the origin all read it through `parseManifest`, which rejects anything malformed with
 * `manifest_invalid` and a message naming the offending field.
 */
import { z } from 'zod';
import { TandemError } from './errors.ts';
import { TENSOR_DTYPES } from './tensor.ts';

export const MANIFEST_SCHEMA_VERSION = 1;
export const MANIFEST_PAYLOAD_TYPE = 'application/vnd.tandem.manifest+json';

const slug = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'lowercase letters, digits, ".", "_" or "-", 1-64 chars');
const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, '64 lowercase hex digits');
const semver = z
  .string()
  .regex(/^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?$/, 'a semantic version such as 1.2.0');

/** Keys that name Object.prototype members. */
const RESERVED_KEYS = ['__proto__', 'constructor', 'prototype'];

/**
 * A free-form record. Reserved keys are refused, not dropped: parsing would silently lose or reinterpret
 * them, so the parsed manifest would differ from the signed one. (JSON.parse makes `__proto__` an own
 * property, which the record parser then skips, so the check looks at the raw input.)
 */
function safeRecord<T extends z.ZodType>(value: T) {
  return z.preprocess(
    (input, ctx) => {
      if (typeof input === 'object' && input !== null) {
        for (const key of RESERVED_KEYS) {
          if (Object.hasOwn(input, key)) ctx.addIssue({ code: 'custom', path: [key], message: 'reserved key', input });
        }
      }
      return input;
    },
    z.record(z.string().min(1).max(128), value),
  );
}

/** A dimension: a fixed size, or the name of a dynamic dimension such as "batch". */
const dim = z.union([z.number().int().nonnegative(), z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/)]);

const tensorSpec = z.strictObject({
  name: z.string().min(1),
  dtype: z.enum(TENSOR_DTYPES),
  shape: z.array(dim).max(8),
});

export const BACKENDS = ['webgpu', 'wasm', 'cpu'] as const;
export type Backend = (typeof BACKENDS)[number];

const requirements = z.strictObject({
  /** Device memory the variant needs, in MiB (compared with `navigator.deviceMemory` on the client). */
  minMemoryMiB: z.number().int().positive(),
  /** Storage the cached artifact needs, in MiB. */
  minStorageMiB: z.number().int().nonnegative(),
  /** Backends that can run the variant, best first. */
  backends: z.array(z.enum(BACKENDS)).min(1),
  /** The largest batch the variant should be given on this tier. */
  maxBatch: z.number().int().positive().optional(),
});

const quantization = z.discriminatedUnion('method', [
  z.strictObject({ method: z.literal('none') }),
  z.strictObject({
    /** Weights int8 per output channel, activations quantized to uint8 at run time (MatMulInteger). */
    method: z.literal('dynamic-int8'),
    weightDtype: z.literal('int8'),
    activationDtype: z.literal('uint8'),
    granularity: z.enum(['per-tensor', 'per-channel']),
  }),
]);

const variant = z.strictObject({
  name: slug,
  tier: z.enum(['device', 'origin']),
  artifact: z.strictObject({
    /** Path of the file relative to the manifest's version directory in the model repository. */
    path: z.string().regex(/^[A-Za-z0-9._-]+$/, 'a plain file name'),
    sha256: sha256Hex,
    bytes: z.number().int().positive(),
    mediaType: z.literal('application/vnd.onnx'),
  }),
  opset: z.number().int().positive(),
  inputs: z.array(tensorSpec).min(1),
  outputs: z.array(tensorSpec).min(1),
  quantization,
  requirements,
});

const inputStatistics = z.strictObject({ mean: z.number(), std: z.number().nonnegative() });

export const manifestSchema = z
  .strictObject({
    schemaVersion: z.literal(MANIFEST_SCHEMA_VERSION),
    id: slug,
    version: semver,
    createdAt: z.iso.datetime(),
    description: z.string().max(2000).optional(),
    task: z.enum(['classification', 'embedding', 'regression']),
    /** Class names for classification outputs, index-aligned with the output's last dimension. */
    classLabels: z.array(z.string()).optional(),
    /** Free-form key/value labels for operators (team, dataset, commit...). */
    labels: safeRecord(z.string()).optional(),
    /** Statistics of the training data per input, the reference the origin measures drift against. */
    dataReference: z
      .strictObject({
        description: z.string(),
        samples: z.number().int().positive(),
        inputs: safeRecord(inputStatistics),
      })
      .optional(),
    /** Held-out evaluation of the model, as measured by the build. */
    evaluation: safeRecord(z.number()).optional(),
    variants: z.array(variant).min(1),
  })
  .superRefine((m, ctx) => {
    const names = new Set<string>();
    for (const [i, v] of m.variants.entries()) {
      if (names.has(v.name)) ctx.addIssue({ code: 'custom', path: ['variants', i, 'name'], message: `duplicate variant "${v.name}"` });
      names.add(v.name);
    }
  });

export type Manifest = z.infer<typeof manifestSchema>;
export type ManifestVariant = Manifest['variants'][number];
export type TensorSpec = z.infer<typeof tensorSpec>;
export type DeviceRequirements = ManifestVariant['requirements'];
export type Quantization = ManifestVariant['quantization'];

/**
 * Validates an unknown value as a manifest.
 * @throws TandemError `manifest_invalid`, naming every offending field.
 */
export function parseManifest(value: unknown): Manifest {
  const result = manifestSchema.safeParse(value);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`);
  throw new TandemError('manifest_invalid', `invalid manifest: ${problems.join('; ')}`);
}

/** The variant meant for a tier, preferring the first listed. */
export function variantForTier(manifest: Manifest, tier: ManifestVariant['tier']): ManifestVariant | undefined {
  return manifest.variants.find((v) => v.tier === tier);
}

/** The model's address in the repository and on the wire: `id@version`. */
export function modelRef(manifest: Pick<Manifest, 'id' | 'version'>): string {
  return `${manifest.id}@${manifest.version}`;
}
