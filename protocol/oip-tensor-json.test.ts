import { describe, expect, it } from 'vitest';
import { codeOf } from './test-support/error-code.ts';
import { decodeJsonTensorData, encodeJsonTensorData } from './oip-tensor-json.ts';
import type { Tensor, TensorDtype } from './tensor.ts';

const decode = (dtype: TensorDtype, shape: number[], data: unknown) =>
  decodeJsonTensorData(
    dtype,
    shape,
    shape.reduce((a, b) => a * b, 1),
    data,
  );

describe('JSON tensor data: nesting', () => {
  it.each([
    ['flat', [2, 3], [1, 2, 3, 4, 5, 6]],
    [
      'nested like the shape',
      [2, 3],
      [
        [1, 2, 3],
        [4, 5, 6],
      ],
    ],
    [
      'partly nested (inner dims collapsed)',
      [2, 1, 3],
      [
        [1, 2, 3],
        [4, 5, 6],
      ],
    ],
    ['fully nested rank 3', [2, 1, 3], [[[1, 2, 3]], [[4, 5, 6]]]],
  ])('accepts %s', (_how, shape, data) => {
    expect([...(decode('int32', shape, data) as Int32Array)]).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it.each([
    ['a scalar', [], [7], [7]],
    ['zero-size flat', [0, 3], [], []],
    ['zero-size nested', [2, 0], [[], []], []],
    ['zero-size inner', [2, 0, 5], [[], []], []],
  ])('accepts %s', (_how, shape, data, values) => {
    expect([...(decode('int32', shape, data) as Int32Array)]).toEqual(values);
  });

  it.each([
    ['too few values', [2, 2], [1, 2, 3]],
    ['too many values', [2, 2], [1, 2, 3, 4, 5]],
    ['ragged rows', [2, 2], [[1, 2], [3]]],
    ['a row that is a value', [2, 2], [[1, 2], 3]],
    ['a value that is a row', [4], [1, [2], 3, 4]],
    ['nesting deeper than the shape', [2], [[1], [2]]],
    [
      'nesting that does not follow the shape',
      [2, 3],
      [
        [1, 2],
        [3, 4],
        [5, 6],
      ],
    ],
    ['a scalar not in an array', [], 7],
    ['an object', [1], { 0: 1 }],
    ['null', [1], null],
    ['a non-empty array for a zero-size tensor', [0], [1]],
  ])('rejects %s', (_how, shape, data) => {
    expect(codeOf(() => decode('int32', shape, data))).toBe('tensor_invalid');
  });

  it('walks deeply nested data without recursion', () => {
    const depth = 20_000;
    let data: unknown = [1];
    for (let i = 1; i < depth; i++) data = [data];
    const decoded = decode('float64', new Array<number>(depth).fill(1), data);
    expect([...(decoded as Float64Array)]).toEqual([1]);
    expect(codeOf(() => decode('float64', [1], data))).toBe('tensor_invalid');
  });
});

describe('JSON tensor data: values', () => {
  it.each<[TensorDtype, unknown[], ArrayLike<unknown>]>([
    ['bool', [true, false], [1, 0]],
    ['uint8', [0, 255], [0, 255]],
    ['int8', [-128, 127], [-128, 127]],
    ['uint16', [0, 65535], [0, 65535]],
    ['int16', [-32768, 32767], [-32768, 32767]],
    ['uint32', [0, 4294967295], [0, 4294967295]],
    ['int32', [-2147483648, 2147483647], [-2147483648, 2147483647]],
    ['int64', [-9007199254740991, 9007199254740991], [-9007199254740991n, 9007199254740991n]],
    ['uint64', [0, 9007199254740991], [0n, 9007199254740991n]],
    ['float16', [1, -2, 65504, 2 ** -24, -0], [0x3c00, 0xc000, 0x7bff, 0x0001, 0x8000]],
    ['float32', [0.1, -0, 3.4028234663852886e38], [Math.fround(0.1), -0, 3.4028234663852886e38]],
    ['float64', [0.1, -0, 1.7976931348623157e308], [0.1, -0, 1.7976931348623157e308]],
    ['string', ['', 'héllo', '\u{1F600}', '\uFEFFbom'], ['', 'héllo', '\u{1F600}', '\uFEFFbom']],
  ])('decodes %s at its limits', (dtype, json, expected) => {
    expect([...decode(dtype, [json.length], json)]).toEqual(Array.from(expected));
  });

  it.each<[TensorDtype, unknown]>([
    ['bool', 1],
    ['bool', 'true'],
    ['uint8', 256],
    ['uint8', -1],
    ['int8', 1.5],
    ['int32', 2147483648],
    ['uint32', '1'],
    ['int64', 2 ** 53],
    ['int64', -(2 ** 53)],
    ['int64', 1.5],
    ['uint64', -1],
    ['uint64', 1e300],
    ['float16', 70000],
    ['float16', '1'],
    ['float32', 1e39],
    ['float32', '0.5'],
    ['float32', null],
    ['float32', true],
    ['float32', [1]],
    ['float64', Infinity],
    ['float64', NaN],
    ['string', 1],
    ['string', null],
    ['string', '\uD800'],
  ])('rejects %s element %j', (dtype, value) => {
    expect(codeOf(() => decode(dtype, [1], [value]))).toBe('tensor_invalid');
  });

  it('says to use binary data for 64-bit integers beyond 2^53 - 1', () => {
    expect(() => decode('int64', [1], [2 ** 60])).toThrowError(/binary/);
  });
});

describe('JSON tensor data: encoding', () => {
  const t = <D extends TensorDtype>(dtype: D, data: Tensor<D>['data']): Tensor => ({ dtype, dims: [data.length], data });

  it.each<[string, Tensor, string]>([
    ['bool', t('bool', new Uint8Array([1, 0, 2])), '[true,false,true]'],
    ['int8', t('int8', new Int8Array([-128, 5])), '[-128,5]'],
    ['uint64', t('uint64', new BigUint64Array([9007199254740991n])), '[9007199254740991]'],
    ['int64', t('int64', new BigInt64Array([-3n])), '[-3]'],
    ['float16', t('float16', new Uint16Array([0x3c00, 0x8000, 0x0001])), '[1,-0,5.960464477539063e-8]'],
    ['float32', t('float32', new Float32Array([0.5, -0, 0.1])), '[0.5,-0,0.10000000149011612]'],
    ['float64', t('float64', new Float64Array([])), '[]'],
    ['string', t('string', ['a"b', '\\', '\u{1F600}']), '["a\\"b","\\\\","\u{1F600}"]'],
  ])('writes %s', (_dtype, tensor, text) => {
    expect(encodeJsonTensorData(tensor)).toBe(text);
  });

  it.each<[string, Tensor]>([
    ['NaN FP32', t('float32', new Float32Array([1, NaN]))],
    ['Infinity FP64', t('float64', new Float64Array([-Infinity]))],
    ['infinite FP16', t('float16', new Uint16Array([0x7c00]))],
    ['NaN FP16', t('float16', new Uint16Array([0x7e01]))],
    ['INT64 2^53', t('int64', new BigInt64Array([2n ** 53n]))],
    ['INT64 -2^63', t('int64', new BigInt64Array([-(2n ** 63n)]))],
    ['UINT64 2^64 - 1', t('uint64', new BigUint64Array([2n ** 64n - 1n]))],
  ])('refuses %s, suggesting binary data', (_what, tensor) => {
    expect(codeOf(() => encodeJsonTensorData(tensor))).toBe('tensor_invalid');
    expect(() => encodeJsonTensorData(tensor)).toThrowError(/binary data/);
  });

  it('refuses strings with lone surrogates', () => {
    expect(codeOf(() => encodeJsonTensorData(t('string', ['ok', 'x\uDC00'])))).toBe('tensor_invalid');
  });
});
