import { describe, expect, it } from 'vitest';
import { FLOAT16_MAX, FLOAT16_MIN_POSITIVE, fromFloat16Array, fromFloat16Bits, toFloat16Array, toFloat16Bits } from './float16.ts';

describe('float16 bits', () => {
  it('converts exactly representable values and the special ones', () => {
    const cases: [number, number][] = [
      [0, 0x0000],
      [-0, 0x8000],
      [1, 0x3c00],
      [-2, 0xc000],
      [0.5, 0x3800],
      [65504, 0x7bff],
      [2 ** -14, 0x0400], // Smallest normal.
      [2 ** -24, 0x0001], // Smallest subnormal.
      [Infinity, 0x7c00],
      [-Infinity, 0xfc00],
    ];
    for (const [value, bits] of cases) {
      expect(toFloat16Bits(value), String(value)).toBe(bits);
      expect(Object.is(fromFloat16Bits(bits), value), String(value)).toBe(true);
    }
    expect(fromFloat16Bits(toFloat16Bits(NaN))).toBeNaN();
  });

  it('rounds to nearest even, overflowing to Infinity past 65520 and underflowing to 0 below 2⁻²⁵', () => {
    expect(toFloat16Bits(1 + 2 ** -11)).toBe(0x3c00); // Halfway between 1 and the next: down to even.
    expect(toFloat16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02); // Halfway, up to even.
    expect(toFloat16Bits(1 + 2 ** -11 + 2 ** -20)).toBe(0x3c01); // Past halfway.
    expect(toFloat16Bits(65519)).toBe(0x7bff);
    expect(toFloat16Bits(65520)).toBe(0x7c00);
    expect(toFloat16Bits(2 ** -25)).toBe(0x0000); // Halfway to the smallest subnormal: down to even (0).
    expect(toFloat16Bits(1.5 * 2 ** -25)).toBe(0x0001);
    expect(toFloat16Bits(3 * 2 ** -25)).toBe(0x0002); // 1.5 subnormal units: up to even.
    expect(toFloat16Bits(2 ** -14 - 2 ** -25)).toBe(0x0400); // Rounds up from the subnormals into the normals.
  });

  it('stays within half a unit in the last place on a sweep of values', () => {
    for (let i = 0; i < 20000; i++) {
      const v = Math.fround((i - 10000) * 0.37 * 1.0007 ** i);
      const back = fromFloat16Bits(toFloat16Bits(v));
      if (Math.abs(v) > FLOAT16_MAX) continue;
      // Within half a unit in the last place (2⁻¹¹ relative for normals, 2⁻²⁵ absolute for subnormals).
      expect(Math.abs(back - v)).toBeLessThanOrEqual(Math.max(Math.abs(v) * 2 ** -11, 2 ** -25));
    }
  });

  it('clamps into the finite non-zero range before converting, and counts what it moved', () => {
    const counts = { raisedFromZero: 0, loweredToMax: 0 };
    const bits = toFloat16Array(Float32Array.of(1e6, -1e6, 1e-9, -1e-9, 0, Infinity, NaN, 3), {}, counts);
    expect(Array.from(fromFloat16Array(bits))).toEqual([FLOAT16_MAX, -FLOAT16_MAX, FLOAT16_MIN_POSITIVE, -FLOAT16_MIN_POSITIVE, 0, Infinity, NaN, 3]);
    expect(counts).toEqual({ raisedFromZero: 2, loweredToMax: 2 });
    expect(Array.from(fromFloat16Array(toFloat16Array(Float32Array.of(2e4, 1e-3), { maxFinite: 1e4, minPositive: 0.01 })))).toEqual([
      fromFloat16Bits(toFloat16Bits(1e4)),
      fromFloat16Bits(toFloat16Bits(0.01)),
    ]);
  });
});
