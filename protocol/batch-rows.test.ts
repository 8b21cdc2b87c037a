import { describe, expect, it } from 'vitest';
import type { Tensor } from './tensor.ts';
import { concatRows, splitRows } from './batch-rows.ts';

const rowsOf = (rows: number, start: number): Tensor => ({
  dtype: 'float32',
  dims: [rows, 3],
  data: Float32Array.from({ length: rows * 3 }, (_, i) => start + i),
});

describe('concatRows / splitRows', () => {
  it('concatenates along the leading dimension and splits back to the same tensors', () => {
    const parts = [rowsOf(1, 0), rowsOf(3, 100), rowsOf(2, 200)];
    const whole = concatRows(parts);
    expect(whole.dims).toEqual([6, 3]);
    expect(Array.from(whole.data as Float32Array).slice(0, 6)).toEqual([0, 1, 2, 100, 101, 102]);
    expect(splitRows(whole, [1, 3, 2])).toEqual(parts);
  });

  it("gives each caller a view into the batch's output, not a copy", () => {
    const whole = rowsOf(3, 0);
    const [first, rest] = splitRows(whole, [1, 2]);
    expect((first!.data as Float32Array).buffer).toBe((whole.data as Float32Array).buffer);
    expect(Array.from(rest!.data as Float32Array)).toEqual([3, 4, 5, 6, 7, 8]);
  });

  it('handles int64 and string tensors', () => {
    const a: Tensor = { dtype: 'int64', dims: [1, 2], data: new BigInt64Array([1n, 2n]) };
    const b: Tensor = { dtype: 'int64', dims: [1, 2], data: new BigInt64Array([3n, 4n]) };
    expect(Array.from(concatRows([a, b]).data as BigInt64Array)).toEqual([1n, 2n, 3n, 4n]);
    const s: Tensor = { dtype: 'string', dims: [2], data: ['x', 'y'] };
    const t: Tensor = { dtype: 'string', dims: [1], data: ['z'] };
    expect(splitRows(concatRows([s, t]), [2, 1])).toEqual([s, t]);
  });

  it('refuses to mix trailing shapes, and detects an output whose rows do not match the batch', () => {
    expect(() => concatRows([rowsOf(1, 0), { dtype: 'float32', dims: [1, 4], data: new Float32Array(4) }])).toThrowError(/trailing dims/);
    expect(() => splitRows(rowsOf(3, 0), [1, 1])).toThrowError(expect.objectContaining({ code: 'inference_failed' }));
  });
});
