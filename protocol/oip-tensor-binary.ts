/**
 * Tensor data in the binary tensor data extension's form: the raw bytes that follow the JSON header.
 *
 * Per the extension: little-endian, row-major, no padding; BOOL one byte (0 or 1) per element; BYTES each
 * element as a 4-byte little-endian length followed by that many bytes. FP16 travels as its raw bits, so
 * NaN and infinities pass unchanged (which is why non-finite tensors must use this form).
 *
 * Decoding numeric data returns a view into the body when its offset is aligned for the element type
 * (no copy; the tensor then shares, and keeps alive, the body's buffer) and an aligned copy otherwise.
 * Tandem's BYTES tensors hold text: each element must be valid UTF-8 (see `oip-utf8.ts`).
 */
import { TandemError } from './errors.ts';
import { decodeUtf8, encodeUtf8 } from './oip-utf8.ts';
import { bytesPerElement, tensorBytes, typedArrayFor, type NumericTensorData, type Tensor, type TensorData, type TensorDtype } from './tensor.ts';

/** Typed arrays are in platform order; every platform Tandem runs on (x86-64, ARM, WASM) is little-endian. */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function requireLittleEndian(): void {
  if (!LITTLE_ENDIAN) throw new TandemError('device_unsupported', 'binary tensor data needs a little-endian platform');
}

/**
 * The wire bytes of a tensor's data. For numeric tensors this is a view of the tensor's own memory (no
 * copy), except BOOL data holding bytes other than 0 and 1, which is normalised into a copy.
 * @throws TandemError `tensor_invalid` for a BYTES element with a lone surrogate.
 */
export function encodeBinaryTensorData(tensor: Tensor): Uint8Array {
  const { dtype, data } = tensor;
  if (dtype === 'string') return encodeStrings(data as string[]);
  requireLittleEndian();
  const bytes = tensorBytes(data as NumericTensorData);
  if (dtype === 'bool' && bytes.some((b) => b > 1)) return bytes.map((b) => (b === 0 ? 0 : 1));
  return bytes;
}

function encodeStrings(strings: readonly string[]): Uint8Array {
  const encoded = strings.map((s, i) => encodeUtf8(s, 'tensor_invalid', `element ${i}`));
  const total = encoded.reduce((sum, e) => sum + 4 + e.length, 0);
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  let position = 0;
  for (const element of encoded) {
    view.setUint32(position, element.length, true);
    out.set(element, position + 4);
    position += 4 + element.length;
  }
  return out;
}

/** The byte length of a numeric tensor's binary data, or undefined for BYTES, whose size varies. */
export function binaryByteLength(dtype: TensorDtype, count: number): number | undefined {
  const size = bytesPerElement(dtype);
  return size === undefined ? undefined : size * count;
}

/**
 * Reads `count` elements of `dtype` from exactly `bytes`.
 * @throws TandemError `tensor_invalid` if the bytes are not exactly `count` well-formed elements.
 */
export function decodeBinaryTensorData(dtype: TensorDtype, count: number, bytes: Uint8Array): TensorData {
  if (dtype === 'string') return decodeStrings(count, bytes);
  requireLittleEndian();
  const Ctor = typedArrayFor(dtype);
  const size = Ctor.BYTES_PER_ELEMENT;
  if (bytes.byteLength !== count * size) {
    throw new TandemError('tensor_invalid', `binary data is ${bytes.byteLength} bytes, but ${count} elements of ${dtype} take ${count * size}`);
  }
  let data: NumericTensorData;
  if (bytes.byteOffset % size === 0) {
    data = new Ctor(bytes.buffer as ArrayBuffer, bytes.byteOffset, count); // (a SharedArrayBuffer works too)
  } else {
    // A typed array cannot start at an unaligned offset; copy into a fresh (aligned) buffer.
    data = new Ctor(count);
    new Uint8Array(data.buffer).set(bytes);
  }
  if (dtype === 'bool') {
    const at = (data as Uint8Array).findIndex((b) => b > 1);
    if (at >= 0) throw new TandemError('tensor_invalid', `BOOL element ${at} is byte ${data[at]}, expected 0 or 1`);
  }
  return data;
}

function decodeStrings(count: number, bytes: Uint8Array): string[] {
  // Every element takes at least its 4-byte length: check before allocating `count` slots.
  if (count > bytes.byteLength / 4) {
    throw new TandemError('tensor_invalid', `binary data is ${bytes.byteLength} bytes, too few for ${count} BYTES elements`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Array<string>(count);
  let position = 0;
  for (let i = 0; i < count; i++) {
    if (bytes.byteLength - position < 4) {
      throw new TandemError('tensor_invalid', `BYTES element ${i} is truncated: no room for its 4-byte length`);
    }
    const length = view.getUint32(position, true);
    position += 4;
    if (length > bytes.byteLength - position) {
      throw new TandemError('tensor_invalid', `BYTES element ${i} is truncated: its length is ${length} but ${bytes.byteLength - position} bytes remain`);
    }
    out[i] = decodeUtf8(bytes.subarray(position, position + length), 'tensor_invalid', `BYTES element ${i}`, true);
    position += length;
  }
  if (position !== bytes.byteLength) {
    throw new TandemError('tensor_invalid', `${bytes.byteLength - position} bytes follow the last of ${count} BYTES elements`);
  }
  return out;
}
