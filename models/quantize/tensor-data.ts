/**
 * Reading and writing the elements of ONNX tensors in foreign models. Exporters store float weights as
 * little-endian `raw_data` (PyTorch, TF2ONNX) or as `float_data` (older converters, Constant nodes); both are
 * read here. Tensors whose bytes live in an external file (`data_location` EXTERNAL) cannot be read from the
 * model's bytes alone: readers return `undefined` and callers leave such tensors as they are.
 */
import { littleEndianBytes } from '../onnx/graph-builder.ts';
import { DATA_TYPE, type Int64, type OnnxTensor } from '../onnx/onnx-proto.ts';

/** A tensor's dims as numbers. */
export function tensorDims(tensor: OnnxTensor): number[] {
  return (tensor.dims ?? []).map(Number);
}

/** The element count of a shape ([] is a scalar: 1). */
export function elementCount(dims: readonly (number | Int64)[]): number {
  return dims.reduce<number>((n, d) => n * Number(d), 1);
}

/** True when the tensor's data is in a file beside the model rather than in the model. */
export function isExternal(tensor: OnnxTensor): boolean {
  return tensor.data_location === 1 || (tensor.external_data?.length ?? 0) > 0;
}

/**
 * The elements of a float32 tensor, or `undefined` when it is not float32, is external, or its data does not
 * match its dims.
 */
export function readFloat32(tensor: OnnxTensor): Float32Array | undefined {
  if (tensor.data_type !== DATA_TYPE.FLOAT || isExternal(tensor)) return undefined;
  const count = elementCount(tensorDims(tensor));
  const raw = tensor.raw_data;
  if (raw && raw.length > 0) {
    if (raw.length !== count * 4) return undefined;
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const out = new Float32Array(count);
    for (let i = 0; i < count; i++) out[i] = view.getFloat32(i * 4, true);
    return out;
  }
  const floats = tensor.float_data ?? [];
  if (floats.length !== count) return undefined;
  return Float32Array.from(floats);
}

/** A float32 tensor stored as raw_data. */
export function float32Tensor(name: string, dims: readonly number[], data: Float32Array): OnnxTensor {
  return { name, dims: [...dims], data_type: DATA_TYPE.FLOAT, raw_data: copyBytes(littleEndianBytes(data)) };
}

/** An int8 tensor stored as raw_data. */
export function int8Tensor(name: string, dims: readonly number[], data: Int8Array): OnnxTensor {
  return { name, dims: [...dims], data_type: DATA_TYPE.INT8, raw_data: copyBytes(littleEndianBytes(data)) };
}

/** A float16 tensor (elements given as bits) stored as raw_data. */
export function float16Tensor(name: string, dims: readonly number[], bits: Uint16Array): OnnxTensor {
  const bytes = new Uint8Array(bits.length * 2);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < bits.length; i++) view.setUint16(i * 2, bits[i]!, true);
  return { name, dims: [...dims], data_type: DATA_TYPE.FLOAT16, raw_data: bytes };
}

function copyBytes(bytes: Uint8Array): Uint8Array {
  return bytes.slice();
}
