/**
 * Checks a request's input tensors against a model's input signature, and says whether and how the
 * request can join a dynamic batch. Pure: the signature comes from the verified manifest (checked against
 * the loaded session at load time), the tensors from the OIP decoder.
 */
import { TandemError } from './errors.ts';
import type { ManifestVariant, TensorSpec } from './manifest.ts';
import { rowBatchingRefusal } from './row-batching.ts';
import type { Tensor } from './tensor.ts';

export type NamedTensor = Tensor & { name: string };

export interface InputPolicy {
  /** `reject` answers NaN and ±Infinity in float inputs with `input_not_finite`. */
  nonFinite: 'reject' | 'allow';
}

export interface BatchPlan {
  /** Rows along the leading dimension, when the variant's requests may be merged (`row-batching.ts`). */
  rows: number;
  /** Requests with equal keys can be concatenated along the leading dimension; null runs alone. */
  key: string | null;
}

/** What validation reads of the variant: its inputs, and what decides whether requests may be merged. */
export type ValidatedVariant = Pick<ManifestVariant, 'inputs' | 'outputs' | 'quantization' | 'batching'>;

/**
 * @throws TandemError `input_missing`, `input_unknown`, `input_dtype_mismatch`, `input_shape_mismatch`,
 * `input_not_finite` or, for a string element holding NUL, `tensor_invalid`, naming the input.
 */
export function validateInputs(inputs: readonly NamedTensor[], variant: ValidatedVariant, policy: InputPolicy): BatchPlan {
  checkInputs(inputs, variant.inputs, policy);
  return batchPlan(inputs, variant);
}

/**
 * `validateInputs`'s checks without its batch plan, for a caller that does not batch (the client SDK,
 * once per run: nothing here builds a string unless a check fails).
 * @throws TandemError as `validateInputs`.
 */
export function checkInputs(inputs: readonly NamedTensor[], specs: readonly TensorSpec[], policy: InputPolicy): void {
  for (const input of inputs) {
    if (!specs.some((s) => s.name === input.name)) {
      throw new TandemError('input_unknown', `unknown input "${input.name}"; the model takes ${specs.map((s) => `"${s.name}"`).join(', ')}`);
    }
  }
  const dynamic = new Map<string, number>();
  for (const spec of specs) {
    const input = inputs.find((t) => t.name === spec.name);
    if (!input) throw new TandemError('input_missing', `input "${spec.name}" is required`);
    if (input.dtype !== spec.dtype) {
      throw new TandemError('input_dtype_mismatch', `input "${spec.name}" is ${input.dtype}, the model takes ${spec.dtype}`);
    }
    checkShape(input, spec, dynamic);
    if (policy.nonFinite === 'reject') checkFinite(input);
    if (input.dtype === 'string') checkNoNul(input);
  }
}

/**
 * onnxruntime's string tensors, in onnxruntime-node and onnxruntime-web alike, are C strings, which end at
 * the first NUL: an element holding one would reach the model cut short, and the answer would look fine.
 */
function checkNoNul(input: NamedTensor): void {
  const at = (input.data as readonly string[]).findIndex((element) => element.includes('\0'));
  if (at >= 0) {
    throw new TandemError('tensor_invalid', `input "${input.name}": element ${at} holds a NUL character (U+0000), where onnxruntime's string tensors end`);
  }
}

function checkShape(input: NamedTensor, spec: TensorSpec, dynamic: Map<string, number>): void {
  const mismatch = (why: string) =>
    new TandemError('input_shape_mismatch', `input "${spec.name}" has shape [${input.dims.join(',')}], expected [${spec.shape.join(',')}]: ${why}`);
  if (input.dims.length !== spec.shape.length) throw mismatch(`rank ${input.dims.length}, expected ${spec.shape.length}`);
  for (let axis = 0; axis < spec.shape.length; axis++) {
    const dim = spec.shape[axis]!;
    const actual = input.dims[axis]!;
    if (typeof dim === 'number') {
      if (actual !== dim) throw mismatch(`dimension ${axis} must be ${dim}`);
      continue;
    }
    const bound = dynamic.get(dim);
    if (bound !== undefined && bound !== actual) throw mismatch(`"${dim}" is ${bound} in another input`);
    dynamic.set(dim, actual);
  }
}

function checkFinite(input: NamedTensor): void {
  const fail = (i: number) => new TandemError('input_not_finite', `input "${input.name}" has a non-finite value at element ${i}`);
  if (input.dtype === 'float32' || input.dtype === 'float64') {
    const data = input.data as Float32Array | Float64Array;
    for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i]!)) throw fail(i);
  } else if (input.dtype === 'float16') {
    // Half floats arrive as raw bits: an all-ones exponent is Infinity or NaN.
    const bits = input.data as Uint16Array;
    for (let i = 0; i < bits.length; i++) if ((bits[i]! & 0x7c00) === 0x7c00) throw fail(i);
  }
}

/** Whether a variant's requests may be merged (row-batching.ts): a property of the variant, so worked out once for it. */
const mergeableVariants = new WeakMap<ValidatedVariant, boolean>();

function mergeable(variant: ValidatedVariant): boolean {
  let may = mergeableVariants.get(variant);
  if (may === undefined) {
    may = rowBatchingRefusal({ ...variant, quantization: variant.quantization.method }) === undefined;
    mergeableVariants.set(variant, may);
  }
  return may;
}

/** Inputs already checked, so every input brings the same rows when the variant may merge at all. */
function batchPlan(inputs: readonly NamedTensor[], variant: ValidatedVariant): BatchPlan {
  const rows = inputs[0]?.dims[0] ?? 0;
  if (!mergeable(variant) || rows === 0) return { rows: Math.max(rows, 1), key: null };
  const key = variant.inputs
    .map((s) => {
      const t = inputs.find((i) => i.name === s.name)!;
      return `${s.name}:${t.dtype}:${t.dims.slice(1).join('x')}`;
    })
    .join('|');
  return { rows, key };
}

/**
 * The outputs a request asked for, in its order, or every output: the origin's route and the SDK's
 * `model.run` both ask here.
 * @throws TandemError `output_unknown`
 */
export function requestedOutputs(asked: string[] | undefined, specs: readonly TensorSpec[]): string[] {
  if (!asked || asked.length === 0) return specs.map((s) => s.name);
  for (const name of asked) {
    if (!specs.some((s) => s.name === name)) {
      throw new TandemError('output_unknown', `unknown output "${name}"; the model returns ${specs.map((s) => `"${s.name}"`).join(', ')}`);
    }
  }
  return asked;
}
