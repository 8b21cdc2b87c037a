/**
 * Fully connected layers as the built graphs compute them, for training features and for evaluating both
 * variants in JavaScript: float32 (Gemm with transB=1) and dynamic int8 (DynamicQuantizeLinear,
 * MatMulInteger, Cast, Mul, Add). Weights are [outputs, inputs] rows; batches are [rows, features].
 */
import { matmulNT } from '../math/gemm.ts';
import { dynamicQuantizeLinear, quantizePerChannel, type QuantizedWeight } from '../math/int8.ts';
import { fillNormal, type Rng } from '../math/prng.ts';

/** A fully connected layer. */
export interface Dense {
  inputs: number;
  outputs: number;
  /** [outputs, inputs] row-major. */
  weight: Float32Array;
  bias: Float32Array;
}

/** A layer with approximately normal random weights and biases (random features, or untrained weights). */
export function randomDense(rng: Rng, inputs: number, outputs: number, weightStd: number, biasStd: number): Dense {
  const weight = fillNormal(rng.fork('weight'), new Float32Array(outputs * inputs), weightStd);
  const bias = fillNormal(rng.fork('bias'), new Float32Array(outputs), biasStd);
  return { inputs, outputs, weight, bias };
}

/** x·Wᵀ + b for a batch of `rows`, optionally through ReLU. */
export function denseForward(layer: Dense, x: Float32Array, rows: number, relu: boolean): Float32Array {
  const out = matmulNT(x, rows, layer.inputs, layer.weight, layer.outputs);
  addBias(out, rows, layer.bias, relu);
  return out;
}

/** A dense layer with its weights quantized per output channel. */
export interface QuantizedDense extends QuantizedWeight {
  inputs: number;
  outputs: number;
  bias: Float32Array;
  /** The int8 weights as floats, so the integer products run through the fast float kernel exactly. */
  qAsFloat: Float32Array;
}

export function quantizeDense(layer: Dense): QuantizedDense {
  const quantized = quantizePerChannel(layer.weight, layer.outputs, layer.inputs);
  return { inputs: layer.inputs, outputs: layer.outputs, bias: layer.bias, ...quantized, qAsFloat: Float32Array.from(quantized.q) };
}

/**
 * The int8 layer as onnxruntime runs it, each row quantized on its own (as a batch of 1 would be): exact
 * integer dot products (MatMulInteger; in double they are exact, then rounded to float32 like Cast), then
 * float32 rescaling by x_scale·w_scale and the bias.
 */
export function quantizedDenseForward(layer: QuantizedDense, x: Float32Array, rows: number, relu: boolean): Float32Array {
  const { inputs, outputs, scale, bias } = layer;
  const centred = new Float32Array(rows * inputs);
  const rowScale = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    const xq = dynamicQuantizeLinear(x, r * inputs, (r + 1) * inputs);
    rowScale[r] = xq.scale;
    for (let i = 0; i < inputs; i++) centred[r * inputs + i] = xq.q[i]! - xq.zeroPoint;
  }
  const out = matmulNT(centred, rows, inputs, layer.qAsFloat, outputs);
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < outputs; o++) {
      const k = r * outputs + o;
      const value = Math.fround(Math.fround(out[k]! * Math.fround(rowScale[r]! * scale[o]!)) + bias[o]!);
      out[k] = relu && value < 0 ? 0 : value;
    }
  }
  return out;
}

/** Adds a bias to every row in place, optionally applying ReLU. */
export function addBias(x: Float32Array, rows: number, bias: Float32Array, relu: boolean): void {
  const cols = bias.length;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const v = x[r * cols + c]! + bias[c]!;
      x[r * cols + c] = relu && v < 0 ? 0 : v;
    }
  }
}
