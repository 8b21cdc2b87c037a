import { describe, expect, it } from 'vitest';
import { createRng, fillNormal } from '../math/prng.ts';
import { conv3x3Relu, maxPool2, type Conv3x3 } from './conv.ts';

/** Conv 3×3, padding 1, groups, then ReLU, straight from the definition. */
function naiveConv(layer: Conv3x3, image: Float32Array, h: number, w: number): Float32Array {
  const inPerGroup = layer.inChannels / layer.groups;
  const outPerGroup = layer.outChannels / layer.groups;
  const out = new Float32Array(layer.outChannels * h * w);
  for (let o = 0; o < layer.outChannels; o++) {
    const group = Math.floor(o / outPerGroup);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        let sum = layer.bias[o]!;
        for (let c = 0; c < inPerGroup; c++) {
          for (let ky = 0; ky < 3; ky++) {
            for (let kx = 0; kx < 3; kx++) {
              const sy = y + ky - 1;
              const sx = x + kx - 1;
              if (sy < 0 || sy >= h || sx < 0 || sx >= w) continue;
              sum += layer.weight[((o * inPerGroup + c) * 3 + ky) * 3 + kx]! * image[((group * inPerGroup + c) * h + sy) * w + sx]!;
            }
          }
        }
        out[(o * h + y) * w + x] = Math.max(0, sum);
      }
    }
  }
  return out;
}

describe('conv3x3Relu', () => {
  for (const [inChannels, outChannels, groups] of [
    [1, 4, 1],
    [3, 4, 1],
    [4, 8, 4],
  ] as const) {
    it(`matches the definition for ${inChannels}→${outChannels} channels in ${groups} group(s)`, () => {
      const rng = createRng(`conv-${inChannels}-${outChannels}-${groups}`);
      const layer: Conv3x3 = {
        inChannels,
        outChannels,
        groups,
        weight: fillNormal(rng.fork('w'), new Float32Array((outChannels * inChannels * 9) / groups), 1),
        bias: fillNormal(rng.fork('b'), new Float32Array(outChannels), 0.5),
      };
      const [h, w] = [6, 5];
      const image = fillNormal(rng.fork('x'), new Float32Array(inChannels * h * w), 1);
      const expected = naiveConv(layer, image, h, w);
      const actual = conv3x3Relu(layer, image, h, w);
      for (let i = 0; i < expected.length; i++) expect(actual[i]).toBeCloseTo(expected[i]!, 5);
    });
  }
});

describe('maxPool2', () => {
  it('takes the maximum of each 2×2 block per channel', () => {
    const input = Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8, -1, -2, -3, -4, -5, -6, -7, -8]);
    expect([...maxPool2(input, 2, 2, 4)]).toEqual([6, 8, -1, -3]);
  });
});
