/**
 * Open Inference Protocol datatypes (`FP32`, `BYTES`, ...) and the ONNX Runtime dtypes they map to.
 *
 * The OIP names appear only on the wire; everything in memory uses the ORT names of `tensor.ts`. The mapping
 * is one to one over the 13 datatypes both sides know. OIP's `BF16` has no ORT tensor type in
 * onnxruntime-web, so it is refused as unknown rather than widened behind the caller's back.
 */
import { TandemError } from './errors.ts';
import type { TensorDtype } from './tensor.ts';

export const OIP_DATATYPES = ['BOOL', 'UINT8', 'UINT16', 'UINT32', 'UINT64', 'INT8', 'INT16', 'INT32', 'INT64', 'FP16', 'FP32', 'FP64', 'BYTES'] as const;

export type OipDatatype = (typeof OIP_DATATYPES)[number];

/** OIP datatype -> ORT dtype. `BYTES` holds UTF-8 text here, so it is ORT's `string`. */
export const DTYPE_OF_DATATYPE = {
  BOOL: 'bool',
  UINT8: 'uint8',
  UINT16: 'uint16',
  UINT32: 'uint32',
  UINT64: 'uint64',
  INT8: 'int8',
  INT16: 'int16',
  INT32: 'int32',
  INT64: 'int64',
  FP16: 'float16',
  FP32: 'float32',
  FP64: 'float64',
  BYTES: 'string',
} as const satisfies Record<OipDatatype, TensorDtype>;

/** ORT dtype -> OIP datatype; the inverse of `DTYPE_OF_DATATYPE`. */
export const DATATYPE_OF_DTYPE = {
  bool: 'BOOL',
  uint8: 'UINT8',
  uint16: 'UINT16',
  uint32: 'UINT32',
  uint64: 'UINT64',
  int8: 'INT8',
  int16: 'INT16',
  int32: 'INT32',
  int64: 'INT64',
  float16: 'FP16',
  float32: 'FP32',
  float64: 'FP64',
  string: 'BYTES',
} as const satisfies Record<TensorDtype, OipDatatype>;

export function isOipDatatype(value: unknown): value is OipDatatype {
  // Object.hasOwn, not `in`: "constructor" or "__proto__" must not count as datatypes.
  return typeof value === 'string' && Object.hasOwn(DTYPE_OF_DATATYPE, value);
}

/**
 * The ORT dtype for a wire datatype.
 * @throws TandemError `tensor_invalid` for a datatype this codec does not know (including `BF16`).
 * @example
 * dtypeOfDatatype('FP32'); // 'float32'
 */
export function dtypeOfDatatype(datatype: unknown): TensorDtype {
  if (!isOipDatatype(datatype)) {
    const shown = typeof datatype === 'string' ? JSON.stringify(datatype) : typeof datatype;
    throw new TandemError('tensor_invalid', `unknown datatype ${shown}; expected one of ${OIP_DATATYPES.join(', ')}`);
  }
  return DTYPE_OF_DATATYPE[datatype];
}

/**
 * The wire datatype for an ORT dtype.
 * @throws TandemError `tensor_invalid` for a dtype outside `TENSOR_DTYPES`.
 * @example
 * datatypeOfDtype('string'); // 'BYTES'
 */
export function datatypeOfDtype(dtype: TensorDtype): OipDatatype {
  if (typeof dtype !== 'string' || !Object.hasOwn(DATATYPE_OF_DTYPE, dtype)) {
    throw new TandemError('tensor_invalid', `unknown dtype ${typeof dtype === 'string' ? JSON.stringify(dtype) : typeof dtype}`);
  }
  return DATATYPE_OF_DTYPE[dtype];
}
