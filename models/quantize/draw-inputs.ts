/**
 * Inputs drawn from a model's declared signature, for measuring a variant's agreement when the user gives
 * no examples. Named dynamic dimensions take the size given in `dimDefaults`, else 1. Floats are standard
 * normal (the scale most exporters' normalised inputs have); integers are 0 or 1 by default, the only
 * values that are valid for every integer input a model may have: token ids (any vocabulary), attention
 * masks, token type ids, class or segment indices; bools are fair coin flips; strings are short words.
 * A seed gives the same inputs on every machine (models/math/prng.ts).
 */
import { TandemError } from '../../protocol/errors.ts';
import type { TensorSpec } from '../../protocol/manifest.ts';
import { tensorsByName, allocateTensorData, type NamedTensors, type Tensor } from '../../protocol/tensor.ts';
import { createRng, type Rng } from '../math/prng.ts';
import { toFloat16Bits } from './float16.ts';

/** The size of a named dynamic dimension missing from `dimDefaults`. */
export const DEFAULT_DYNAMIC_DIM = 1;

export interface DrawOptions {
  /** Integers are drawn uniformly from [min, max). Default [0, 2). */
  intRange?: readonly [number, number];
}

const WORDS = ['a', 'the', 'model', 'input', 'tandem', 'edge', 'device', 'origin'];

/**
 * @example
 * const inputs = drawInputs(variant.inputs, 'import/check', { batch: 4, sequence: 16 });
 * @throws TandemError `bad_request` for a negative or non-integer dimension size.
 */
export function drawInputs(
  signature: readonly TensorSpec[],
  seed: string,
  dimDefaults: Readonly<Record<string, number>> = {},
  options: DrawOptions = {},
): NamedTensors {
  const [low, high] = options.intRange ?? [0, 2];
  if (!(Number.isInteger(low) && Number.isInteger(high) && high > low))
    throw new TandemError('bad_request', `intRange must be two integers [min, max) with max > min, got [${low}, ${high}]`);
  const rng = createRng(seed);
  const inputs = tensorsByName();
  for (const spec of signature) {
    const dims = spec.shape.map((d) => {
      const size = typeof d === 'number' ? d : (dimDefaults[d] ?? DEFAULT_DYNAMIC_DIM);
      if (!Number.isInteger(size) || size < 0)
        throw new TandemError('bad_request', `dimension "${d}" of input "${spec.name}" must be a non-negative integer, got ${size}`);
      return size;
    });
    inputs[spec.name] = drawTensor(spec, dims, rng.fork(spec.name), low, high);
  }
  return inputs;
}

function drawTensor(spec: TensorSpec, dims: number[], rng: Rng, low: number, high: number): Tensor {
  const count = dims.reduce((a, b) => a * b, 1);
  const { dtype } = spec;
  switch (dtype) {
    case 'float32':
    case 'float64': {
      const data = allocateTensorData(dtype, count);
      for (let i = 0; i < count; i++) data[i] = rng.normal();
      return { dtype, dims, data };
    }
    case 'float16': {
      const data = allocateTensorData(dtype, count);
      for (let i = 0; i < count; i++) data[i] = toFloat16Bits(rng.normal());
      return { dtype, dims, data };
    }
    case 'bool': {
      const data = allocateTensorData(dtype, count);
      for (let i = 0; i < count; i++) data[i] = rng.int(2);
      return { dtype, dims, data };
    }
    case 'int64':
    case 'uint64': {
      const data = allocateTensorData(dtype, count);
      for (let i = 0; i < count; i++) data[i] = BigInt(low + rng.int(high - low));
      return { dtype, dims, data };
    }
    case 'string': {
      const data = allocateTensorData(dtype, count);
      for (let i = 0; i < count; i++) data[i] = WORDS[rng.int(WORDS.length)]!;
      return { dtype, dims, data };
    }
    default: {
      const data = allocateTensorData(dtype, count);
      for (let i = 0; i < count; i++) data[i] = low + rng.int(high - low);
      return { dtype, dims, data };
    }
  }
}
