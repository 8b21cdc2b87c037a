/**
 * IEEE 754 binary16 ("half") <-> JavaScript number, for FP16 tensors, which Tandem holds as raw bits in a
 * Uint16Array (what onnxruntime accepts). JSON carries FP16 as ordinary numbers, so the codec converts.
 *
 * `Math.f16round` and `Float16Array` would do this natively but are missing from Node 20 and older
 * browsers. The conversion here rounds a double straight to half (round-to-nearest, ties-to-even), never
 * through float32, which would round twice and could land one ulp off.
 */

/** The canonical quiet NaN, written for any NaN input. */
export const FLOAT16_NAN = 0x7e00;
export const FLOAT16_POSITIVE_INFINITY = 0x7c00;
export const FLOAT16_NEGATIVE_INFINITY = 0xfc00;
/** The largest finite half, 65504. */
export const FLOAT16_MAX = 65504;

const TWO_POW_24 = 2 ** 24;

/**
 * The value of a half given by its 16 bits. Exact: every half is a double.
 * @example
 * float16BitsToNumber(0x3c00); // 1
 * float16BitsToNumber(0x0001); // 2 ** -24, the smallest subnormal
 */
export function float16BitsToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return (sign * fraction) / TWO_POW_24; // zero and subnormals: fraction * 2^-24
  if (exponent === 0x1f) return fraction === 0 ? sign * Infinity : NaN;
  return sign * (1024 + fraction) * 2 ** (exponent - 25); // (1 + fraction/1024) * 2^(exponent-15)
}

/**
 * The bits of the half nearest `value` (ties to even). Values of magnitude 65520 and above become infinity,
 * as IEEE rounding requires; NaN becomes `FLOAT16_NAN`; the sign of zero is kept.
 * @example
 * numberToFloat16Bits(-2); // 0xc000
 * numberToFloat16Bits(65504); // 0x7bff
 */
export function numberToFloat16Bits(value: number): number {
  if (Number.isNaN(value)) return FLOAT16_NAN;
  const sign = value < 0 || Object.is(value, -0) ? 0x8000 : 0;
  const magnitude = Math.abs(value);
  // 65520 is halfway between 65504 and 65536 (the next step, which is out of range): ties go to the even
  // significand, which is 65536, so it overflows.
  if (magnitude >= 65520) return sign | 0x7c00;
  if (magnitude < 2 ** -14) {
    // Subnormal (or zero): the value in units of 2^-24. Scaling by a power of two is exact in a double, and
    // a result of 1024 is the bit pattern of the smallest normal, 2^-14, so it needs no special case.
    return sign | roundHalfEven(magnitude * TWO_POW_24);
  }
  let exponent = Math.floor(Math.log2(magnitude));
  // Math.log2 may be off by one ulp near powers of two; settle the exponent exactly.
  if (2 ** exponent > magnitude) exponent--;
  else if (2 ** (exponent + 1) <= magnitude) exponent++;
  let fraction = roundHalfEven((magnitude / 2 ** exponent - 1) * 1024);
  if (fraction === 1024) {
    fraction = 0;
    exponent++;
  }
  return sign | ((exponent + 15) << 10) | fraction;
}

/** Rounds a non-negative double to an integer, ties to even. `x - floor(x)` is exact for doubles. */
function roundHalfEven(x: number): number {
  const floor = Math.floor(x);
  const rest = x - floor;
  return rest > 0.5 || (rest === 0.5 && floor % 2 === 1) ? floor + 1 : floor;
}

/**
 * FP16 tensor data from numbers, for building tensors by hand.
 * @example
 * tensor('float16', [2], numbersToFloat16Array([1, -2]));
 */
export function numbersToFloat16Array(values: ArrayLike<number>): Uint16Array<ArrayBuffer> {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = numberToFloat16Bits(values[i]!);
  return out;
}

/** The numbers an FP16 tensor's raw bits stand for. */
export function float16ArrayToNumbers(bits: ArrayLike<number>): number[] {
  const out = new Array<number>(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = float16BitsToNumber(bits[i]!);
  return out;
}
