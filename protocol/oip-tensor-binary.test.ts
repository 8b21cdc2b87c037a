import { describe, expect, it } from 'vitest';
import { codeOf } from './test-support/error-code.ts';
import { decodeBinaryTensorData, encodeBinaryTensorData } from './oip-tensor-binary.ts';

/** BYTES wire form: each element as a little-endian uint32 length, then its bytes. */
function bytesElements(...elements: number[][]): Uint8Array {
  return Uint8Array.from(elements.flatMap((e) => [e.length & 0xff, (e.length >> 8) & 0xff, (e.length >> 16) & 0xff, e.length >>> 24, ...e]));
}

describe('binary tensor data: numeric', () => {
  it('reads little-endian values', () => {
    const bytes = Uint8Array.from([0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0]); // 1.0f, -2.0f
    expect([...(decodeBinaryTensorData('float32', 2, bytes) as Float32Array)]).toEqual([1, -2]);
    expect([...(decodeBinaryTensorData('int16', 4, bytes) as Int16Array)]).toEqual([0, 0x3f80, 0, -16384]);
    const int64 = Uint8Array.from([0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
    expect([...(decodeBinaryTensorData('int64', 1, int64) as BigInt64Array)]).toEqual([-2n]);
  });

  it('views aligned data in place and copies unaligned data', () => {
    const body = new Uint8Array(13);
    new DataView(body.buffer).setFloat32(4, 1.5, true);
    new DataView(body.buffer).setFloat32(9, 2.5, true);
    const aligned = decodeBinaryTensorData('float32', 1, body.subarray(4, 8)) as Float32Array;
    expect(aligned.buffer).toBe(body.buffer);
    expect(aligned.byteOffset).toBe(4);
    expect([...aligned]).toEqual([1.5]);
    const unaligned = decodeBinaryTensorData('float32', 1, body.subarray(9, 13)) as Float32Array;
    expect(unaligned.buffer).not.toBe(body.buffer);
    expect(unaligned.byteOffset).toBe(0);
    expect([...unaligned]).toEqual([2.5]);
  });

  it('encodes numeric data as a view of the tensor memory', () => {
    const data = new Float64Array([1, 2, 3]).subarray(1);
    const bytes = encodeBinaryTensorData({ dtype: 'float64', dims: [2], data });
    expect(bytes.buffer).toBe(data.buffer);
    expect(bytes.byteOffset).toBe(8);
    expect(bytes.byteLength).toBe(16);
  });

  it('keeps NaN payloads, infinities and negative zero bit for bit', () => {
    const half = Uint16Array.from([0x7c00, 0xfc00, 0x7e01, 0x8000]);
    const bytes = encodeBinaryTensorData({ dtype: 'float16', dims: [4], data: half });
    expect([...(decodeBinaryTensorData('float16', 4, bytes.slice()) as Uint16Array)]).toEqual([...half]);
  });

  it('normalises BOOL bytes on encode and accepts only 0 and 1 on decode', () => {
    const bytes = encodeBinaryTensorData({ dtype: 'bool', dims: [3], data: Uint8Array.from([0, 1, 7]) });
    expect([...bytes]).toEqual([0, 1, 1]);
    expect(codeOf(() => decodeBinaryTensorData('bool', 3, Uint8Array.from([0, 1, 2])))).toBe('tensor_invalid');
  });

  it.each([
    ['float32', 2, 7],
    ['float32', 2, 9],
    ['int64', 1, 4],
    ['uint8', 0, 1],
  ] as const)('rejects %s x%i in %i bytes', (dtype, count, size) => {
    expect(codeOf(() => decodeBinaryTensorData(dtype, count, new Uint8Array(size)))).toBe('tensor_invalid');
  });
});

describe('binary tensor data: BYTES', () => {
  it('writes each element as a 4-byte little-endian length and its UTF-8', () => {
    const bytes = encodeBinaryTensorData({ dtype: 'string', dims: [3], data: ['ab', '', 'é'] });
    expect([...bytes]).toEqual([...bytesElements([0x61, 0x62], [], [0xc3, 0xa9])]);
  });

  it('reads elements back, keeping a leading byte-order mark', () => {
    const wire = bytesElements([0xef, 0xbb, 0xbf, 0x78], [0xf0, 0x9f, 0x98, 0x80], []);
    expect(decodeBinaryTensorData('string', 3, wire)).toEqual(['\uFEFFx', '\u{1F600}', '']);
  });

  it.each([
    ['a truncated length', 1, Uint8Array.from([2, 0, 0])],
    ['a truncated element', 1, Uint8Array.from([5, 0, 0, 0, 0x61, 0x62])],
    ['a length past the end (2^32 - 1)', 1, Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0x61])],
    ['too few elements', 2, bytesElements([0x61])],
    ['bytes after the last element', 1, Uint8Array.from([...bytesElements([0x61]), 0])],
    ['invalid UTF-8', 1, bytesElements([0xc3, 0x28])],
    ['an encoded surrogate', 1, bytesElements([0xed, 0xa0, 0x80])],
    ['an overlong encoding', 1, bytesElements([0xc0, 0xaf])],
    ['more elements than 4-byte lengths could fit', 1_000_000_000, new Uint8Array(8)],
  ])('rejects %s', (_why, count, bytes) => {
    expect(codeOf(() => decodeBinaryTensorData('string', count, bytes))).toBe('tensor_invalid');
  });

  it('refuses to encode a lone surrogate rather than replace it', () => {
    expect(codeOf(() => encodeBinaryTensorData({ dtype: 'string', dims: [1], data: ['\uD83D'] }))).toBe('tensor_invalid');
  });
});
