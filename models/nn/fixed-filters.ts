/**
 * Hand-set convolution filters for the shapes CNN, which is fitted in closed form and so never learns
 * its convolutions: a first layer of oriented line, edge and blob detectors (what the first layer of a
 * trained image model converges to), and a grouped second layer that blurs each detector map and takes
 * its centre-surround contrast, so later layers see orientation evidence that tolerates small shifts.
 */
import type { Rng } from '../math/prng.ts';
import type { Conv3x3 } from './conv.ts';

/** 3×3 kernels, row-major. */
const DETECTORS: readonly (readonly number[])[] = [
  // thin lines: horizontal, vertical, falling and rising diagonals
  [-1, -1, -1, 2, 2, 2, -1, -1, -1],
  [-1, 2, -1, -1, 2, -1, -1, 2, -1],
  [2, -1, -1, -1, 2, -1, -1, -1, 2],
  [-1, -1, 2, -1, 2, -1, 2, -1, -1],
  // Sobel edges at four orientations, both polarities
  [-1, -2, -1, 0, 0, 0, 1, 2, 1],
  [1, 2, 1, 0, 0, 0, -1, -2, -1],
  [-1, 0, 1, -2, 0, 2, -1, 0, 1],
  [1, 0, -1, 2, 0, -2, 1, 0, -1],
  [0, 1, 2, -1, 0, 1, -2, -1, 0],
  [0, -1, -2, 1, 0, -1, 2, 1, 0],
  [-2, -1, 0, -1, 0, 1, 0, 1, 2],
  [2, 1, 0, 1, 0, -1, 0, -1, -2],
  // spots and holes, and plain brightness
  [-1, -1, -1, -1, 8, -1, -1, -1, -1],
  [1, 1, 1, 1, -8, 1, 1, 1, 1],
  [1, 1, 1, 1, 1, 1, 1, 1, 1],
];

/**
 * The first layer: the 15 detectors above plus one random kernel, each scaled to unit L2 norm, with a small
 * negative bias so pixel noise alone rarely passes the ReLU.
 */
export function detectorLayer(rng: Rng, bias: number): Conv3x3 {
  const kernels = [...DETECTORS, Array.from({ length: 9 }, () => rng.normal())];
  const weight = new Float32Array(kernels.length * 9);
  for (const [o, kernel] of kernels.entries()) {
    let norm = 0;
    for (const v of kernel) norm += v * v;
    norm = Math.sqrt(norm);
    for (const [i, v] of kernel.entries()) weight[o * 9 + i] = v / norm;
  }
  return { inChannels: 1, outChannels: kernels.length, groups: 1, weight, bias: new Float32Array(kernels.length).fill(bias) };
}

/**
 * The second layer, grouped per input channel (ONNX `group` = channels): output 2c is the 3×3 mean of
 * channel c, output 2c+1 its centre minus the mean of its 8 neighbours.
 */
export function blurContrastLayer(channels: number): Conv3x3 {
  const weight = new Float32Array(channels * 2 * 9);
  for (let c = 0; c < channels; c++) {
    for (let i = 0; i < 9; i++) {
      weight[2 * c * 9 + i] = 1 / 9;
      weight[(2 * c + 1) * 9 + i] = i === 4 ? 1 : -1 / 8;
    }
  }
  return { inChannels: channels, outChannels: channels * 2, groups: channels, weight, bias: new Float32Array(channels * 2) };
}
