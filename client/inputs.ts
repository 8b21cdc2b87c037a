/**
 * What `model.run` accepts: our `{ dtype, dims, data }` tensors, typed arrays with their dims (the dtype
 * read from the array type), or onnxruntime-web tensors (`{ type, dims, data }` on the CPU). Everything is
 * checked and turned into plain tensors before it goes anywhere.
 */
import { TandemError } from '../protocol/errors.ts';
import { isTensorDtype, tensor, type NamedTensors, type Tensor, type TensorData, type TensorDtype } from '../protocol/tensor.ts';

/** A tensor as an app may hand it over. */
export type TensorInput =
  | Tensor
  | { data: TensorData; dims: readonly number[]; dtype?: TensorDtype }
  /** An onnxruntime-web `Tensor` (CPU location). */
  | { type: string; dims: readonly number[]; data: unknown };

export type InputMap = Record<string, TensorInput>;

const DTYPE_OF: [abstract new (...args: never[]) => unknown, TensorDtype][] = [
  [Float32Array, 'float32'],
  [Float64Array, 'float64'],
  [Int32Array, 'int32'],
  [Uint8Array, 'uint8'],
  [Int8Array, 'int8'],
  [Uint16Array, 'uint16'],
  [Int16Array, 'int16'],
  [Uint32Array, 'uint32'],
  [BigInt64Array, 'int64'],
  [BigUint64Array, 'uint64'],
];

function inferDtype(data: unknown, name: string): TensorDtype {
  if (Array.isArray(data)) return 'string';
  for (const [ctor, dtype] of DTYPE_OF) if (data instanceof ctor) return dtype;
  throw new TandemError('tensor_invalid', `input "${name}": data must be a typed array or a string array`);
}

/**
 * @throws TandemError `tensor_invalid` when a tensor's dtype, dims and data disagree.
 * @example
 * normalizeInputs({ x: { data: new Float32Array(256), dims: [1, 256] } });
 */
export function normalizeInputs(inputs: InputMap): NamedTensors {
  if (typeof inputs !== 'object' || inputs === null) throw new TandemError('tensor_invalid', 'inputs must be an object of named tensors');
  const out: NamedTensors = {};
  for (const [name, input] of Object.entries(inputs)) {
    const given = 'dtype' in input && input.dtype !== undefined ? input.dtype : 'type' in input ? input.type : inferDtype(input.data, name);
    if (!isTensorDtype(given)) throw new TandemError('tensor_invalid', `input "${name}": unsupported dtype ${JSON.stringify(given)}`);
    try {
      out[name] = tensor(given, input.dims, input.data as Tensor['data']);
    } catch (err) {
      if (err instanceof TandemError) throw new TandemError(err.code, `input "${name}": ${err.message}`);
      throw err;
    }
  }
  return out;
}

/** A deep copy, so a cached or transferred tensor never aliases the caller's arrays. */
export function cloneTensors(tensors: NamedTensors): NamedTensors {
  const out: NamedTensors = {};
  for (const [name, t] of Object.entries(tensors)) out[name] = { dtype: t.dtype, dims: [...t.dims], data: t.data.slice() } as Tensor;
  return out;
}
