/** The shapes CNN's convolution stages as ONNX nodes, matching `nn/conv.ts`. */
import type { Conv3x3 } from '../nn/conv.ts';
import { int, ints, type GraphBuilder } from './graph-builder.ts';

/** Conv(3×3, pads 1, group) + Relu + MaxPool(2×2, stride 2). Returns the output name. */
export function addConvReluPool(g: GraphBuilder, prefix: string, input: string, layer: Conv3x3): string {
  const weight = g.initializer(`${prefix}.weight`, 'float32', [layer.outChannels, layer.inChannels / layer.groups, 3, 3], layer.weight);
  const bias = g.initializer(`${prefix}.bias`, 'float32', [layer.outChannels], layer.bias);
  const conv = g.op('Conv', [input, weight, bias], { kernel_shape: ints([3, 3]), pads: ints([1, 1, 1, 1]), group: int(layer.groups) });
  const relu = g.op('Relu', [conv]);
  return g.op('MaxPool', [relu], { kernel_shape: ints([2, 2]), strides: ints([2, 2]) });
}
