/**
 * A hidden ReLU layer fitted in closed form, for models too small for random features to work: a ridge
 * fit from the inputs to one-hot classes gives one discriminant score per class; the layer keeps each
 * standardised score twice (+s and −s, so ReLU loses nothing and the next layer can still form any
 * linear function of the scores) and fills the remaining units with ReLUs of random mixtures of the
 * scores, which give the readout nonlinear evidence such as "score a high and score b low".
 */
import { fitRidge } from '../math/ridge.ts';
import type { Rng } from '../math/prng.ts';
import { oneHot } from '../math/stats.ts';
import { denseForward, type Dense } from './dense.ts';

export interface DiscriminantLayerOptions {
  units: number;
  /** Ridge strength of the discriminant fit (see `fitRidge`). */
  relativeLambda: number;
  /** Standard deviation of the random units' biases, in standardised-score units. */
  randomBiasStd: number;
}

/**
 * @param x inputs [count, dim]
 * @returns a Dense layer [units, dim] meant to be followed by ReLU
 */
export function discriminantLayer(
  rng: Rng,
  x: Float32Array,
  count: number,
  dim: number,
  labels: Int32Array,
  classes: number,
  options: DiscriminantLayerOptions,
): Dense {
  const { units } = options;
  if (units < 2 * classes) throw new RangeError(`a discriminant layer needs at least ${2 * classes} units`);
  const scores = { inputs: dim, outputs: classes, ...fitRidge(x, count, dim, oneHot(labels, classes), classes, { relativeLambda: options.relativeLambda }) };
  const s = denseForward(scores, x, count, false);
  const mean = new Float64Array(classes);
  const std = new Float64Array(classes);
  for (let n = 0; n < count; n++) for (let c = 0; c < classes; c++) mean[c]! += s[n * classes + c]!;
  for (let c = 0; c < classes; c++) mean[c]! /= count;
  for (let n = 0; n < count; n++) {
    for (let c = 0; c < classes; c++) {
      const d = s[n * classes + c]! - mean[c]!;
      std[c]! += d * d;
    }
  }
  for (let c = 0; c < classes; c++) std[c] = Math.sqrt(std[c]! / count);

  // Unit u = Σ_c m[u,c]·(score_c − mean_c)/std_c + β_u, written back as weights on x.
  const mixing = new Float64Array(units * classes);
  const bias = new Float32Array(units);
  for (let c = 0; c < classes; c++) {
    mixing[2 * c * classes + c] = 1;
    mixing[(2 * c + 1) * classes + c] = -1;
  }
  const mixRng = rng.fork('mixing');
  const biasRng = rng.fork('bias');
  const randomBiases = new Float64Array(units);
  for (let u = 2 * classes; u < units; u++) {
    for (let c = 0; c < classes; c++) mixing[u * classes + c] = mixRng.normal() / Math.sqrt(classes);
    randomBiases[u] = options.randomBiasStd * biasRng.normal();
  }
  const weight = new Float32Array(units * dim);
  for (let u = 0; u < units; u++) {
    let b = randomBiases[u]!;
    const row = new Float64Array(dim);
    for (let c = 0; c < classes; c++) {
      const k = mixing[u * classes + c]! / std[c]!;
      if (k === 0) continue;
      b += k * (scores.bias[c]! - mean[c]!);
      for (let i = 0; i < dim; i++) row[i]! += k * scores.weight[c * dim + i]!;
    }
    weight.set(row, u * dim);
    bias[u] = b;
  }
  return { inputs: dim, outputs: units, weight, bias };
}
