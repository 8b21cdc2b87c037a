import { describe, expect, it } from 'vitest';
import type { Dense } from '../nn/dense.ts';
import { fitTemperature, meanConfidence, meanNll, scaleDense } from './calibration.ts';
import { createRng } from './prng.ts';

/** Logits drawn so that softmax(trueT · z) is the labels' real distribution: the fit should find trueT. */
function sampled(trueT: number, count: number, classes: number) {
  const rng = createRng('calibration-test');
  const logits = new Float32Array(count * classes);
  const labels = new Int32Array(count);
  for (let n = 0; n < count; n++) {
    const probabilities: number[] = [];
    for (let c = 0; c < classes; c++) {
      logits[n * classes + c] = rng.normal() * 0.5 + (c === n % classes ? 1 : 0);
      probabilities.push(Math.exp(trueT * logits[n * classes + c]!));
    }
    const total = probabilities.reduce((a, b) => a + b, 0);
    let u = rng.uniform() * total;
    let label = 0;
    while (label < classes - 1 && (u -= probabilities[label]!) > 0) label++;
    labels[n] = label;
  }
  return { logits, labels };
}

describe('temperature scaling', () => {
  it('recovers the temperature the labels were drawn with', () => {
    const { logits, labels } = sampled(6, 4000, 10);
    const t = fitTemperature(logits, labels, 4000, 10);
    expect(t).toBeGreaterThan(5);
    expect(t).toBeLessThan(7);
    expect(meanNll(logits, labels, 4000, 10, t)).toBeLessThan(meanNll(logits, labels, 4000, 10, 1));
  });

  it('scales a layer without changing any argmax', () => {
    const layer: Dense = { inputs: 2, outputs: 3, weight: Float32Array.from([1, -2, 0.5, 3, -1, 0]), bias: Float32Array.from([0.1, 0, -0.2]) };
    const scaled = scaleDense(layer, 4);
    expect(Array.from(scaled.weight)).toEqual([4, -8, 2, 12, -4, 0]);
    expect(Array.from(scaled.bias)).toEqual([0.4000000059604645, 0, -0.800000011920929]);
  });

  it('mean confidence is 1/classes for flat logits and near 1 for a dominant class', () => {
    expect(meanConfidence(new Float32Array(10), 1, 10)).toBeCloseTo(0.1, 6);
    expect(meanConfidence(Float32Array.from([50, 0, 0]), 1, 3)).toBeCloseTo(1, 6);
  });
});
