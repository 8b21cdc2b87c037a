/**
 * IEEE 754 half precision in plain JavaScript (Node 20 has no Float16Array): float32 ↔ float16 bits with
 * round-to-nearest-even, as numpy's `astype(np.float16)` and onnxruntime's MLFloat16 convert, and the
 * clamping onnxruntime's fp16 converter applies to weights before converting, so no finite weight becomes
 * ±Infinity and no small non-zero weight becomes 0.
 */

const scratch = new Float32Array(1);
const scratchBits = new Uint32Array(scratch.buffer);

/** The largest finite float16, 65504. */
export const FLOAT16_MAX = 65504;
/** The smallest positive float16 (a subnormal), 2⁻²⁴ ≈ 5.96e-8. */
export const FLOAT16_MIN_POSITIVE = 2 ** -24;

/**
 * float32 (or any number, rounded to float32 first) to float16 bits, rounding to nearest even; values past
 * the range become ±Infinity, NaN stays NaN (quiet).
 * @example
 * toFloat16Bits(1) // 0x3c00
 */
export function toFloat16Bits(value: number): number {
  scratch[0] = value;
  const x = scratchBits[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exponent = (x >>> 23) & 0xff;
  const mantissa = x & 0x7fffff;
  if (exponent === 0xff) return mantissa === 0 ? sign | 0x7c00 : sign | 0x7e00 | (mantissa >>> 13);
  const e = exponent - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    // A float16 subnormal (or zero): the value in units of 2⁻²⁴.
    if (e < -10) return sign;
    const full = mantissa | 0x800000;
    const shift = 14 - e;
    return sign | roundShift(full, shift);
  }
  // Rounding may carry into the exponent, which is what makes 65520 round up to Infinity.
  return sign | roundShift((e << 23) | mantissa, 13);
}

/** `value >> shift`, rounded to nearest even on the bits shifted out. */
function roundShift(value: number, shift: number): number {
  const kept = value >>> shift;
  const rest = value & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  return rest > half || (rest === half && (kept & 1) === 1) ? kept + 1 : kept;
}

/** float16 bits to the number they stand for. */
export function fromFloat16Bits(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >>> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * FLOAT16_MIN_POSITIVE;
  if (exponent === 0x1f) return mantissa === 0 ? sign * Infinity : NaN;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

/** Where float32 values are moved before conversion (onnxruntime's `convert_np_to_float16` semantics). */
export interface Float16Clamp {
  /** Positive values below this become it (negative ones its negation). Default 2⁻²⁴, float16's smallest. */
  minPositive?: number;
  /** Finite values beyond ±this become ±this. Default 65504, float16's largest. */
  maxFinite?: number;
}

/** What a conversion moved: counts of values clamped up from near zero and down from past the range. */
export interface ClampCounts {
  raisedFromZero: number;
  loweredToMax: number;
}

/**
 * Converts float32 values to float16 bits after clamping: 0, ±Infinity and NaN are kept; every other value
 * keeps its sign and stays finite and non-zero.
 */
export function toFloat16Array(values: Float32Array, clamp: Float16Clamp = {}, counts?: ClampCounts): Uint16Array {
  const minPositive = clamp.minPositive ?? FLOAT16_MIN_POSITIVE;
  const maxFinite = clamp.maxFinite ?? FLOAT16_MAX;
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) {
    let v = values[i]!;
    const magnitude = Math.abs(v);
    if (magnitude > 0 && magnitude < minPositive) {
      v = v > 0 ? minPositive : -minPositive;
      if (counts) counts.raisedFromZero++;
    } else if (magnitude > maxFinite && magnitude !== Infinity) {
      v = v > 0 ? maxFinite : -maxFinite;
      if (counts) counts.loweredToMax++;
    }
    out[i] = toFloat16Bits(v);
  }
  return out;
}

/** float16 bits to float32 values. */
export function fromFloat16Array(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = fromFloat16Bits(bits[i]!);
  return out;
}
