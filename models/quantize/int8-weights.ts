/**
 * Weights to int8, as onnxruntime's `quantize_dynamic(per_channel=True, reduce_range=True)` stores them and as
 * Tandem's own recipes do (`models/math/int8.ts`, whose arithmetic this reuses): symmetric, zero point 0,
 * one scale per output channel, magnitudes within ±64 so that uint8 × int8 pair sums stay inside int16 on
 * x86 kernels without VNNI. A MatMul's output channels are the columns of its [K, N] weight; a Conv's are
 * the first axis of its [M, C/group, kH, kW...] weight.
 */
import { quantizePerChannel, WEIGHT_QMAX } from '../math/int8.ts';

export interface Int8WeightOptions {
  /** One scale per output channel (default) or one for the whole tensor. */
  perChannel: boolean;
  /** Magnitudes within ±64 (default, "reduce range") rather than ±127. */
  reduceRange: boolean;
}

/** int8 weights with their scales; zero point 0 throughout. */
export interface Int8Matrix {
  /** [K, N] row-major: the layout MatMulInteger's B takes. */
  q: Int8Array;
  /** [N], or [1] when per tensor. */
  scale: Float32Array;
  rows: number;
  cols: number;
}

/** The largest magnitude the options allow. */
export function int8Limit(options: Int8WeightOptions): number {
  return options.reduceRange ? WEIGHT_QMAX : 127;
}

/**
 * Quantizes the B matrix of a MatMul. `weight` is either [K, N] (`layout` "KN", MatMul's B) or [N, K]
 * (`layout` "NK", Gemm's B with transB=1, PyTorch's Linear weight); the result is always [K, N].
 */
export function quantizeMatMulWeight(weight: Float32Array, rows: number, cols: number, layout: 'KN' | 'NK', options: Int8WeightOptions): Int8Matrix {
  const [k, n] = layout === 'KN' ? [rows, cols] : [cols, rows];
  // quantizePerChannel wants one output channel per row: [N, K].
  const byChannel = layout === 'NK' ? weight : transpose(weight, rows, cols);
  const { q, scale } = options.perChannel
    ? quantizePerChannel(byChannel, n, k, int8Limit(options))
    : quantizePerChannel(byChannel, 1, n * k, int8Limit(options));
  return { q: transposeInt8(q, n, k), scale, rows: k, cols: n };
}

/** Quantizes a Conv weight [M, ...] per output channel M (or per tensor). Layout is unchanged. */
export function quantizeConvWeight(weight: Float32Array, outChannels: number, options: Int8WeightOptions): { q: Int8Array; scale: Float32Array } {
  const perChannel = weight.length / outChannels;
  return options.perChannel
    ? quantizePerChannel(weight, outChannels, perChannel, int8Limit(options))
    : quantizePerChannel(weight, 1, weight.length, int8Limit(options));
}

/** [rows, cols] to [cols, rows]. */
export function transpose(values: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(values.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = values[r * cols + c]!;
  return out;
}

function transposeInt8(values: Int8Array, rows: number, cols: number): Int8Array {
  const out = new Int8Array(values.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = values[r * cols + c]!;
  return out;
}
