/**
 * Temperature scaling (Guo et al., "On Calibration of Modern Neural Networks", 2017): the one factor t
 * for which softmax(t · logits) best predicts the labels (least mean negative log-likelihood). The built-in
 * classifiers' read-outs are ridge fits to one-hot targets, so their logits sit near [0, 1] and their
 * softmax is almost flat: a right answer shows as 16 %, and a low-confidence alert would always fire.
 * Scaling the read-out layer by t changes no argmax and makes the probabilities mean what they say.
 */
import type { Dense } from '../nn/dense.ts';

/** Mean negative log-likelihood of the labels under softmax(t · logits); logits are [count, classes]. */
export function meanNll(logits: Float32Array, labels: Int32Array, count: number, classes: number, t: number): number {
  let total = 0;
  for (let n = 0; n < count; n++) {
    const row = n * classes;
    let max = -Infinity;
    for (let c = 0; c < classes; c++) max = Math.max(max, t * logits[row + c]!);
    let sum = 0;
    for (let c = 0; c < classes; c++) sum += Math.exp(t * logits[row + c]! - max);
    total += Math.log(sum) + max - t * logits[row + labels[n]!]!;
  }
  return total / count;
}

/**
 * The temperature factor, by golden-section search over log t in [1e-2, 1e3] (the NLL is convex in t).
 * @example
 * const t = fitTemperature(trainLogits, train.labels, train.count, 10);
 * const calibrated = scaleDense(readout, t);
 */
export function fitTemperature(logits: Float32Array, labels: Int32Array, count: number, classes: number): number {
  const nll = (logT: number) => meanNll(logits, labels, count, classes, Math.exp(logT));
  const ratio = (Math.sqrt(5) - 1) / 2;
  let [lo, hi] = [Math.log(1e-2), Math.log(1e3)];
  let a = hi - ratio * (hi - lo);
  let b = lo + ratio * (hi - lo);
  let [fa, fb] = [nll(a), nll(b)];
  for (let i = 0; i < 80; i++) {
    if (fa <= fb) {
      [hi, b, fb] = [b, a, fa];
      a = hi - ratio * (hi - lo);
      fa = nll(a);
    } else {
      [lo, a, fa] = [a, b, fb];
      b = lo + ratio * (hi - lo);
      fb = nll(b);
    }
  }
  return Math.exp((lo + hi) / 2);
}

/** The layer with weights and bias multiplied by `t`: its outputs are `t` times the original's. */
export function scaleDense(layer: Dense, t: number): Dense {
  return { ...layer, weight: layer.weight.map((w) => w * t), bias: layer.bias.map((b) => b * t) };
}

/** Mean top-class probability of softmax(logits): what a well-calibrated model's accuracy should match. */
export function meanConfidence(logits: Float32Array, count: number, classes: number): number {
  let total = 0;
  for (let n = 0; n < count; n++) {
    const row = logits.subarray(n * classes, (n + 1) * classes);
    const max = Math.max(...row);
    let sum = 0;
    for (const z of row) sum += Math.exp(z - max);
    total += 1 / sum;
  }
  return total / count;
}
