/**
 * The convolutional layers of the shapes CNN as ONNX computes them (Conv 3×3 with padding 1 and optional
 * groups, ReLU, MaxPool 2×2 stride 2), one image at a time in NCHW layout, weights in ONNX's
 * [out, in/groups, 3, 3] layout. The kernels are tiny, so the convolution is direct: each tap adds a
 * shifted copy of a zero-padded input plane, in a fixed order, in double precision.
 */

/** A 3×3 convolution with padding 1 and stride 1. */
export interface Conv3x3 {
  inChannels: number;
  outChannels: number;
  /** ONNX's `group` attribute: input and output channels split into this many independent groups. */
  groups: number;
  /** [out, in / groups, 3, 3] row-major, as ONNX stores it. */
  weight: Float32Array;
  bias: Float32Array;
}

/** Conv + ReLU over one [in, h, w] image; returns [out, h, w]. */
export function conv3x3Relu(layer: Conv3x3, image: Float32Array, h: number, w: number): Float32Array {
  const { inChannels, outChannels, groups, weight, bias } = layer;
  const inPerGroup = inChannels / groups;
  const outPerGroup = outChannels / groups;
  // Work in a zero-padded layout (rows of w + 2): every tap is then one flat shifted loop, no bounds tests.
  const pw = w + 2;
  const padded = new Float32Array(inChannels * (h + 2) * pw);
  for (let c = 0; c < inChannels; c++) {
    for (let y = 0; y < h; y++) padded.set(image.subarray((c * h + y) * w, (c * h + y + 1) * w), (c * (h + 2) + y + 1) * pw + 1);
  }
  const span = h * pw;
  const acc = new Float64Array(span);
  const out = new Float32Array(outChannels * h * w);
  for (let o = 0; o < outChannels; o++) {
    acc.fill(0);
    const firstInput = Math.floor(o / outPerGroup) * inPerGroup;
    for (let c = 0; c < inPerGroup; c++) {
      const base = (o * inPerGroup + c) * 9;
      const w0 = weight[base]!,
        w1 = weight[base + 1]!,
        w2 = weight[base + 2]!;
      const w3 = weight[base + 3]!,
        w4 = weight[base + 4]!,
        w5 = weight[base + 5]!;
      const w6 = weight[base + 6]!,
        w7 = weight[base + 7]!,
        w8 = weight[base + 8]!;
      // acc[y·pw + x] is output (y, x) for x < w; it reads padded rows y..y+2, columns x..x+2.
      const r0 = (firstInput + c) * (h + 2) * pw;
      const r1 = r0 + pw;
      const r2 = r1 + pw;
      for (let i = 0; i < span; i++) {
        acc[i]! +=
          w0 * padded[r0 + i]! +
          w1 * padded[r0 + i + 1]! +
          w2 * padded[r0 + i + 2]! +
          w3 * padded[r1 + i]! +
          w4 * padded[r1 + i + 1]! +
          w5 * padded[r1 + i + 2]! +
          w6 * padded[r2 + i]! +
          w7 * padded[r2 + i + 1]! +
          w8 * padded[r2 + i + 2]!;
      }
    }
    const b = bias[o]!;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const v = acc[y * pw + x]! + b;
        out[(o * h + y) * w + x] = Math.max(v, 0);
      }
    }
  }
  return out;
}

/** MaxPool with a 2×2 kernel and stride 2 over [channels, h, w] (h and w even). */
export function maxPool2(input: Float32Array, channels: number, h: number, w: number): Float32Array {
  const oh = h >> 1;
  const ow = w >> 1;
  const out = new Float32Array(channels * oh * ow);
  for (let c = 0; c < channels; c++) {
    for (let y = 0; y < oh; y++) {
      for (let x = 0; x < ow; x++) {
        const i = (c * h + 2 * y) * w + 2 * x;
        out[(c * oh + y) * ow + x] = Math.max(input[i]!, input[i + 1]!, input[i + w]!, input[i + w + 1]!);
      }
    }
  }
  return out;
}
