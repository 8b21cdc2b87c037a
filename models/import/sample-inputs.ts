/**
 * The inputs an import runs the model on (the load check, the activation measurement, device variants'
 * agreement): the user's examples when there are any, else one synthetic input per graph input.
 *
 * Synthetic inputs take each fixed dimension as declared and every named or unnamed dynamic dimension as 1,
 * the shape of the origin's warm-up input (`warmUpInputs`, all zeros: a model that runs on it here also
 * warms up there, and the origin refuses one that does not). Float inputs are
 * seeded uniform values in [0, 1), the same on every run; integer and bool inputs are zeros (random ones
 * would be out-of-range indices for a Gather or an Embedding); strings are empty. Requirements measured
 * on them describe batch 1 at the smallest dynamic sizes: give examples of realistic sizes for figures
 * that mean more.
 *
 * A graph may declare fixed dimensions no real input has (2^31, say): synthetic inputs are bounded
 * (`SYNTHETIC_INPUT_LIMITS`) and checked before anything is allocated, so such a model is refused at once
 * instead of after gigabytes and minutes.
 */
import { TandemError } from '../../protocol/errors.ts';
import type { TensorSpec } from '../../protocol/manifest.ts';
import { numberToFloat16Bits } from '../../protocol/oip-float16.ts';
import { allocateTensorData, bytesPerElement, elementCount, tensorsByName, type NamedTensors, type Tensor } from '../../protocol/tensor.ts';
import { createRng } from '../math/prng.ts';

/** The size every dynamic dimension takes in synthetic inputs. */
export const DYNAMIC_DIM_DEFAULT = 1;

/** The dims of a synthetic input for `spec`. */
export function syntheticDims(spec: TensorSpec): number[] {
  return spec.shape.map((d) => (typeof d === 'number' ? d : DYNAMIC_DIM_DEFAULT));
}

/** The most bytes a synthetic input may take, each and all of a model's together. */
export const SYNTHETIC_INPUT_LIMITS = { perInputBytes: 256 * 2 ** 20, totalBytes: 1024 * 2 ** 20 } as const;

/** What an empty string's slot costs in a JS array (strings have no fixed size). */
const STRING_SLOT_BYTES = 8;

const mib = (bytes: number) => `${Math.ceil(bytes / 2 ** 20)} MiB`;

/**
 * Refuses a signature whose synthetic inputs would pass `SYNTHETIC_INPUT_LIMITS`, by their declared sizes
 * alone. Examples are the way round: an import with them makes no synthetic input.
 * @throws TandemError `onnx_unsupported_io` naming the input, its shape and the limit.
 */
export function checkSyntheticSize(specs: readonly TensorSpec[]): void {
  const { perInputBytes, totalBytes } = SYNTHETIC_INPUT_LIMITS;
  const fix =
    'pass --example with an input of realistic size (the import then runs on it and makes no synthetic input), or re-export the model with that dimension dynamic';
  let total = 0;
  for (const spec of specs) {
    // Multiplied as doubles, not with elementCount: a product past 2^53 is still far over the limit.
    const bytes = syntheticDims(spec).reduce((product, d) => product * d, bytesPerElement(spec.dtype) ?? STRING_SLOT_BYTES);
    total += bytes;
    const over =
      bytes > perInputBytes
        ? `over the ${mib(perInputBytes)} limit per input`
        : total > totalBytes
          ? `bringing all inputs over the ${mib(totalBytes)} limit`
          : undefined;
    if (over !== undefined) {
      throw new TandemError(
        'onnx_unsupported_io',
        `graph input "${spec.name}" of shape [${spec.shape.join(', ')}] (${spec.dtype}) would take ${mib(bytes)} as a synthetic input (dynamic dimensions = ${DYNAMIC_DIM_DEFAULT}), ${over}; ${fix}`,
      );
    }
  }
}

/**
 * One synthetic input set for a model's input signature.
 * @throws TandemError `onnx_unsupported_io` past `SYNTHETIC_INPUT_LIMITS` (`checkSyntheticSize`).
 * @example
 * const feeds = syntheticInputs([{ name: 'x', dtype: 'float32', shape: ['batch', 4] }]); // x: [1, 4]
 */
export function syntheticInputs(specs: readonly TensorSpec[], seed = 'tandem-import'): NamedTensors {
  checkSyntheticSize(specs);
  const inputs: NamedTensors = tensorsByName();
  for (const spec of specs) {
    const dims = syntheticDims(spec);
    const count = elementCount(dims);
    const rng = createRng(`${seed}/${spec.name}`);
    const data = allocateTensorData(spec.dtype, count);
    if (data instanceof Float32Array || data instanceof Float64Array) {
      for (let i = 0; i < count; i++) data[i] = rng.uniform();
    } else if (spec.dtype === 'float16') {
      for (let i = 0; i < count; i++) (data as Uint16Array)[i] = numberToFloat16Bits(rng.uniform());
    }
    inputs[spec.name] = { dtype: spec.dtype, dims, data } as Tensor;
  }
  return inputs;
}

/**
 * What the origin's warm-up feeds a model: zeros, every dynamic dimension 1 (origin/model-registry.ts).
 * @throws TandemError `onnx_unsupported_io` past `SYNTHETIC_INPUT_LIMITS` (`checkSyntheticSize`).
 */
export function warmUpInputs(specs: readonly TensorSpec[]): NamedTensors {
  checkSyntheticSize(specs);
  const inputs: NamedTensors = tensorsByName();
  for (const spec of specs) {
    const dims = syntheticDims(spec);
    inputs[spec.name] = { dtype: spec.dtype, dims, data: allocateTensorData(spec.dtype, elementCount(dims)) } as Tensor;
  }
  return inputs;
}
