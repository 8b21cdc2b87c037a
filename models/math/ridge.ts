/**
 * Ridge regression by its normal equations, the closed-form fit that trains every readout layer here:
 * minimise ‖H·W + b − Y‖² + λ‖W‖² by solving (HcᵀHc + λI)·W = HcᵀYc with a Cholesky factorisation, where
 * Hc and Yc are the centred features and targets (so the bias is not shrunk and the system is better
 * conditioned). Double precision throughout; deterministic because every sum runs in index order.
 */
import { gramRows, matmulNT, transpose } from './gemm.ts';

export interface RidgeFit {
  /** Weights as [outputs, features] rows, the layout `denseForward` and Gemm(transB=1) take. */
  weight: Float32Array;
  bias: Float32Array;
}

export interface RidgeOptions {
  /** λ relative to the mean diagonal of HcᵀHc, so the same value suits any feature scale. */
  relativeLambda: number;
}

/**
 * Fits `outputs` linear functions of `features` columns of `h` ([samples, features], row-major) to the
 * targets `y` ([samples, outputs]).
 * @example
 * const { weight, bias } = fitRidge(hidden, n, 1024, oneHot(labels, 10), 10, { relativeLambda: 1e-3 });
 */
export function fitRidge(h: Float32Array, samples: number, features: number, y: Float32Array, outputs: number, options: RidgeOptions): RidgeFit {
  const ht = transpose(h, samples, features);
  const yt = transpose(y, samples, outputs);
  const hMean = centreRows(ht, features, samples);
  const yMean = centreRows(yt, outputs, samples);
  const gram = gramRows(ht, features, samples);
  const rhs = matmulNT(ht, features, samples, yt, outputs);
  let trace = 0;
  for (let i = 0; i < features; i++) trace += gram[i * features + i]!;
  const lambda = (options.relativeLambda * trace) / features;
  for (let i = 0; i < features; i++) gram[i * features + i]! += lambda;
  choleskyInPlace(gram, features);
  const solution = choleskySolve(gram, features, Float64Array.from(rhs), outputs);
  const weight = new Float32Array(outputs * features);
  const bias = new Float32Array(outputs);
  for (let o = 0; o < outputs; o++) {
    let shift = 0;
    for (let f = 0; f < features; f++) {
      const w = solution[f * outputs + o]!;
      weight[o * features + f] = w;
      shift += w * hMean[f]!;
    }
    bias[o] = yMean[o]! - shift;
  }
  return { weight, bias };
}

/** Subtracts each row's mean in place and returns the means. */
function centreRows(x: Float32Array, rows: number, cols: number): Float64Array {
  const means = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    let sum = 0;
    for (let j = 0; j < cols; j++) sum += x[i * cols + j]!;
    const mean = sum / cols;
    means[i] = mean;
    for (let j = 0; j < cols; j++) x[i * cols + j]! -= mean;
  }
  return means;
}

/**
 * Overwrites the lower triangle of the symmetric positive-definite n×n matrix `a` with L, where a = L·Lᵀ.
 * @throws RangeError when `a` is not positive definite.
 */
export function choleskyInPlace(a: Float64Array, n: number): void {
  for (let i = 0; i < n; i++) {
    const ri = i * n;
    for (let j = 0; j <= i; j++) {
      const rj = j * n;
      let sum = a[ri + j]!;
      for (let p = 0; p < j; p++) sum -= a[ri + p]! * a[rj + p]!;
      if (i === j) {
        if (!(sum > 0)) throw new RangeError(`matrix is not positive definite (pivot ${i} is ${sum})`);
        a[ri + i] = Math.sqrt(sum);
      } else {
        a[ri + j] = sum / a[rj + j]!;
      }
    }
  }
}

/** Solves L·Lᵀ·X = B for X, where `l` holds L in its lower triangle and B is n×m; B is overwritten with X. */
export function choleskySolve(l: Float64Array, n: number, b: Float64Array, m: number): Float64Array {
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < m; c++) {
      let sum = b[i * m + c]!;
      for (let p = 0; p < i; p++) sum -= l[i * n + p]! * b[p * m + c]!;
      b[i * m + c] = sum / l[i * n + i]!;
    }
  }
  for (let i = n - 1; i >= 0; i--) {
    for (let c = 0; c < m; c++) {
      let sum = b[i * m + c]!;
      for (let p = i + 1; p < n; p++) sum -= l[p * n + i]! * b[p * m + c]!;
      b[i * m + c] = sum / l[i * n + i]!;
    }
  }
  return b;
}
