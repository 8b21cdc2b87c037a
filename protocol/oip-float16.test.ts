import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FLOAT16_MAX, float16ArrayToNumbers, float16BitsToNumber, numbersToFloat16Array, numberToFloat16Bits } from './oip-float16.ts';

/** Every non-negative finite half in increasing order: bits 0x0000..0x7bff are monotonic in value. */
const POSITIVE_HALVES = Array.from({ length: 0x7c00 }, (_, bits) => float16BitsToNumber(bits));

/** Reference rounding: the nearest half by search (ties to the even bit pattern), overflow per IEEE. */
function referenceBits(x: number): number {
  if (Number.isNaN(x)) return 0x7e00;
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  if (a >= 65520) return sign | 0x7c00;
  let lo = 0;
  let hi = POSITIVE_HALVES.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (POSITIVE_HALVES[mid]! <= a) lo = mid;
    else hi = mid;
  }
  const below = a - POSITIVE_HALVES[lo]!;
  const above = POSITIVE_HALVES[hi]! - a;
  const bits = below < above ? lo : above < below ? hi : lo % 2 === 0 ? lo : hi;
  return sign | bits;
}

describe('float16', () => {
  it.each([
    [0x3c00, 1],
    [0xc000, -2],
    [0x7bff, 65504],
    [0x0001, 2 ** -24],
    [0x03ff, 1023 * 2 ** -24],
    [0x0400, 2 ** -14],
    [0x3555, 0.333251953125],
    [0x7c00, Infinity],
    [0xfc00, -Infinity],
    [0x0000, 0],
    [0x8000, -0],
    [0x8001, -(2 ** -24)],
  ])('knows 0x%s', (bits, value) => {
    expect(float16BitsToNumber(bits)).toBe(value);
    expect(numberToFloat16Bits(value)).toBe(bits);
  });

  it('reads NaN bit patterns as NaN and writes NaN as the canonical quiet NaN', () => {
    for (const bits of [0x7c01, 0x7e00, 0x7fff, 0xfe00]) expect(float16BitsToNumber(bits)).toBeNaN();
    expect(numberToFloat16Bits(NaN)).toBe(0x7e00);
  });

  it('round-trips all 65536 bit patterns except NaN payloads', () => {
    const wrong: number[] = [];
    for (let bits = 0; bits <= 0xffff; bits++) {
      const value = float16BitsToNumber(bits);
      if (!Number.isNaN(value) && numberToFloat16Bits(value) !== bits) wrong.push(bits);
    }
    expect(wrong).toEqual([]);
  });

  it.each([
    ['1 + 2^-11 ties to even 1', 1 + 2 ** -11, 0x3c00],
    ['1 + 3 * 2^-11 ties to even 1 + 2^-9', 1 + 3 * 2 ** -11, 0x3c02],
    ['2^-25 ties to even zero', 2 ** -25, 0x0000],
    ['3 * 2^-25 ties to even 2^-23', 3 * 2 ** -25, 0x0002],
    ['just above a tie rounds up (float32 would round it to the tie first)', 1 + 2 ** -11 + 2 ** -40, 0x3c01],
    ['the largest subnormal rounds up into the normals', 2 ** -14 - 2 ** -26, 0x0400],
    ['65519 rounds to 65504', 65519, 0x7bff],
    ['65520 overflows', 65520, 0x7c00],
    ['-1e6 overflows', -1e6, 0xfc00],
    ['below half the smallest subnormal becomes zero', 2 ** -26, 0x0000],
    ['tiny negatives keep their sign', -(2 ** -30), 0x8000],
  ])('rounds: %s', (_why, value, bits) => {
    expect(numberToFloat16Bits(value)).toBe(bits);
  });

  it('rounds any double to the nearest half, ties to even', () => {
    fc.assert(
      fc.property(fc.oneof(fc.double({ min: -70000, max: 70000 }), fc.double({ min: -(2 ** -10), max: 2 ** -10 }), fc.double()), (x) => {
        expect(numberToFloat16Bits(x)).toBe(referenceBits(x));
      }),
      { numRuns: 5000 },
    );
  });

  it('converts arrays both ways', () => {
    const bits = numbersToFloat16Array([1, -2, FLOAT16_MAX, 0.5]);
    expect([...bits]).toEqual([0x3c00, 0xc000, 0x7bff, 0x3800]);
    expect(float16ArrayToNumbers(bits)).toEqual([1, -2, 65504, 0.5]);
  });
});
