import { describe, expect, it } from 'vitest';
import { createRng, fillNormal } from '../math/prng.ts';
import { denseForward, quantizeDense, quantizedDenseForward, type Dense } from '../nn/dense.ts';
import { openSession, type RuntimeName } from '../test-runtimes.ts';
import { addDense, addQuantizedDense } from './dense-nodes.ts';
import { GraphBuilder, int, IR_VERSION, littleEndianBytes, OPSET, PRODUCER_NAME } from './graph-builder.ts';
import { decodeModel, ONNX_DATA_TYPE } from './onnx-proto.ts';

const rng = createRng('graph-builder-test');
const layer = (name: string, inputs: number, outputs: number): Dense => ({
  inputs,
  outputs,
  weight: fillNormal(rng.fork(`${name}.w`), new Float32Array(inputs * outputs), 0.5),
  bias: fillNormal(rng.fork(`${name}.b`), new Float32Array(outputs), 0.1),
});
const fc1 = layer('fc1', 8, 6);
const fc2 = layer('fc2', 6, 3);

function tinyModel(quantize: boolean): Uint8Array {
  const g = new GraphBuilder('tiny');
  const x = g.input('x', 'float32', ['batch', 8]);
  const h = quantize ? addQuantizedDense(g, 'fc1', x, quantizeDense(fc1), true) : addDense(g, 'fc1', x, fc1, true);
  if (quantize) addQuantizedDense(g, 'fc2', h, quantizeDense(fc2), false, 'logits');
  else addDense(g, 'fc2', h, fc2, false, 'logits');
  g.output('logits', 'float32', ['batch', 3]);
  return g.build({ docString: 'tiny test model' });
}

describe('GraphBuilder', () => {
  it('writes IR 8, opset 17, a fixed producer, a dynamic batch dimension and little-endian raw_data', () => {
    const bytes = tinyModel(false);
    expect(tinyModel(false)).toEqual(bytes);
    const model = decodeModel(bytes) as {
      ir_version: number;
      producer_name: string;
      opset_import: { domain?: string; version: number }[];
      graph: {
        input: { name: string; type: { tensor_type: { elem_type: number; shape: { dim: Record<string, unknown>[] } } } }[];
        initializer: { name: string; dims: number[]; data_type: number; raw_data: Uint8Array }[];
        node: { op_type: string; attribute: { name: string; i?: number }[] }[];
      };
    };
    expect(model.ir_version).toBe(IR_VERSION);
    expect(model.producer_name).toBe(PRODUCER_NAME);
    expect(model.opset_import).toEqual([{ domain: '', version: OPSET }]);
    expect(model.graph.input[0]!.type.tensor_type.shape.dim).toEqual([{ dim_param: 'batch' }, { dim_value: 8 }]);
    const weight = model.graph.initializer.find((t) => t.name === 'fc1.weight')!;
    expect(weight.dims).toEqual([6, 8]);
    expect(weight.data_type).toBe(ONNX_DATA_TYPE.float32);
    const view = new DataView(weight.raw_data.buffer, weight.raw_data.byteOffset, weight.raw_data.byteLength);
    expect(view.getFloat32(4, true)).toBe(fc1.weight[1]);
    expect(model.graph.node.map((n) => n.op_type)).toEqual(['Gemm', 'Relu', 'Gemm']);
    expect(model.graph.node[0]!.attribute).toEqual([expect.objectContaining({ name: 'transB', i: 1 })]);
  });

  it('rejects undefined inputs, duplicate names, wrong initializer sizes and missing outputs', () => {
    const g = new GraphBuilder('bad');
    const x = g.input('x', 'float32', [1]);
    expect(() => g.op('Relu', ['nope'])).toThrow(/not defined/);
    expect(() => g.input('x', 'float32', [1])).toThrow(/defined twice/);
    expect(() => g.initializer('w', 'float32', [2, 2], new Float32Array(3))).toThrow(/elements/);
    expect(() => g.initializer('w', 'int8', [2], new Float32Array(2))).toThrow(/does not hold/);
    expect(() => g.output('y', 'float32', [1])).toThrow(/not produced/);
    expect(() => g.build({ docString: '' })).toThrow(/at least one output/);
    g.op('Relu', [x], {}, 'y');
    g.op('Cast', ['y'], { to: int(1) });
  });

  it('hands out little-endian bytes of typed arrays', () => {
    expect([...littleEndianBytes(Int32Array.from([0x01020304]))]).toEqual([4, 3, 2, 1]);
  });
});

describe('dense layers in ONNX Runtime', () => {
  const x = fillNormal(rng.fork('x'), new Float32Array(5 * 8), 1);
  const expected = {
    fp32: denseForward(fc2, denseForward(fc1, x, 5, true), 5, false),
    // Row by row, as the JavaScript evaluation quantizes (a batch of 1 at a time).
    int8: quantizedDenseForward(quantizeDense(fc2), quantizedDenseForward(quantizeDense(fc1), x, 5, true), 5, false),
  };

  for (const runtime of ['node', 'web'] as RuntimeName[]) {
    it(`${runtime}: float32 matches the JavaScript forward pass, int8 matches its emulation exactly`, async () => {
      for (const variant of ['fp32', 'int8'] as const) {
        const session = await openSession(runtime, tinyModel(variant === 'int8'));
        for (let row = 0; row < 5; row++) {
          const { logits } = await session.run({ x: { data: x.slice(row * 8, row * 8 + 8), dims: [1, 8] } });
          const want = expected[variant].subarray(row * 3, row * 3 + 3);
          for (let i = 0; i < 3; i++) {
            if (variant === 'int8') expect(logits![i]).toBe(want[i]);
            else expect(logits![i]).toBeCloseTo(want[i]!, 5);
          }
        }
        await session.release();
      }
    });
  }
});
