/**
 * Matrix products in plain JavaScript, fast enough to train the built-in models in seconds and exact to the
 * bit on every machine: each output is one double-precision dot product summed in index order, so results
 * never depend on threads, SIMD width or blocking. Matrices are row-major Float32Arrays.
 *
 * The kernel computes A·Bᵀ (both operands walked along contiguous rows) in 4×4 register blocks: sixteen
 * accumulators stay in registers and each loaded value is used four times, which is what makes V8 reach
 * about 2 GMAC/s here instead of 0.5 with the textbook triple loop.
 */

/**
 * C[m,n] = A[m,k] · B[n,k]ᵀ, accumulated in double precision and rounded once to float32.
 * @example
 * const c = matmulNT(a, 2, 3, b, 4); // a: 2×3, b: 4×3, c: 2×4
 */
export function matmulNT(a: Float32Array, m: number, k: number, b: Float32Array, n: number, out = new Float32Array(m * n)): Float32Array {
  checkSize('A', a, m * k);
  checkSize('B', b, n * k);
  checkSize('C', out, m * n);
  const m4 = m - (m % 4);
  const n4 = n - (n % 4);
  for (let i = 0; i < m4; i += 4) {
    const a0 = i * k;
    const a1 = a0 + k;
    const a2 = a1 + k;
    const a3 = a2 + k;
    for (let j = 0; j < n4; j += 4) {
      const b0 = j * k;
      const b1 = b0 + k;
      const b2 = b1 + k;
      const b3 = b2 + k;
      let s00 = 0,
        s01 = 0,
        s02 = 0,
        s03 = 0,
        s10 = 0,
        s11 = 0,
        s12 = 0,
        s13 = 0;
      let s20 = 0,
        s21 = 0,
        s22 = 0,
        s23 = 0,
        s30 = 0,
        s31 = 0,
        s32 = 0,
        s33 = 0;
      for (let p = 0; p < k; p++) {
        const y0 = b[b0 + p]!,
          y1 = b[b1 + p]!,
          y2 = b[b2 + p]!,
          y3 = b[b3 + p]!;
        let x = a[a0 + p]!;
        s00 += x * y0;
        s01 += x * y1;
        s02 += x * y2;
        s03 += x * y3;
        x = a[a1 + p]!;
        s10 += x * y0;
        s11 += x * y1;
        s12 += x * y2;
        s13 += x * y3;
        x = a[a2 + p]!;
        s20 += x * y0;
        s21 += x * y1;
        s22 += x * y2;
        s23 += x * y3;
        x = a[a3 + p]!;
        s30 += x * y0;
        s31 += x * y1;
        s32 += x * y2;
        s33 += x * y3;
      }
      let c = i * n + j;
      out[c] = s00;
      out[c + 1] = s01;
      out[c + 2] = s02;
      out[c + 3] = s03;
      c += n;
      out[c] = s10;
      out[c + 1] = s11;
      out[c + 2] = s12;
      out[c + 3] = s13;
      c += n;
      out[c] = s20;
      out[c + 1] = s21;
      out[c + 2] = s22;
      out[c + 3] = s23;
      c += n;
      out[c] = s30;
      out[c + 1] = s31;
      out[c + 2] = s32;
      out[c + 3] = s33;
    }
    for (let j = n4; j < n; j++) {
      for (let r = 0; r < 4; r++) out[(i + r) * n + j] = dot(a, (i + r) * k, b, j * k, k);
    }
  }
  for (let i = m4; i < m; i++) {
    for (let j = 0; j < n; j++) out[i * n + j] = dot(a, i * k, b, j * k, k);
  }
  return out;
}

/**
 * The Gram matrix G[r,r] = X · Xᵀ of the rows of X[r,k], in double precision. Only blocks on or above the
 * diagonal are computed; the rest is mirrored. Used for ridge regression's normal equations (pass the
 * transposed design matrix, so rows are features).
 */
export function gramRows(x: Float32Array, r: number, k: number): Float64Array {
  checkSize('X', x, r * k);
  const g = new Float64Array(r * r);
  const r4 = r - (r % 4);
  for (let i = 0; i < r4; i += 4) {
    const a0 = i * k;
    const a1 = a0 + k;
    const a2 = a1 + k;
    const a3 = a2 + k;
    for (let j = i; j < r4; j += 4) {
      const b0 = j * k;
      const b1 = b0 + k;
      const b2 = b1 + k;
      const b3 = b2 + k;
      let s00 = 0,
        s01 = 0,
        s02 = 0,
        s03 = 0,
        s10 = 0,
        s11 = 0,
        s12 = 0,
        s13 = 0;
      let s20 = 0,
        s21 = 0,
        s22 = 0,
        s23 = 0,
        s30 = 0,
        s31 = 0,
        s32 = 0,
        s33 = 0;
      for (let p = 0; p < k; p++) {
        const y0 = x[b0 + p]!,
          y1 = x[b1 + p]!,
          y2 = x[b2 + p]!,
          y3 = x[b3 + p]!;
        let v = x[a0 + p]!;
        s00 += v * y0;
        s01 += v * y1;
        s02 += v * y2;
        s03 += v * y3;
        v = x[a1 + p]!;
        s10 += v * y0;
        s11 += v * y1;
        s12 += v * y2;
        s13 += v * y3;
        v = x[a2 + p]!;
        s20 += v * y0;
        s21 += v * y1;
        s22 += v * y2;
        s23 += v * y3;
        v = x[a3 + p]!;
        s30 += v * y0;
        s31 += v * y1;
        s32 += v * y2;
        s33 += v * y3;
      }
      const block = [s00, s01, s02, s03, s10, s11, s12, s13, s20, s21, s22, s23, s30, s31, s32, s33];
      for (let u = 0; u < 4; u++) {
        for (let w = 0; w < 4; w++) {
          const value = block[u * 4 + w]!;
          g[(i + u) * r + j + w] = value;
          g[(j + w) * r + i + u] = value;
        }
      }
    }
  }
  for (let i = 0; i < r; i++) {
    for (let j = Math.max(i, r4); j < r; j++) {
      const value = dot(x, i * k, x, j * k, k);
      g[i * r + j] = value;
      g[j * r + i] = value;
    }
  }
  return g;
}

/** The transpose of a row-major rows×cols matrix. */
export function transpose(x: Float32Array, rows: number, cols: number): Float32Array {
  checkSize('X', x, rows * cols);
  const out = new Float32Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    const base = i * cols;
    for (let j = 0; j < cols; j++) out[j * rows + i] = x[base + j]!;
  }
  return out;
}

function dot(a: Float32Array, ao: number, b: Float32Array, bo: number, k: number): number {
  let s = 0;
  for (let p = 0; p < k; p++) s += a[ao + p]! * b[bo + p]!;
  return s;
}

function checkSize(name: string, array: ArrayLike<number>, expected: number): void {
  if (array.length !== expected) throw new RangeError(`matrix ${name} has ${array.length} elements, expected ${expected}`);
}
