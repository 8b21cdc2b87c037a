import { describe, expect, it } from 'vitest';
import { dynamicQuantizeLinear, quantizePerChannel, roundHalfEven, WEIGHT_QMAX } from './int8.ts';

describe('roundHalfEven', () => {
  it('rounds ties to the even neighbour, like std::nearbyint', () => {
    expect([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 2.4, 2.6].map(roundHalfEven)).toEqual([0, 2, 2, -0, -2, -2, 2, 3]);
  });
});

describe('dynamicQuantizeLinear', () => {
  it('matches the example in the ONNX operator documentation', () => {
    const { q, scale, zeroPoint } = dynamicQuantizeLinear(Float32Array.from([0, 2, -3, -2.5, 1.34, 0.5]));
    expect(scale).toBeCloseTo(0.0196, 4);
    expect(zeroPoint).toBe(153);
    expect([...q]).toEqual([153, 255, 0, 26, 221, 179]);
  });

  it('includes zero in the range, so all-positive inputs get zero point 0', () => {
    const { zeroPoint, q } = dynamicQuantizeLinear(Float32Array.from([1, 2, 3]));
    expect(zeroPoint).toBe(0);
    expect(q[2]).toBe(255);
  });

  it('quantizes an all-zero tensor to zeros', () => {
    expect(dynamicQuantizeLinear(new Float32Array(4))).toEqual({ q: new Uint8Array(4), scale: 0, zeroPoint: 0 });
  });
});

describe('quantizePerChannel', () => {
  it('scales each output row to ±WEIGHT_QMAX, symmetric, within half a step', () => {
    const weight = Float32Array.from([0.1, -0.2, 0.4, 10, -5, 2.5]);
    const { q, scale } = quantizePerChannel(weight, 2, 3);
    expect(scale[0]).toBeCloseTo(0.4 / WEIGHT_QMAX, 7);
    expect(scale[1]).toBeCloseTo(10 / WEIGHT_QMAX, 7);
    expect(q[2]).toBe(WEIGHT_QMAX);
    expect(q[3]).toBe(WEIGHT_QMAX);
    for (let i = 0; i < weight.length; i++) {
      const s = scale[Math.floor(i / 3)]!;
      expect(Math.abs(q[i]! * s - weight[i]!)).toBeLessThanOrEqual(s / 2 + 1e-7);
    }
  });

  it('keeps an all-zero channel at zero with scale 1', () => {
    const { q, scale } = quantizePerChannel(new Float32Array(3), 1, 3);
    expect([...q]).toEqual([0, 0, 0]);
    expect(scale[0]).toBe(1);
  });
});
