import { describe, expect, it } from 'vitest';
import type { TensorSpec } from './manifest.ts';
import { rowBatchingRefusal, type BatchingSignature } from './row-batching.ts';

const spec = (name: string, ...shape: (number | string)[]): TensorSpec => ({ name, dtype: 'float32', shape });
const signature = (over: Partial<BatchingSignature> = {}): BatchingSignature => ({
  inputs: [spec('x', 'batch', 3)],
  outputs: [spec('y', 'batch', 2)],
  quantization: 'none',
  ...over,
});

describe('rowBatchingRefusal', () => {
  it('merges a variant whose every input and output leads with the same named dimension', () => {
    expect(rowBatchingRefusal(signature())).toBeUndefined();
    expect(
      rowBatchingRefusal(signature({ inputs: [spec('a', 'n', 3), spec('b', 'n')], outputs: [spec('y', 'n'), spec('z', 'n', 4, 4)], quantization: 'fp16' })),
    ).toBeUndefined();
  });

  it.each([
    ['a scalar output (a sum over everything)', { outputs: [spec('total')] }, /output total's first dimension is absent \(a scalar\)/],
    ['a fixed leading input dimension, even 1', { inputs: [spec('x', 1, 3)] }, /input x's first dimension is fixed \(1\)/],
    ['a fixed leading output dimension', { outputs: [spec('y', 'batch', 2), spec('count', 1)] }, /output count's first dimension is fixed/],
    ['a scalar input', { inputs: [spec('x', 'batch', 3), spec('t')] }, /input t's first dimension is absent/],
    ['inputs leading with different dimensions', { inputs: [spec('x', 'batch', 3), spec('mask', 'seq')] }, /input mask leads with "seq", input x with "batch"/],
    ['an output leading with another dimension', { outputs: [spec('y', 'n', 2)] }, /output y leads with "n"/],
    ['batching: none', { batching: 'none' as const }, /batching: none/],
    ['dynamic int8', { quantization: 'dynamic-int8' as const }, /dynamic int8/],
  ])('refuses %s', (_, over, reason) => {
    expect(rowBatchingRefusal(signature(over))).toMatch(reason);
  });

  it('takes batching: rows as proof for outputs led by other dynamic names, never for what cannot be split or for inputs', () => {
    const rows = { batching: 'rows' as const };
    expect(rowBatchingRefusal(signature({ ...rows, outputs: [spec('y', 'y_dim0', 2)] }))).toBeUndefined();
    expect(rowBatchingRefusal(signature({ ...rows, outputs: [spec('total')] }))).toMatch(/scalar/);
    expect(rowBatchingRefusal(signature({ ...rows, outputs: [spec('y', 2, 2)] }))).toMatch(/fixed/);
    expect(rowBatchingRefusal(signature({ ...rows, inputs: [spec('x', 'batch'), spec('m', 'seq')] }))).toMatch(/input m leads with "seq"/);
    expect(rowBatchingRefusal(signature({ ...rows, quantization: 'dynamic-int8' }))).toMatch(/dynamic int8/);
  });
});
