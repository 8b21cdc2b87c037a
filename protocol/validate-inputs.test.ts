import { describe, expect, it } from 'vitest';
import type { TensorSpec } from './manifest.ts';
import { validateInputs, type NamedTensor, type ValidatedVariant } from './validate-inputs.ts';

/** A variant taking `inputs` whose outputs lead with the same dimension as its first input, unless given. */
const variantOf = (inputs: TensorSpec[], over: Partial<ValidatedVariant> = {}): ValidatedVariant => ({
  inputs,
  outputs: [{ name: 'y', dtype: 'float32', shape: [inputs[0]!.shape[0]!, 2] }],
  quantization: { method: 'none' },
  ...over,
});
const specs = variantOf([{ name: 'x', dtype: 'float32', shape: ['batch', 4] }]);
const x = (rows: number, data?: number[]): NamedTensor => ({
  name: 'x',
  dtype: 'float32',
  dims: [rows, 4],
  data: data ? Float32Array.from(data) : new Float32Array(rows * 4),
});
const reject = { nonFinite: 'reject' } as const;

describe('validateInputs', () => {
  it('accepts a matching request and plans a batch by its leading dimension', () => {
    expect(validateInputs([x(3)], specs, reject)).toEqual({ rows: 3, key: 'x:float32:4' });
  });

  it.each([
    ['input_missing', [], /"x" is required/],
    ['input_unknown', [x(1), { ...x(1), name: 'y' }], /unknown input "y".*takes "x"/],
    ['input_dtype_mismatch', [{ name: 'x', dtype: 'float64', dims: [1, 4], data: new Float64Array(4) }], /is float64, the model takes float32/],
    ['input_shape_mismatch', [{ ...x(1), dims: [4] }], /rank 1, expected 2/],
    ['input_shape_mismatch', [{ ...x(2), dims: [2, 2, 2] }], /rank 3/],
    ['input_shape_mismatch', [{ name: 'x', dtype: 'float32', dims: [1, 5], data: new Float32Array(5) }], /dimension 1 must be 4/],
    ['input_not_finite', [x(1, [0, 1, Number.NaN, 3])], /element 2/],
    ['input_not_finite', [x(1, [Number.POSITIVE_INFINITY, 1, 2, 3])], /element 0/],
  ] as const)('rejects with %s', (code, inputs, message) => {
    expect(() => validateInputs(inputs as unknown as NamedTensor[], specs, reject)).toThrowError(
      expect.objectContaining({ code, message: expect.stringMatching(message) }),
    );
  });

  it('refuses a string element holding NUL, where onnxruntime would cut it, whatever the policy', () => {
    // Found at the origin: ["a\u0000b"] reached the model as "a" and the answer was a 200.
    const text = variantOf([{ name: 'text', dtype: 'string', shape: ['n'] }]);
    const strings = (data: string[]): NamedTensor[] => [{ name: 'text', dtype: 'string', dims: [data.length], data }];
    expect(validateInputs(strings(['ok', 'a\u0001b']), text, reject).rows).toBe(2);
    expect(() => validateInputs(strings(['ok', 'a\u0000b']), text, { nonFinite: 'allow' })).toThrowError(
      expect.objectContaining({ code: 'tensor_invalid', message: expect.stringMatching(/input "text": element 1 holds a NUL character/) }),
    );
  });

  it('allows non-finite values when the policy says so', () => {
    expect(validateInputs([x(1, [Number.NaN, 0, 0, 0])], specs, { nonFinite: 'allow' }).rows).toBe(1);
  });

  it('checks half floats by their bits', () => {
    const half = (bits: number[]): NamedTensor => ({ name: 'h', dtype: 'float16', dims: [1, bits.length], data: new Uint16Array(bits) });
    const halfSpecs = variantOf([{ name: 'h', dtype: 'float16', shape: ['batch', 2] }]);
    expect(validateInputs([half([0x3c00, 0x7bff])], halfSpecs, reject).rows).toBe(1);
    expect(() => validateInputs([half([0x3c00, 0x7c00])], halfSpecs, reject)).toThrowError(/element 1/);
    expect(() => validateInputs([half([0xfe00, 0])], halfSpecs, reject)).toThrowError(/element 0/);
  });

  it('binds a dynamic dimension across inputs', () => {
    const two = variantOf([
      { name: 'a', dtype: 'int64', shape: ['batch', 'seq'] },
      { name: 'b', dtype: 'int64', shape: ['batch', 'seq'] },
    ]);
    const t = (name: string, dims: number[]): NamedTensor => ({ name, dtype: 'int64', dims, data: new BigInt64Array(dims[0]! * dims[1]!) });
    expect(validateInputs([t('a', [2, 5]), t('b', [2, 5])], two, reject)).toEqual({ rows: 2, key: 'a:int64:5|b:int64:5' });
    expect(() => validateInputs([t('a', [2, 5]), t('b', [2, 6])], two, reject)).toThrowError(/"seq" is 5 in another input/);
  });

  it('does not batch models whose leading dimension is fixed, or requests of zero rows', () => {
    const fixed = variantOf([{ name: 'x', dtype: 'float32', shape: [1, 4] }]);
    expect(validateInputs([x(1)], fixed, reject)).toEqual({ rows: 1, key: null });
    expect(validateInputs([x(0)], specs, reject).key).toBeNull();
  });

  it("does not batch a variant whose outputs do not lead with the inputs' dimension (row-batching.ts)", () => {
    const outputs = (...shape: (number | string)[]) => [{ name: 'y', dtype: 'float32' as const, shape }];
    // A sum over everything: a scalar has no rows to split.
    expect(validateInputs([x(3)], { ...specs, outputs: outputs() }, reject)).toEqual({ rows: 3, key: null });
    expect(validateInputs([x(3)], { ...specs, outputs: outputs(1, 4) }, reject).key).toBeNull();
    expect(validateInputs([x(3)], { ...specs, outputs: outputs('n', 4) }, reject).key).toBeNull();
    expect(
      validateInputs(
        [x(3)],
        { ...specs, quantization: { method: 'dynamic-int8', weightDtype: 'int8', activationDtype: 'uint8', granularity: 'per-channel' } },
        reject,
      ).key,
    ).toBeNull();
  });

  it("honours the manifest's batching: none never batches, rows batches outputs led by another dynamic name", () => {
    expect(validateInputs([x(3)], { ...specs, batching: 'none' }, reject)).toEqual({ rows: 3, key: null });
    const renamed = { ...specs, outputs: [{ name: 'y', dtype: 'float32' as const, shape: ['y_dim0', 2] }] };
    expect(validateInputs([x(3)], { ...renamed, batching: 'rows' }, reject)).toEqual({ rows: 3, key: 'x:float32:4' });
  });
});
