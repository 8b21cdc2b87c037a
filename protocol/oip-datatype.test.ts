import { describe, expect, it } from 'vitest';
import { TandemError } from './errors.ts';
import { DATATYPE_OF_DTYPE, DTYPE_OF_DATATYPE, OIP_DATATYPES, datatypeOfDtype, dtypeOfDatatype, isOipDatatype } from './oip-datatype.ts';
import { TENSOR_DTYPES, type TensorDtype } from './tensor.ts';

describe('OIP datatypes', () => {
  it('map one to one onto the ORT dtypes', () => {
    expect(new Set(OIP_DATATYPES.map(dtypeOfDatatype))).toEqual(new Set(TENSOR_DTYPES));
    for (const datatype of OIP_DATATYPES) expect(datatypeOfDtype(dtypeOfDatatype(datatype))).toBe(datatype);
    for (const dtype of TENSOR_DTYPES) expect(dtypeOfDatatype(datatypeOfDtype(dtype))).toBe(dtype);
    expect(Object.keys(DTYPE_OF_DATATYPE)).toHaveLength(13);
    expect(Object.keys(DATATYPE_OF_DTYPE)).toHaveLength(13);
  });

  it.each([
    ['FP32', 'float32'],
    ['FP16', 'float16'],
    ['BOOL', 'bool'],
    ['BYTES', 'string'],
    ['INT64', 'int64'],
    ['UINT64', 'uint64'],
  ])('%s is %s', (datatype, dtype) => {
    expect(dtypeOfDatatype(datatype)).toBe(dtype);
  });

  it.each(['BF16', 'fp32', 'FLOAT', '', '__proto__', 'constructor', 'toString', 42, null, undefined])('refuses %j with tensor_invalid', (datatype) => {
    expect(isOipDatatype(datatype)).toBe(false);
    expect(() => dtypeOfDatatype(datatype)).toThrowError(expect.objectContaining({ code: 'tensor_invalid' }));
  });

  it('refuses a dtype outside tensor.ts', () => {
    expect(() => datatypeOfDtype('bfloat16' as TensorDtype)).toThrowError(TandemError);
    expect(() => datatypeOfDtype('__proto__' as TensorDtype)).toThrowError(TandemError);
  });
});
