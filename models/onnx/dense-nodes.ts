/**
 * Fully connected layers as ONNX nodes, in float32 and in the dynamic int8 form that onnxruntime's
 * `quantize_dynamic` emits and its CPU and WASM kernels run:
 *
 *   x ─ DynamicQuantizeLinear ─┬ x_q (uint8) ─┐
 *                              ├ x_zero_point ┴ MatMulInteger(W_q int8 [in,out], w_zero_point 0) ─ Cast(float)
 *                              └ x_scale ─ Mul(w_scale [out]) ─────────────────────────────────────── Mul ─ Add(bias)
 *
 * The JavaScript forward passes in `nn/dense.ts` compute the same thing, which is how the build evaluates
 * both variants without a runtime.
 */
import type { Dense, QuantizedDense } from '../nn/dense.ts';
import { int, type GraphBuilder } from './graph-builder.ts';

/** Gemm(x, W, b, transB=1) [+ Relu]; W stays [outputs, inputs] as PyTorch exports it. Returns the output name. */
export function addDense(g: GraphBuilder, prefix: string, input: string, layer: Dense, relu: boolean, output?: string): string {
  const weight = g.initializer(`${prefix}.weight`, 'float32', [layer.outputs, layer.inputs], layer.weight);
  const bias = g.initializer(`${prefix}.bias`, 'float32', [layer.outputs], layer.bias);
  if (!relu) return g.op('Gemm', [input, weight, bias], { transB: int(1) }, output);
  return g.op('Relu', [g.op('Gemm', [input, weight, bias], { transB: int(1) })], {}, output);
}

/** The dynamic int8 pattern above [+ Relu]. Returns the output name. */
export function addQuantizedDense(g: GraphBuilder, prefix: string, input: string, layer: QuantizedDense, relu: boolean, output?: string): string {
  const weight = g.initializer(`${prefix}.weight_quantized`, 'int8', [layer.inputs, layer.outputs], transposeInt8(layer.q, layer.outputs, layer.inputs));
  const weightScale = g.initializer(`${prefix}.weight_scale`, 'float32', [layer.outputs], layer.scale);
  const weightZeroPoint = g.initializer(`${prefix}.weight_zero_point`, 'int8', [], new Int8Array(1));
  const bias = g.initializer(`${prefix}.bias`, 'float32', [layer.outputs], layer.bias);
  const [xq, xScale, xZeroPoint] = g.node('DynamicQuantizeLinear', [input], {}, [
    `${prefix}.input_quantized`,
    `${prefix}.input_scale`,
    `${prefix}.input_zero_point`,
  ]) as [string, string, string];
  const integer = g.op('MatMulInteger', [xq, weight, xZeroPoint, weightZeroPoint], {}, `${prefix}.matmul_integer`);
  const asFloat = g.op('Cast', [integer], { to: int(1) }, `${prefix}.matmul_float`);
  const scale = g.op('Mul', [xScale, weightScale], {}, `${prefix}.output_scale`);
  const scaled = g.op('Mul', [asFloat, scale], {}, `${prefix}.output_scaled`);
  if (!relu) return g.op('Add', [scaled, bias], {}, output);
  return g.op('Relu', [g.op('Add', [scaled, bias], {}, `${prefix}.output_biased`)], {}, output);
}

/** [rows, cols] int8 to [cols, rows]. */
function transposeInt8(q: Int8Array, rows: number, cols: number): Int8Array {
  const out = new Int8Array(q.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = q[r * cols + c]!;
  return out;
}
