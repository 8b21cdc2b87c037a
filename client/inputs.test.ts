import { Tensor as OrtTensor } from 'onnxruntime-common';
import { describe, expect, it } from 'vitest';
import { normalizeInputs } from './inputs.ts';

describe('normalizeInputs', () => {
  it("takes onnxruntime Tensors (instances and plain objects) as plain tensors, sharing nothing it doesn't need to", () => {
    const data = new Float32Array([1, 2, 3, 4]);
    expect(normalizeInputs({ x: new OrtTensor('float32', data, [2, 2]), s: new OrtTensor('string', ['a', 'b'], [2]) })).toEqual({
      x: { dtype: 'float32', dims: [2, 2], data },
      s: { dtype: 'string', dims: [2], data: ['a', 'b'] },
    });
    expect(normalizeInputs({ b: { type: 'bool', dims: [1], data: new Uint8Array([1]) } }).b).toMatchObject({ dtype: 'bool' });
  });

  it('reads float16 data held in another 2-byte array (a Float16Array in browsers that have one) as its raw bits', () => {
    const bits = new Int16Array([0x3c00, 0x4000]); // stands in for a Float16Array: same bytes, 2 per element
    const x = normalizeInputs({ x: { type: 'float16', dims: [2], data: bits } }).x!;
    expect(x.data).toBeInstanceOf(Uint16Array);
    expect([...(x.data as Uint16Array)]).toEqual([0x3c00, 0x4000]);
    expect((x.data as Uint16Array).buffer).toBe(bits.buffer);
  });

  it('refuses a tensor that is not on the CPU, a non-object, and disagreeing dims with tensor_invalid', () => {
    const onGpu = { type: 'float32', dims: [1], location: 'gpu-buffer', data: undefined };
    expect(() => normalizeInputs({ x: onGpu })).toThrow(
      expect.objectContaining({ code: 'tensor_invalid', message: expect.stringMatching(/gpu-buffer.*getData/) }),
    );
    expect(() => normalizeInputs({ x: 3 as never })).toThrow(expect.objectContaining({ code: 'tensor_invalid' }));
    expect(() => normalizeInputs({ x: { type: 'float32', dims: [3], data: new Float32Array(2) } })).toThrow(
      expect.objectContaining({ code: 'tensor_invalid' }),
    );
  });
});
