/**
 * Tensors as every tier holds them in memory: `{ dtype, dims, data }`.
 *
 * dtype names are ONNX Runtime's (the same in onnxruntime-web and onnxruntime-node), so a tensor converts
 * to an ORT tensor with `new ort.Tensor(t.dtype, t.data, t.dims)` and back without a lookup table.
 * The Open Inference Protocol names (`FP32`, ...) appear only on the wire; see `oip-datatype.ts`.
 */
import { TandemError } from './errors.ts';

export const TENSOR_DTYPES = [
  'bool',
  'uint8',
  'int8',
  'uint16',
  'int16',
  'uint32',
  'int32',
  'uint64',
  'int64',
  'float16',
  'float32',
  'float64',
  'string',
] as const;

export type TensorDtype = (typeof TENSOR_DTYPES)[number];

export interface TensorDataByDtype {
  bool: Uint8Array;
  uint8: Uint8Array;
  int8: Int8Array;
  uint16: Uint16Array;
  int16: Int16Array;
  uint32: Uint32Array;
  int32: Int32Array;
  uint64: BigUint64Array;
  int64: BigInt64Array;
  /** IEEE 754 half-precision values as raw bits, as onnxruntime accepts them. */
  float16: Uint16Array;
  float32: Float32Array;
  float64: Float64Array;
  string: string[];
}

export type TensorData = TensorDataByDtype[TensorDtype];
export type NumericTensorData = Exclude<TensorData, string[]>;

export interface Tensor<D extends TensorDtype = TensorDtype> {
  dtype: D;
  dims: readonly number[];
  data: TensorDataByDtype[D];
}

export type NamedTensors = Record<string, Tensor>;

/**
 * An empty record to key tensors by name. It has no prototype, so a tensor named `__proto__` (a legal ONNX
 * name) is an entry like any other instead of replacing the prototype of a plain `{}`.
 * @example
 * const feeds = tensorsByName(); feeds['__proto__'] = tensor; Object.keys(feeds); // ['__proto__']
 */
export function tensorsByName<T = Tensor>(): Record<string, T> {
  return Object.create(null) as Record<string, T>;
}

type TypedArrayConstructor =
  | Uint8ArrayConstructor
  | Int8ArrayConstructor
  | Uint16ArrayConstructor
  | Int16ArrayConstructor
  | Uint32ArrayConstructor
  | Int32ArrayConstructor
  | BigUint64ArrayConstructor
  | BigInt64ArrayConstructor
  | Float32ArrayConstructor
  | Float64ArrayConstructor;

const TYPED_ARRAY: Record<Exclude<TensorDtype, 'string'>, TypedArrayConstructor> = {
  bool: Uint8Array,
  uint8: Uint8Array,
  int8: Int8Array,
  uint16: Uint16Array,
  int16: Int16Array,
  uint32: Uint32Array,
  int32: Int32Array,
  uint64: BigUint64Array,
  int64: BigInt64Array,
  float16: Uint16Array,
  float32: Float32Array,
  float64: Float64Array,
};

export function isTensorDtype(value: unknown): value is TensorDtype {
  return typeof value === 'string' && (TENSOR_DTYPES as readonly string[]).includes(value);
}

/** Bytes per element, or undefined for `string`, whose elements vary in size. */
export function bytesPerElement(dtype: TensorDtype): number | undefined {
  return dtype === 'string' ? undefined : TYPED_ARRAY[dtype].BYTES_PER_ELEMENT;
}

export function typedArrayFor(dtype: Exclude<TensorDtype, 'string'>): TypedArrayConstructor {
  return TYPED_ARRAY[dtype];
}

/** Allocates zeroed data for `count` elements of `dtype`. */
export function allocateTensorData<D extends TensorDtype>(dtype: D, count: number): TensorDataByDtype[D] {
  if (dtype === 'string') return new Array<string>(count).fill('') as TensorDataByDtype[D];
  return new TYPED_ARRAY[dtype as Exclude<TensorDtype, 'string'>](count) as TensorDataByDtype[D];
}

/** Checks dims are non-negative safe integers and returns their product. */
export function elementCount(dims: readonly number[]): number {
  let count = 1;
  for (const dim of dims) {
    if (!Number.isSafeInteger(dim) || dim < 0) {
      throw new TandemError('tensor_invalid', `dimension ${String(dim)} is not a non-negative integer`);
    }
    count *= dim;
    if (!Number.isSafeInteger(count)) throw new TandemError('payload_too_large', 'tensor has too many elements');
  }
  return count;
}

/** True when `data` is the array type `dtype` is held in. */
export function dataMatchesDtype(dtype: TensorDtype, data: unknown): boolean {
  if (dtype === 'string') return Array.isArray(data) && data.every((v) => typeof v === 'string');
  return data instanceof TYPED_ARRAY[dtype];
}

/**
 * Builds a tensor after checking the data's type and length agree with dtype and dims.
 * @example
 * const x = tensor('float32', [1, 256], new Float32Array(256));
 */
export function tensor<D extends TensorDtype>(dtype: D, dims: readonly number[], data: TensorDataByDtype[D]): Tensor<D> {
  if (!isTensorDtype(dtype)) throw new TandemError('tensor_invalid', `unknown dtype ${String(dtype)}`);
  if (!dataMatchesDtype(dtype, data)) {
    throw new TandemError('tensor_invalid', `data is not the array type for dtype ${dtype}`);
  }
  const expected = elementCount(dims);
  if (data.length !== expected) {
    throw new TandemError('tensor_invalid', `data has ${data.length} elements, dims [${dims.join(',')}] need ${expected}`);
  }
  return { dtype, dims: [...dims], data };
}

/** The bytes of a numeric tensor's data, as a view (no copy), in the platform's little-endian order. */
export function tensorBytes(data: NumericTensorData): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** Buffers to list as transferables when posting tensors between threads. */
export function transferablesOf(tensors: Iterable<Tensor>): ArrayBuffer[] {
  const buffers = new Set<ArrayBuffer>();
  for (const t of tensors) {
    if (!Array.isArray(t.data) && t.data.buffer instanceof ArrayBuffer) buffers.add(t.data.buffer);
  }
  return [...buffers];
}
