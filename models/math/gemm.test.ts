import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { gramRows, matmulNT, transpose } from './gemm.ts';

function naiveNT(a: Float32Array, m: number, k: number, b: Float32Array, n: number): Float64Array {
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) for (let p = 0; p < k; p++) out[i * n + j]! += a[i * k + p]! * b[j * k + p]!;
  return out;
}

const dims = fc.integer({ min: 1, max: 11 });
const matrix = (size: number) => fc.float32Array({ minLength: size, maxLength: size, min: -4, max: 4, noNaN: true, noDefaultInfinity: true });

describe('matmulNT', () => {
  it('equals the textbook product for any shape, including the 4×4 block remainders', () => {
    fc.assert(
      fc.property(
        dims.chain((m) => dims.chain((k) => dims.chain((n) => fc.tuple(fc.constant([m, k, n] as const), matrix(m * k), matrix(n * k))))),
        ([[m, k, n], a, b]) => {
          const expected = naiveNT(a, m, k, b, n);
          const actual = matmulNT(a, m, k, b, n);
          for (let i = 0; i < m * n; i++) expect(actual[i]).toBe(Math.fround(expected[i]!));
        },
      ),
    );
  });

  it('rejects operands of the wrong size', () => {
    expect(() => matmulNT(new Float32Array(5), 2, 3, new Float32Array(6), 2)).toThrow(RangeError);
  });
});

describe('gramRows', () => {
  it('is X·Xᵀ, symmetric, for any shape', () => {
    fc.assert(
      fc.property(
        dims.chain((r) => dims.chain((k) => fc.tuple(fc.constant([r, k] as const), matrix(r * k)))),
        ([[r, k], x]) => {
          const expected = naiveNT(x, r, k, x, r);
          const g = gramRows(x, r, k);
          for (let i = 0; i < r; i++) {
            for (let j = 0; j < r; j++) {
              expect(g[i * r + j]).toBe(expected[i * r + j]);
              expect(g[i * r + j]).toBe(g[j * r + i]);
            }
          }
        },
      ),
    );
  });
});

describe('transpose', () => {
  it('swaps rows and columns', () => {
    expect([...transpose(Float32Array.from([1, 2, 3, 4, 5, 6]), 2, 3)]).toEqual([1, 4, 2, 5, 3, 6]);
  });
});
