/**
 * The model manifest: what a model is, where its bytes are, what it takes and returns, and what a device
 * needs to run it. It is the payload of a signed DSSE envelope (see `signed-manifest.ts`); the client,
 * the edge and the origin all read it through `parseManifest`, which rejects anything malformed with
 * `manifest_invalid` and a message naming the offending field.
 *
 * Validated with `zod/mini`, zod's tree-shakable build: the schema ships in the browser SDK, where the
 * full zod would be most of the bundle.
 */
import * as z from 'zod/mini';
import { TandemError } from './errors.ts';
import { TENSOR_DTYPES } from './tensor.ts';

export const MANIFEST_SCHEMA_VERSION = 1;
export const MANIFEST_PAYLOAD_TYPE = 'application/vnd.tandem.manifest+json';

/** A model id (and task): what a manifest's `id` may be, and so the only names a server need look up. */
export const MODEL_ID_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/;
/** A model version: a semantic version, as a manifest's `version` must be. */
export const VERSION_PATTERN = /^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?$/;

const slug = z.string().check(z.regex(MODEL_ID_PATTERN, 'lowercase letters, digits, ".", "_" or "-", 1-64 chars'));
const sha256Hex = z.string().check(z.regex(/^[0-9a-f]{64}$/, '64 lowercase hex digits'));
const semver = z.string().check(z.regex(VERSION_PATTERN, 'a semantic version such as 1.2.0'));
const count = z.int().check(z.nonnegative());
const positiveInt = z.int().check(z.positive());
const fileName = z.string().check(
  z.regex(/^[A-Za-z0-9._-]+$/, 'a plain file name'),
  z.refine((s) => s !== '.' && s !== '..', 'a plain file name'),
);

/** Keys that name Object.prototype members. */
const RESERVED_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/** A free-form record of `value`s. Reserved keys are refused before parsing (see `reservedKeyPaths`). */
const record = <T extends z.core.SomeType>(value: T) => z.record(z.string().check(z.minLength(1), z.maxLength(128)), value);

/**
 * A dimension: a fixed size, or the name of a dynamic dimension. Names are kept as exporters write them
 * ("batch", "p2o.DynamicDimension.0", "height + 2"): any non-empty text without line breaks or tabs.
 */
const dimName = z.string().check(z.regex(/^[^\s](?:[^\t\n\r]{0,126}[^\s])?$/, 'a non-empty name without surrounding whitespace, tabs or line breaks'));
const dim = z.union([count, dimName]);

const tensorSpec = z.strictObject({
  name: z.string().check(z.minLength(1), z.maxLength(256)),
  dtype: z.enum(TENSOR_DTYPES),
  shape: z.array(dim).check(z.maxLength(16)),
});

export const BACKENDS = ['webgpu', 'wasm', 'cpu'] as const;
export type Backend = (typeof BACKENDS)[number];

/**
 * Tasks Tandem knows by name; any other slug is accepted too (OCR, speech, detection...), it just gets no
 * task-specific treatment (the origin's confidence metrics apply to `classification` only).
 */
export const KNOWN_TASKS = ['classification', 'embedding', 'regression', 'detection', 'segmentation', 'ocr', 'speech', 'text-generation'] as const;

const requirements = z.strictObject({
  /** Device memory the variant needs, in MiB (compared with `navigator.deviceMemory` on the client). */
  minMemoryMiB: positiveInt,
  /** Storage the cached artifact needs, in MiB. */
  minStorageMiB: count,
  /** Backends that can run the variant, best first. */
  backends: z.array(z.enum(BACKENDS)).check(z.minLength(1)),
  /** Backend features the variant needs, such as WebGPU's `shader-f16` for an fp16 variant. */
  features: z.optional(z.array(z.string().check(z.regex(/^[a-z0-9-]{1,64}$/, 'a feature name such as "shader-f16"')))),
  /** The largest batch the variant should be given on this tier. */
  maxBatch: z.optional(positiveInt),
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
  z.strictObject({
    /** Weights and compute in float16; the model's inputs and outputs keep their declared dtypes. */
    method: z.literal('fp16'),
  }),
]);

/** A file of the version directory, named by path and pinned by size and hash. */
const artifactRef = <T extends z.core.SomeType>(mediaType: T) =>
  z.strictObject({
    /** Path of the file relative to the manifest's version directory in the model repository. */
    path: fileName,
    sha256: sha256Hex,
    bytes: positiveInt,
    mediaType,
  });

/** A tensor listed twice could not be told apart on the wire (OIP names each tensor once). */
const tensorSpecs = z.array(tensorSpec).check(
  z.minLength(1),
  z.refine((specs) => new Set(specs.map((t) => t.name)).size === specs.length, 'duplicate tensor name'),
);

const variant = z.strictObject({
  name: slug,
  tier: z.enum(['device', 'origin']),
  artifact: artifactRef(z.literal('application/vnd.onnx')),
  opset: positiveInt,
  inputs: tensorSpecs,
  outputs: tensorSpecs,
  quantization,
  requirements,
  /**
   * Whether concurrent requests may share one run, concatenated along the leading dimension: `rows` when
   * `tandem import` ran two inputs alone and merged and each row's answer was its own, `none` when it was
   * not (a Softmax over axis 0, a sum over the batch). Absent: decided from the signature alone
   * (`row-batching.ts`). Optional, so manifests written before it stay valid.
   */
  batching: z.optional(z.enum(['rows', 'none'])),
});

const inputStatistics = z.strictObject({ mean: z.number(), std: z.number().check(z.nonnegative()) });

/** Media type of an example file: an OIP v2 inference request body, JSON form (`{"inputs":[...]}`). */
export const EXAMPLE_MEDIA_TYPE = 'application/vnd.oip.infer-request+json';

export const manifestSchema = z
  .strictObject({
    schemaVersion: z.literal(MANIFEST_SCHEMA_VERSION),
    id: slug,
    version: semver,
    createdAt: z.iso.datetime(),
    /**
     * When verifiers stop accepting this signed manifest (TUF's defence against a freeze: an old, validly
     * signed manifest served forever). Set by `tandem sign --expires`; re-signing renews it.
     */
    expires: z.optional(z.iso.datetime()),
    description: z.optional(z.string().check(z.maxLength(2000))),
    /** One of `KNOWN_TASKS`, or any other slug. */
    task: slug,
    /** Class names for classification outputs, index-aligned with the output's last dimension. */
    classLabels: z.optional(z.array(z.string())),
    /** Free-form key/value labels for operators (team, dataset, commit...). */
    labels: z.optional(record(z.string())),
    /** Statistics of the training data per input, the reference the origin measures drift against. */
    dataReference: z.optional(
      z.strictObject({
        description: z.string(),
        samples: positiveInt,
        inputs: record(inputStatistics),
      }),
    ),
    /** Measured figures: held-out evaluation, or device variants' agreement with the reference. */
    evaluation: z.optional(record(z.number())),
    /**
     * Example inputs kept with the version (hashed here, so signed): every tier can warm up and self-test
     * on real values instead of synthetic ones.
     */
    examples: z.optional(z.array(artifactRef(z.literal(EXAMPLE_MEDIA_TYPE))).check(z.maxLength(32))),
    variants: z.array(variant).check(z.minLength(1)),
  })
  .check(
    z.superRefine((m, ctx) => {
      const names = new Set<string>();
      for (const [i, v] of m.variants.entries()) {
        if (names.has(v.name)) ctx.issues.push({ code: 'custom', path: ['variants', i, 'name'], message: `duplicate variant "${v.name}"`, input: v.name });
        names.add(v.name);
      }
    }),
  );

export type Manifest = z.infer<typeof manifestSchema>;
export type ManifestVariant = Manifest['variants'][number];
export type ManifestExample = NonNullable<Manifest['examples']>[number];
export type TensorSpec = z.infer<typeof tensorSpec>;
export type DeviceRequirements = ManifestVariant['requirements'];
export type Quantization = ManifestVariant['quantization'];
export type RowBatching = NonNullable<ManifestVariant['batching']>;

/**
 * Validates an unknown value as a manifest.
 * @throws TandemError `manifest_invalid`, naming every offending field.
 */
export function parseManifest(value: unknown): Manifest {
  const problems = reservedKeyPaths(value).map((path) => `${path}: reserved key`);
  const result = manifestSchema.safeParse(value);
  if (!result.success) problems.push(...result.error.issues.map(describeIssue));
  if (problems.length === 0 && result.success) return result.data;
  throw new TandemError('manifest_invalid', `invalid manifest: ${problems.join('; ')}`);
}

/**
 * One line per issue. zod/mini ships no message locale (that is part of its size saving), so messages
 * not given in the schema are written here from the issue's code.
 */
function describeIssue(issue: z.core.$ZodIssue): string {
  const at = issue.path.join('.') || '(root)';
  switch (issue.code) {
    case 'unrecognized_keys':
      return `${issue.path.map((p) => `${String(p)}.`).join('')}${issue.keys.join(', ')}: unknown field`;
    case 'invalid_type':
      return `${at}: expected ${issue.expected}`;
    case 'invalid_value':
      return `${at}: expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'too_small':
      return `${at}: at least ${issue.minimum}${issue.origin === 'array' ? ' items' : ''}`;
    case 'too_big':
      return `${at}: at most ${issue.maximum}${issue.origin === 'array' ? ' items' : ''}`;
    case 'invalid_union':
      return `${at}: matches none of the allowed forms`;
    default:
      return `${at}: ${issue.message}`;
  }
}

/**
 * Paths of own keys that name Object.prototype members. They are refused, not dropped: parsing would
 * silently lose or reinterpret them, so the parsed manifest would differ from the signed one. (JSON.parse
 * makes `__proto__` an own property, which record parsing then skips, so this looks at the raw input.)
 */
function reservedKeyPaths(value: unknown, path: string[] = [], depth = 0): string[] {
  if (typeof value !== 'object' || value === null || depth > 8) return [];
  const found: string[] = [];
  for (const key of Object.keys(value)) {
    const here = [...path, key];
    if (RESERVED_KEYS.has(key)) found.push(here.join('.'));
    else found.push(...reservedKeyPaths((value as Record<string, unknown>)[key], here, depth + 1));
  }
  return found;
}

/** The variant meant for a tier, preferring the first listed. */
export function variantForTier(manifest: Manifest, tier: ManifestVariant['tier']): ManifestVariant | undefined {
  return manifest.variants.find((v) => v.tier === tier);
}

/** The model's address in the repository and on the wire: `id@version`. */
export function modelRef(manifest: Pick<Manifest, 'id' | 'version'>): string {
  return `${manifest.id}@${manifest.version}`;
}
