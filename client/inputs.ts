/**
 * What `model.run` accepts: onnxruntime-web's `Tensor` (an instance of its class, or a plain
 * `{ type, dims, data }`), on the CPU; our `{ dtype, dims, data }` tensors; typed arrays with their dims
 * (the dtype read from the array type). Everything is checked and turned into plain tensors before it
 * goes anywhere.
 */
import type { Tensor as OrtTensor } from 'onnxruntime-common';
import { TandemError } from '../protocol/errors.ts';
import { tensorsByName, isTensorDtype, tensor, type NamedTensors, type Tensor, type TensorData, type TensorDtype } from '../protocol/tensor.ts';

/** A tensor as an app may hand it over. */
export type TensorInput =
  /** An onnxruntime-web `Tensor` (`new ort.Tensor('float32', data, dims)`), its data on the CPU. */
  | OrtTensor
  /** The same as a plain object. */
  | { type: string; dims: readonly number[]; data: unknown }
  | Tensor
  | { data: TensorData; dims: readonly number[]; dtype?: TensorDtype };

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
  const out = tensorsByName();
  for (const [name, input] of Object.entries(inputs)) {
    if (typeof input !== 'object' || input === null) throw new TandemError('tensor_invalid', `input "${name}" is not a tensor`);
    // A GPU tensor's `data` getter throws: say what to do instead.
    const location = (input as { location?: unknown }).location;
    if (location !== undefined && location !== 'cpu' && location !== 'cpu-pinned')
      throw new TandemError('tensor_invalid', `input "${name}" is on ${String(location)}: download it first (await tensor.getData()) and pass a CPU tensor`);
    const given = 'dtype' in input && input.dtype !== undefined ? input.dtype : 'type' in input ? input.type : inferDtype(input.data, name);
    if (!isTensorDtype(given)) throw new TandemError('tensor_invalid', `input "${name}": unsupported dtype ${JSON.stringify(given)}`);
    try {
      out[name] = tensor(given, input.dims, float16Bits(given, input.data) as Tensor['data']);
    } catch (err) {
      if (err instanceof TandemError) throw new TandemError(err.code, `input "${name}": ${err.message}`);
      throw err;
    }
  }
  return out;
}

/** onnxruntime-web holds float16 data in a `Float16Array` where the browser has one: its raw bits, as a view. */
function float16Bits(dtype: TensorDtype, data: unknown): unknown {
  if (dtype !== 'float16' || data instanceof Uint16Array || !ArrayBuffer.isView(data) || (data as { BYTES_PER_ELEMENT?: number }).BYTES_PER_ELEMENT !== 2)
    return data;
  return new Uint16Array(data.buffer, data.byteOffset, data.byteLength / 2);
}

/** A deep copy, so a cached or transferred tensor never aliases the caller's arrays. */
export function cloneTensors(tensors: NamedTensors): NamedTensors {
  const out = tensorsByName();
  for (const [name, t] of Object.entries(tensors)) out[name] = { dtype: t.dtype, dims: [...t.dims], data: t.data.slice() } as Tensor;
  return out;
}
