/**
 * Triton's classification extension: an output requested with `parameters.classification` = k comes back
 * as its k highest-valued classes instead of its values, a BYTES tensor of `"<value>:<index>[:<label>]"`
 * strings, highest first (equal values by index). As Triton does it:
 *
 * - an output of rank 2 or more is a batch: each row (the first dimension) is ranked over its elements
 *   flattened, and the answer has shape [rows, k]; an output of rank 1 is one row, answered as [k];
 * - k is capped at the elements a row has; values are written as C++'s `std::to_string` writes them (six
 *   decimals for floats, integers as they are), so clients that parse Triton's strings parse these;
 * - the label is the model's `classLabels` entry for the index, when a row has exactly as many elements as
 *   there are labels.
 *
 * Numeric outputs only; FP16 is taken too (Triton refuses it). Everything is checked against the model's
 * output signature before the model runs, so a bad request costs no compute.
 */
import { TandemError } from './errors.ts';
import type { TensorSpec } from './manifest.ts';
import type { RequestedOutput } from './oip-codec.ts';
import { DATATYPE_OF_DTYPE } from './oip-datatype.ts';
import { float16BitsToNumber } from './oip-float16.ts';
import type { Tensor } from './tensor.ts';

/** The output parameter that asks for classification. */
export const CLASSIFICATION_PARAMETER = 'classification';

/**
 * How many classes each requested output asked for, by output name (none asked: an empty map).
 * @throws TandemError `bad_request` naming the output and the parameter when the count is not a positive
 * integer, or the output is not a numeric tensor of rank 1 or more.
 * @example
 * classificationCounts([{ name: 'logits', parameters: { classification: 3 } }], variant.outputs); // Map { 'logits' => 3 }
 */
export function classificationCounts(asked: readonly RequestedOutput[] | undefined, specs: readonly TensorSpec[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const output of asked ?? []) {
    if (!output.parameters || !Object.hasOwn(output.parameters, CLASSIFICATION_PARAMETER)) continue;
    const k = output.parameters[CLASSIFICATION_PARAMETER];
    const what = `output "${output.name}" parameters.${CLASSIFICATION_PARAMETER}`;
    if (typeof k !== 'number' || !Number.isSafeInteger(k) || k < 1) {
      throw new TandemError('bad_request', `${what} must be a positive integer (how many classes to return), got ${JSON.stringify(k) ?? String(k)}`);
    }
    const spec = specs.find((s) => s.name === output.name);
    if (!spec) continue; // An unknown output is refused as `output_unknown` where outputs are resolved.
    if (spec.dtype === 'bool' || spec.dtype === 'string' || spec.shape.length === 0) {
      throw new TandemError(
        'bad_request',
        `${what}: classification needs a numeric output of rank 1 or more; "${spec.name}" is ${DATATYPE_OF_DTYPE[spec.dtype]} of rank ${spec.shape.length}`,
      );
    }
    counts.set(output.name, k);
  }
  return counts;
}

/**
 * The top `k` classes of each row of `tensor` as Triton's classification strings.
 * @example
 * classify({ dtype: 'float32', dims: [1, 3], data: Float32Array.of(0.1, 0.7, 0.2) }, 2, ['cat', 'dog', 'bird']);
 * // { dtype: 'string', dims: [1, 2], data: ['0.700000:1:dog', '0.200000:2:bird'] }
 */
export function classify(tensor: Tensor, k: number, labels?: readonly string[]): Tensor<'string'> {
  const values = numbersOf(tensor);
  const rows = tensor.dims.length >= 2 ? tensor.dims[0]! : 1;
  const perRow = rows === 0 ? 0 : values.length / rows;
  const count = Math.min(k, perRow);
  const named = labels !== undefined && labels.length === perRow ? labels : undefined;
  const data: string[] = [];
  for (let row = 0; row < rows; row++) {
    const start = row * perRow;
    const order = Array.from({ length: perRow }, (_, i) => i).sort((a, b) => {
      const x = values[start + a]!;
      const y = values[start + b]!;
      // NaN ranks last, rather than wherever a comparison that is always false leaves it.
      if (Number.isNaN(x) !== Number.isNaN(y)) return Number.isNaN(x) ? 1 : -1;
      return y > x ? 1 : y < x ? -1 : a - b;
    });
    for (const index of order.slice(0, count)) {
      const text = `${valueText(tensor, start + index)}:${index}`;
      data.push(named ? `${text}:${named[index]}` : text);
    }
  }
  return { dtype: 'string', dims: tensor.dims.length >= 2 ? [rows, count] : [count], data };
}

/** The tensor's values as numbers, for ranking (64-bit integers past 2^53 may tie where they differ). */
function numbersOf(tensor: Tensor): ArrayLike<number> {
  switch (tensor.dtype) {
    case 'float16':
      return Array.from(tensor.data as Uint16Array, float16BitsToNumber);
    case 'int64':
    case 'uint64':
      return Array.from(tensor.data as BigInt64Array | BigUint64Array, Number);
    case 'bool':
    case 'string':
      throw new TandemError('bad_request', `classification needs a numeric output, not ${DATATYPE_OF_DTYPE[tensor.dtype]}`);
    default:
      return tensor.data as Exclude<Tensor['data'], string[] | BigInt64Array | BigUint64Array>;
  }
}

/** Element `at` as C++'s std::to_string writes it: `%f` for floats (nan, inf), integers exactly. */
function valueText(tensor: Tensor, at: number): string {
  if (tensor.dtype !== 'float16' && tensor.dtype !== 'float32' && tensor.dtype !== 'float64') return String(tensor.data[at]);
  const value = tensor.dtype === 'float16' ? float16BitsToNumber((tensor.data as Uint16Array)[at]!) : (tensor.data as Float32Array | Float64Array)[at]!;
  if (Number.isNaN(value)) return 'nan';
  if (!Number.isFinite(value)) return value > 0 ? 'inf' : '-inf';
  return value.toFixed(6);
}
