import { describe, expect, it } from 'vitest';
import { createRng } from '../math/prng.ts';
import { clusterDistribution } from './clusters.ts';

const spec = { classes: 3, blobsPerClass: 2, latentDim: 4, dim: 16, latentNoise: 0.1, inputNoise: 0.01 };

describe('clusterDistribution', () => {
  it('samples deterministically, with training and held-out sets from one distribution', () => {
    const data = clusterDistribution(createRng('d'), spec);
    const again = clusterDistribution(createRng('d'), spec);
    expect(data.sample(createRng('s'), 50)).toEqual(again.sample(createRng('s'), 50));
    const set = data.sample(createRng('t'), 300);
    expect(set.x.length).toBe(300 * 16);
    expect(new Set(set.labels).size).toBe(3);
  });

  it('keeps samples near their blob: with little noise, nearest-neighbour labels agree', () => {
    const data = clusterDistribution(createRng('d'), spec);
    const train = data.sample(createRng('train'), 200);
    const test = data.sample(createRng('test'), 50);
    let correct = 0;
    for (let n = 0; n < test.count; n++) {
      let best = -1;
      let bestDistance = Infinity;
      for (let m = 0; m < train.count; m++) {
        let d = 0;
        for (let i = 0; i < 16; i++) d += (test.x[n * 16 + i]! - train.x[m * 16 + i]!) ** 2;
        if (d < bestDistance) [best, bestDistance] = [m, d];
      }
      if (train.labels[best] === test.labels[n]) correct++;
    }
    expect(correct).toBeGreaterThanOrEqual(48);
  });
});
