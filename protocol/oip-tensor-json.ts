/**
 * Tensor data in the OIP JSON form: the `data` array of a request input or response output.
 *
 * Encoding writes the data flat, in row-major order. Decoding accepts it flat or nested, as the OIP allows
 * ("[[1, 2], [4, 5]]" or "[1, 2, 4, 5]" for a [2, 2] tensor), and checks it against the shape. Values must
 * fit their datatype exactly; nothing is clamped, wrapped or silently rounded to infinity:
 *
 * - BOOL is `true`/`false`; integers are JSON numbers within the datatype's range.
 * - INT64/UINT64 must be safe integers (|v| <= 2^53 - 1). JSON numbers are doubles, so larger ones may
 *   already have lost digits; such tensors must travel as binary data.
 * - FP16/FP32/FP64 are JSON numbers, rounded to the nearest value of the datatype. JSON has no NaN or
 *   Infinity, so a tensor holding them cannot be encoded (send it as binary data), and a number that rounds
 *   to infinity in its datatype (70000 as FP16, 1e39 as FP32) is refused on decode. Negative zero is
 *   written as `-0` and survives a round trip.
 * - BYTES is JSON strings (Tandem's BYTES tensors hold text).
 *
 * Errors are `tensor_invalid` with messages that omit the tensor's name; the message codec adds it.
 */
import { TandemError } from './errors.ts';
import { float16BitsToNumber, numberToFloat16Bits } from './oip-float16.ts';
import { isWellFormedText } from './oip-utf8.ts';
import type { Tensor, TensorData, TensorDtype } from './tensor.ts';

const INTEGER_RANGE = {
  uint8: [0, 0xff, Uint8Array],
  int8: [-0x80, 0x7f, Int8Array],
  uint16: [0, 0xffff, Uint16Array],
  int16: [-0x8000, 0x7fff, Int16Array],
  uint32: [0, 0xffffffff, Uint32Array],
  int32: [-0x80000000, 0x7fffffff, Int32Array],
} as const;

type Put = (value: unknown, index: number) => void;

/**
 * Reads a JSON `data` value (flat or nested) into tensor data of `dtype` with `count` elements.
 * `shape` must already be checked (non-negative integers whose product is `count`).
 */
export function decodeJsonTensorData(dtype: TensorDtype, shape: readonly number[], count: number, data: unknown): TensorData {
  if (!Array.isArray(data)) throw invalid(`data must be a JSON array, got ${describeJsonValue(data)}`);
  const nested = nestedDims(data, shape);
  const expected = nestedShapeFor(shape, nested.length);
  if (expected === undefined || nested.some((n, i) => n !== expected[i])) {
    throw invalid(
      `data nested as [${nested.join(',')}] does not match shape [${shape.join(',')}]; ` + `send it flat (${count} values) or nested like the shape`,
    );
  }
  const { out, put } = writerFor(dtype, count);
  if (nested.length === 1) {
    for (let i = 0; i < count; i++) put(data[i], i);
  } else {
    flattenInto(data, nested, put);
  }
  return out;
}

/**
 * The dims of a nested array, read down its first elements; stops one level past the shape's rank, since
 * deeper nesting is wrong however deep it goes (and reading it all would cost time on hostile input).
 */
function nestedDims(data: unknown[], shape: readonly number[]): number[] {
  const dims: number[] = [];
  let level: unknown = data;
  while (Array.isArray(level)) {
    dims.push(level.length);
    if (level.length === 0 || dims.length > shape.length) break;
    level = level[0];
  }
  return dims;
}

/**
 * The nesting a shape allows at depth `depth`: the leading dims as they are, the rest collapsed into the
 * innermost level. Depth 1 is the flat form; depth `shape.length` is fully nested.
 */
function nestedShapeFor(shape: readonly number[], depth: number): number[] | undefined {
  if (depth > Math.max(shape.length, 1)) return undefined;
  const lead = shape.slice(0, depth - 1);
  const innermost = shape.slice(depth - 1).reduce((a, b) => a * b, 1);
  return [...lead, innermost];
}

/** Walks a nested array of the given (already checked at index 0) dims without recursion. */
function flattenInto(data: unknown[], dims: readonly number[], put: Put): void {
  const depthMax = dims.length - 1;
  const arrays: unknown[][] = [data];
  const positions: number[] = [0];
  let depth = 0;
  let index = 0;
  for (;;) {
    const array = arrays[depth]!;
    const position = positions[depth]!;
    if (position === array.length) {
      if (depth === 0) return;
      depth--;
      positions[depth] = positions[depth]! + 1;
      continue;
    }
    const element = array[position];
    if (depth === depthMax) {
      put(element, index++);
      positions[depth] = position + 1;
      continue;
    }
    const want = dims[depth + 1]!;
    if (!Array.isArray(element) || element.length !== want) {
      throw invalid(`data is not rectangular: expected an array of ${want} at nesting level ${depth + 1}, got ${describeJsonValue(element)}`);
    }
    depth++;
    arrays[depth] = element;
    positions[depth] = 0;
  }
}

function writerFor(dtype: TensorDtype, count: number): { out: TensorData; put: Put } {
  switch (dtype) {
    case 'bool': {
      const out = new Uint8Array(count);
      return {
        out,
        put: (v, i) => {
          if (typeof v !== 'boolean') throw badElement(i, v, 'true or false');
          out[i] = v ? 1 : 0;
        },
      };
    }
    case 'uint8':
    case 'int8':
    case 'uint16':
    case 'int16':
    case 'uint32':
    case 'int32': {
      const [min, max, Ctor] = INTEGER_RANGE[dtype];
      const out = new Ctor(count);
      return {
        out,
        put: (v, i) => {
          if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
            throw badElement(i, v, `an integer in [${min}, ${max}]`);
          }
          out[i] = v;
        },
      };
    }
    case 'int64':
    case 'uint64': {
      const out = dtype === 'int64' ? new BigInt64Array(count) : new BigUint64Array(count);
      return {
        out,
        put: (v, i) => {
          if (typeof v !== 'number' || !Number.isInteger(v)) throw badElement(i, v, 'an integer');
          if (!Number.isSafeInteger(v)) {
            throw invalid(
              `element ${i} (${v}) is outside ±(2^53 - 1), where JSON numbers lose precision; send ${dtype} tensors with such values as binary data`,
            );
          }
          if (v < 0 && dtype === 'uint64') throw badElement(i, v, 'an integer >= 0');
          out[i] = BigInt(v);
        },
      };
    }
    case 'float16': {
      const out = new Uint16Array(count);
      return {
        out,
        put: (v, i) => {
          if (typeof v !== 'number') throw badElement(i, v, 'a number');
          const bits = numberToFloat16Bits(v);
          if ((bits & 0x7c00) === 0x7c00) throw invalid(`element ${i} (${v}) is out of FP16 range`);
          out[i] = bits;
        },
      };
    }
    case 'float32':
    case 'float64': {
      const out = dtype === 'float32' ? new Float32Array(count) : new Float64Array(count);
      return {
        out,
        put: (v, i) => {
          if (typeof v !== 'number') throw badElement(i, v, 'a number');
          out[i] = v;
          // JSON.parse turns 1e400 into Infinity, and Float32Array rounds 1e39 to it.
          if (!Number.isFinite(out[i]!)) throw invalid(`element ${i} (${v}) is out of ${dtype} range`);
        },
      };
    }
    case 'string': {
      const out = new Array<string>(count);
      return {
        out,
        put: (v, i) => {
          if (typeof v !== 'string') throw badElement(i, v, 'a string');
          if (!isWellFormedText(v)) throw invalid(`element ${i} holds a lone surrogate, which is not text`);
          out[i] = v;
        },
      };
    }
    default:
      throw invalid(`unknown dtype ${String(dtype satisfies never)}`);
  }
}

/**
 * The JSON text of a tensor's data as a flat array, e.g. `[1,-0,2.5]`.
 * @throws TandemError `tensor_invalid` for values JSON cannot carry exactly: NaN and infinities, 64-bit
 * integers beyond 2^53 - 1, strings with lone surrogates. The message suggests binary data.
 */
export function encodeJsonTensorData(tensor: Tensor): string {
  const { dtype, data } = tensor;
  switch (dtype) {
    case 'bool': {
      const parts = new Array<string>(data.length);
      for (let i = 0; i < data.length; i++) parts[i] = data[i] ? 'true' : 'false';
      return `[${parts.join(',')}]`;
    }
    case 'uint8':
    case 'int8':
    case 'uint16':
    case 'int16':
    case 'uint32':
    case 'int32':
      return `[${(data as Exclude<TensorData, string[]>).join(',')}]`;
    case 'int64':
    case 'uint64': {
      const values = data as BigInt64Array | BigUint64Array;
      const limit = BigInt(Number.MAX_SAFE_INTEGER);
      for (let i = 0; i < values.length; i++) {
        const v = values[i]!;
        if (v > limit || v < -limit) {
          throw invalid(`element ${i} (${v}) is outside ±(2^53 - 1), which JSON numbers cannot hold exactly; send this tensor as binary data`);
        }
      }
      return `[${values.join(',')}]`;
    }
    case 'float16': {
      const bits = data as Uint16Array;
      const parts = new Array<string>(bits.length);
      for (let i = 0; i < bits.length; i++) parts[i] = numberText(float16BitsToNumber(bits[i]!), i);
      return `[${parts.join(',')}]`;
    }
    case 'float32':
    case 'float64': {
      const values = data as Float32Array | Float64Array;
      const parts = new Array<string>(values.length);
      for (let i = 0; i < values.length; i++) parts[i] = numberText(values[i]!, i);
      return `[${parts.join(',')}]`;
    }
    case 'string': {
      const strings = data as string[];
      const parts = new Array<string>(strings.length);
      for (let i = 0; i < strings.length; i++) {
        const s = strings[i]!;
        if (!isWellFormedText(s)) throw invalid(`element ${i} holds a lone surrogate, which UTF-8 cannot encode`);
        parts[i] = JSON.stringify(s);
      }
      return `[${parts.join(',')}]`;
    }
    default:
      throw invalid(`unknown dtype ${String(dtype satisfies never)}`);
  }
}

/** A finite number as JSON; `String(-0)` is "0", so negative zero is written by hand. */
function numberText(v: number, index: number): string {
  if (!Number.isFinite(v)) {
    throw invalid(`element ${index} is ${v}, which JSON cannot carry; send this tensor as binary data`);
  }
  return Object.is(v, -0) ? '-0' : String(v);
}

function invalid(message: string): TandemError {
  return new TandemError('tensor_invalid', message);
}

function badElement(index: number, value: unknown, expected: string): TandemError {
  return invalid(`element ${index} is ${describeJsonValue(value)}, expected ${expected}`);
}

/** A short description of a JSON value for error messages (never the whole of a large value). */
export function describeJsonValue(value: unknown): string {
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (value === null) return 'null';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'string') return JSON.stringify(value.length > 32 ? `${value.slice(0, 32)}...` : value);
  return String(value);
}
