import { describe, expect, it } from 'vitest';
import { createRng, fillNormal } from './prng.ts';
import { choleskyInPlace, choleskySolve, fitRidge } from './ridge.ts';

describe('Cholesky', () => {
  it('solves a symmetric positive-definite system', () => {
    const a = Float64Array.from([4, 2, 0.4, 2, 5, 1, 0.4, 1, 3]);
    const x = [1, -2, 0.5];
    const b = Float64Array.from([0, 1, 2].map((i) => a[i * 3]! * x[0]! + a[i * 3 + 1]! * x[1]! + a[i * 3 + 2]! * x[2]!));
    const l = Float64Array.from(a);
    choleskyInPlace(l, 3);
    const solved = choleskySolve(l, 3, b, 1);
    for (let i = 0; i < 3; i++) expect(solved[i]).toBeCloseTo(x[i]!, 12);
  });

  it('refuses a matrix that is not positive definite', () => {
    expect(() => choleskyInPlace(Float64Array.from([1, 2, 2, 1]), 2)).toThrow(/not positive definite/);
  });
});

describe('fitRidge', () => {
  it('recovers a linear map with its bias when the regularisation is tiny', () => {
    const rng = createRng('ridge');
    const samples = 200;
    const features = 6;
    const outputs = 2;
    const h = fillNormal(rng.fork('h'), new Float32Array(samples * features), 1);
    const w = fillNormal(rng.fork('w'), new Float32Array(outputs * features), 1);
    const bias = [0.5, -1.5];
    const y = new Float32Array(samples * outputs);
    for (let n = 0; n < samples; n++) {
      for (let o = 0; o < outputs; o++) {
        let v = bias[o]!;
        for (let f = 0; f < features; f++) v += w[o * features + f]! * h[n * features + f]!;
        y[n * outputs + o] = v;
      }
    }
    const fit = fitRidge(h, samples, features, y, outputs, { relativeLambda: 1e-9 });
    for (let i = 0; i < w.length; i++) expect(fit.weight[i]).toBeCloseTo(w[i]!, 4);
    expect(fit.bias[0]).toBeCloseTo(0.5, 4);
    expect(fit.bias[1]).toBeCloseTo(-1.5, 4);
  });
});
