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
 */
import type { TensorSpec } from '../../protocol/manifest.ts';
import { numberToFloat16Bits } from '../../protocol/oip-float16.ts';
import { allocateTensorData, elementCount, type NamedTensors, type Tensor } from '../../protocol/tensor.ts';
import { createRng } from '../math/prng.ts';

/** The size every dynamic dimension takes in synthetic inputs. */
export const DYNAMIC_DIM_DEFAULT = 1;

/** The dims of a synthetic input for `spec`. */
export function syntheticDims(spec: TensorSpec): number[] {
  return spec.shape.map((d) => (typeof d === 'number' ? d : DYNAMIC_DIM_DEFAULT));
}

/**
 * One synthetic input set for a model's input signature.
 * @example
 * const feeds = syntheticInputs([{ name: 'x', dtype: 'float32', shape: ['batch', 4] }]); // x: [1, 4]
 */
export function syntheticInputs(specs: readonly TensorSpec[], seed = 'tandem-import'): NamedTensors {
  const inputs: NamedTensors = {};
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

/** What the origin's warm-up feeds a model: zeros, every dynamic dimension 1 (origin/model-registry.ts). */
export function warmUpInputs(specs: readonly TensorSpec[]): NamedTensors {
  const inputs: NamedTensors = {};
  for (const spec of specs) {
    const dims = syntheticDims(spec);
    inputs[spec.name] = { dtype: spec.dtype, dims, data: allocateTensorData(spec.dtype, elementCount(dims)) } as Tensor;
  }
  return inputs;
}
