/**
 * The arithmetic of dynamic int8 quantization, as onnxruntime's `quantize_dynamic` lays it out and its
 * kernels compute it: weights are quantized once, symmetrically per output channel; activations are
 * quantized at run time to uint8 with a scale and zero point taken from the tensor's range
 * (DynamicQuantizeLinear). The build uses these to write the int8 weights and to evaluate the int8 model
 * in JavaScript with the same rounding the runtime applies.
 */

/** Per-output-channel symmetric int8 weights: w ≈ q · scale[o], zero point 0. */
export interface QuantizedWeight {
  /** [outputs, inputs] row-major, like the float weights it came from. */
  q: Int8Array;
  /** One scale per output channel. */
  scale: Float32Array;
}

/**
 * The largest weight magnitude used. 64 rather than 127 ("reduce range"): with uint8 activations, a pair
 * of products then stays below 2¹⁵, so x86 kernels that add products pairwise in 16 bits (AVX2 without
 * VNNI) cannot saturate and every CPU computes the same sums.
 */
export const WEIGHT_QMAX = 64;

/** Rounds half to even, as `std::nearbyint` does in the default rounding mode. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Quantizes [outputs, inputs] float weights per output channel. */
export function quantizePerChannel(weight: Float32Array, outputs: number, inputs: number, qmax = WEIGHT_QMAX): QuantizedWeight {
  const q = new Int8Array(outputs * inputs);
  const scale = new Float32Array(outputs);
  for (let o = 0; o < outputs; o++) {
    let maxAbs = 0;
    for (let i = 0; i < inputs; i++) maxAbs = Math.max(maxAbs, Math.abs(weight[o * inputs + i]!));
    const s = maxAbs > 0 ? Math.fround(maxAbs / qmax) : 1;
    scale[o] = s;
    for (let i = 0; i < inputs; i++) {
      const v = roundHalfEven(Math.fround(weight[o * inputs + i]! / s));
      q[o * inputs + i] = Math.max(-qmax, Math.min(qmax, v));
    }
  }
  return { q, scale };
}

/** The result of DynamicQuantizeLinear on one tensor. */
export interface DynamicQuantized {
  q: Uint8Array;
  scale: number;
  zeroPoint: number;
}

/**
 * ONNX DynamicQuantizeLinear: the range is widened to include 0, scale = (max − min) / 255 in float32,
 * zero point = round(−min / scale), q = saturate(round(x / scale) + zero point), rounding half to even.
 */
export function dynamicQuantizeLinear(x: Float32Array, start = 0, end = x.length): DynamicQuantized {
  let min = 0;
  let max = 0;
  for (let i = start; i < end; i++) {
    const v = x[i]!;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const scale = Math.fround(Math.fround(max - min) / 255);
  const q = new Uint8Array(end - start);
  if (scale === 0) return { q, scale, zeroPoint: 0 };
  const zeroPoint = clampByte(roundHalfEven(Math.fround(0 - Math.fround(min / scale))));
  for (let i = start; i < end; i++) q[i - start] = clampByte(roundHalfEven(Math.fround(x[i]! / scale)) + zeroPoint);
  return { q, scale, zeroPoint };
}

function clampByte(v: number): number {
  return v < 0 ? 0 : Math.min(v, 255);
}
