import { describe, expect, it } from 'vitest';
import { createRng } from '../math/prng.ts';
import { fitRidge } from '../math/ridge.ts';
import { argmaxRows, fractionEqual, oneHot } from '../math/stats.ts';
import { denseForward } from './dense.ts';
import { discriminantLayer } from './discriminant-layer.ts';

describe('discriminantLayer', () => {
  it('gives a ridge readout through ReLU at least the accuracy of a linear classifier on the inputs', () => {
    const rng = createRng('discriminant');
    const [count, dim, classes] = [600, 12, 4];
    const x = new Float32Array(count * dim);
    const labels = new Int32Array(count);
    for (let n = 0; n < count; n++) {
      labels[n] = rng.int(classes);
      for (let i = 0; i < dim; i++) x[n * dim + i] = (i === labels[n]! ? 1.5 : 0) + rng.normal();
    }
    const linear = { inputs: dim, outputs: classes, ...fitRidge(x, count, dim, oneHot(labels, classes), classes, { relativeLambda: 1e-3 }) };
    const linearAccuracy = fractionEqual(argmaxRows(denseForward(linear, x, count, false), count, classes), labels);

    const layer = discriminantLayer(rng.fork('layer'), x, count, dim, labels, classes, { units: 24, relativeLambda: 1e-3, randomBiasStd: 1 });
    expect([layer.outputs, layer.inputs]).toEqual([24, dim]);
    const hidden = denseForward(layer, x, count, true);
    const readout = { inputs: 24, outputs: classes, ...fitRidge(hidden, count, 24, oneHot(labels, classes), classes, { relativeLambda: 1e-6 }) };
    const accuracy = fractionEqual(argmaxRows(denseForward(readout, hidden, count, false), count, classes), labels);
    expect(linearAccuracy).toBeGreaterThan(0.6);
    expect(accuracy).toBeGreaterThanOrEqual(linearAccuracy - 0.01);
  });

  it('needs two units per class', () => {
    expect(() =>
      discriminantLayer(createRng('x'), new Float32Array(8), 2, 4, Int32Array.from([0, 1]), 2, { units: 3, relativeLambda: 1, randomBiasStd: 1 }),
    ).toThrow(RangeError);
  });
});
