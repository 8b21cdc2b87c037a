/**
 * float16 conversion on the built-in models and on foreign-style graphs, each loaded and run in
 * onnxruntime-node and onnxruntime-web (WASM), whose CPU kernels run float16 graphs (casting around
 * operators that lack a float16 kernel). WebGPU, the backend the variant is for, needs a GPU adapter, which
 * Node lacks. Tolerance: float16 keeps 11 bits, so outputs stay within 1% of their scale here.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { TandemError } from '../../protocol/errors.ts';
import type { NamedTensors } from '../../protocol/tensor.ts';
import { float, GraphBuilder, int } from '../onnx/graph-builder.ts';
import { DATA_TYPE, parseModel, type OnnxGraph, type OnnxModel, type OnnxTensor } from '../onnx/onnx-proto.ts';
import { mlpClassifierData } from '../recipes/mlp-classifier.ts';
import { shapesCnnData } from '../recipes/shapes-cnn.ts';
import { sharedModelRepository, type TestModelRepository } from '../test-support.ts';
import { measureAgreement, measureAgreementWasm, type Agreement } from './agreement.ts';
import { convertToFp16, type Fp16Options, type Fp16Report } from './convert-fp16.ts';
import { drawInputs } from './draw-inputs.ts';
import { allGraphs } from './graph-scope.ts';
import {
  convGraph,
  encoderGraph,
  encoderInputs,
  extremeWeightsGraph,
  gemmGraph,
  ifGraph,
  loopGraph,
  matMulGraph,
  patchModel,
  shapeArithmeticGraph,
} from './test-graphs.ts';

function convert(bytes: Uint8Array, options: Fp16Options = {}): { bytes: Uint8Array; model: OnnxModel; report: Fp16Report } {
  let report: Fp16Report | undefined;
  const out = convertToFp16(bytes, { ...options, onReport: (r) => (report = r) });
  return { bytes: out, model: parseModel(out), report: report! };
}

async function agreeInBothRuntimes(reference: Uint8Array, variant: Uint8Array, inputs: NamedTensors | NamedTensors[], top1?: string[]): Promise<Agreement> {
  const node = await measureAgreement(reference, variant, inputs, top1 ? { top1 } : {});
  const wasm = await measureAgreementWasm(reference, variant, inputs, top1 ? { top1 } : {});
  expect(Math.abs(node.maxAbsError - wasm.maxAbsError)).toBeLessThanOrEqual(0.05 * Math.max(1e-3, node.maxAbsError));
  return node;
}

function expectWithin(agreement: Agreement, fraction: number): void {
  for (const [name, o] of Object.entries(agreement.outputs)) {
    expect(o.maxAbsError, `output ${name}: max abs error ${o.maxAbsError} against scale ${o.referenceScale}`).toBeLessThanOrEqual(fraction * o.referenceScale);
  }
}

const elemTypes = (values: OnnxGraph['input']) => (values ?? []).map((v) => v.type?.tensor_type?.elem_type);
const initializer = (graph: OnnxGraph, name: string): OnnxTensor => graph.initializer!.find((t) => t.name === name)!;

/** Every float tensor stored in the model, by name: initializers, Constant values, attribute tensors. */
function floatTensors(model: OnnxModel): Map<string, number> {
  const out = new Map<string, number>();
  for (const graph of allGraphs(model)) {
    for (const t of graph.initializer ?? []) out.set(t.name!, t.data_type!);
    for (const node of graph.node ?? []) for (const a of node.attribute ?? []) if (a.t) out.set(`${node.output![0]}.${a.name}`, a.t.data_type!);
  }
  return out;
}

describe('built-in models', () => {
  let shared: TestModelRepository;
  beforeAll(async () => {
    shared = await sharedModelRepository((line) => console.log(line));
  });
  const cases = {
    'mlp-classifier': () => {
      const { heldOut } = mlpClassifierData();
      return { x: { dtype: 'float32' as const, dims: [heldOut.count, 256], data: heldOut.x } };
    },
    'shapes-cnn': () => {
      const { heldOut } = shapesCnnData();
      return { image: { dtype: 'float32' as const, dims: [heldOut.count, 1, 28, 28], data: heldOut.images } };
    },
  };
  for (const [id, inputs] of Object.entries(cases)) {
    it(`${id}: half the bytes, float32 inputs and outputs, every weight float16, the same top-1 on the held-out set`, async () => {
      const fp32 = new Uint8Array(await readFile(join(shared.repository, id, '1.0.0', 'fp32.onnx')));
      const { bytes, model, report } = convert(fp32);
      const ratio = bytes.length / fp32.length;
      expect(report.blockedNodes).toEqual([]);
      expect(elemTypes(model.graph!.input)).toEqual([DATA_TYPE.FLOAT]);
      expect(elemTypes(model.graph!.output)).toEqual([DATA_TYPE.FLOAT, DATA_TYPE.FLOAT]);
      expect(new Set(floatTensors(model).values())).toEqual(new Set([DATA_TYPE.FLOAT16]));
      expect(ratio).toBeGreaterThan(0.49);
      expect(ratio).toBeLessThan(0.51);
      const agreement = await agreeInBothRuntimes(fp32, bytes, inputs(), ['logits']);
      const logits = agreement.outputs.logits!;
      console.log(
        `${id}: fp32 ${fp32.length} B, fp16 ${bytes.length} B (ratio ${ratio.toFixed(4)}); top-1 ${agreement.top1Agreement}; logits max abs error ${logits.maxAbsError.toFixed(4)} (scale ${logits.referenceScale.toFixed(2)}), probabilities ${agreement.outputs.probabilities!.maxAbsError.toFixed(5)}`,
      );
      expect(agreement.top1Agreement).toBeGreaterThanOrEqual(0.995);
      expectWithin(agreement, 0.01);
    });
  }
});

describe('foreign-style graphs', () => {
  const x64 = drawInputs([{ name: 'x', dtype: 'float32', shape: ['batch', 64] }], 'fp16', { batch: 8 });

  it('Gemm, MatMul with Transpose and Constant weights, a Conv net: all float16 inside, float32 at the edges', async () => {
    const matMulInputs = drawInputs(
      [
        { name: 'x', dtype: 'float32', shape: ['batch', 'seq', 64] },
        { name: 'ids', dtype: 'int64', shape: ['batch'] },
      ],
      'fp16',
      { batch: 4, seq: 7 },
    );
    const image = drawInputs([{ name: 'image', dtype: 'float32', shape: ['batch', 8, 16, 16] }], 'fp16', { batch: 4 });
    for (const [label, fp32, inputs] of [
      ['gemm', gemmGraph(), x64],
      ['matmul', matMulGraph(), matMulInputs],
      ['conv', convGraph(), image],
    ] as const) {
      const { bytes, model, report } = convert(fp32);
      expect(report.blockedNodes).toEqual([]);
      expect(new Set(floatTensors(model).values())).toEqual(new Set([DATA_TYPE.FLOAT16]));
      for (const output of model.graph!.output!) expect(output.type!.tensor_type!.elem_type).toBe(DATA_TYPE.FLOAT);
      const agreement = await agreeInBothRuntimes(fp32, bytes, inputs);
      console.log(
        `${label} graph fp16: ${fp32.length} → ${bytes.length} B; max abs error ${agreement.maxAbsError.toExponential(2)}, max rel ${agreement.maxRelError.toExponential(2)}`,
      );
      expectWithin(agreement, 0.01);
    }
  });

  it('an encoder layer as PyTorch exports it: float16 throughout but the mask arithmetic and the Range', async () => {
    const fp32 = encoderGraph();
    const { bytes, report } = convert(fp32);
    expect(report.blockedNodes.map((b) => b.opType)).toEqual(['Range', 'Cast', 'Sub', 'Mul']);
    const agreement = await agreeInBothRuntimes(fp32, bytes, encoderInputs(), ['logits']);
    console.log(
      `encoder graph fp16: ${fp32.length} → ${bytes.length} B; hidden max abs error ${agreement.outputs.hidden!.maxAbsError.toExponential(2)} (scale ${agreement.outputs.hidden!.referenceScale.toFixed(2)}), logits ${agreement.outputs.logits!.maxAbsError.toExponential(2)}`,
    );
    expect(agreement.top1Agreement).toBe(1);
    expectWithin(agreement, 0.01);
  });

  it('If and Loop bodies are converted with their node: bodies take and give float16', async () => {
    const branches = convert(ifGraph());
    const [, thenBranch, elseBranch] = allGraphs(branches.model) as [OnnxGraph, OnnxGraph, OnnxGraph];
    expect(elemTypes(thenBranch.output)).toEqual([DATA_TYPE.FLOAT16]);
    expect(elemTypes(elseBranch.output)).toEqual([DATA_TYPE.FLOAT16]);
    expect(initializer(elseBranch, 'else.weight').data_type).toBe(DATA_TYPE.FLOAT16);
    const x = x64.x!.data as Float32Array;
    const signs = [Math.abs, (v: number) => -Math.abs(v)].map((f) => ({ x: { ...x64.x!, data: x.map(f) } }));
    expectWithin(await agreeInBothRuntimes(ifGraph(), branches.bytes, signs), 0.01);

    const loop = convert(loopGraph());
    const body = allGraphs(loop.model)[1]!;
    expect(elemTypes(body.input)).toEqual([DATA_TYPE.INT64, DATA_TYPE.BOOL, DATA_TYPE.FLOAT16]);
    expect(elemTypes(body.output)).toEqual([DATA_TYPE.BOOL, DATA_TYPE.FLOAT16, DATA_TYPE.FLOAT16]);
    expect(loop.model.graph!.node!.map((n) => n.op_type)).toEqual(['Cast', 'Loop', 'Cast', 'Cast']);
    expectWithin(await agreeInBothRuntimes(loopGraph(), loop.bytes, drawInputs([{ name: 'x', dtype: 'float32', shape: [4, 64] }], 'loop')), 0.01);
  });

  it('Resize and Range stay float32 with their constants intact; integer-derived size arithmetic stays float32; value_info follows', async () => {
    const fp32 = shapeArithmeticGraph();
    const { bytes, model, report } = convert(fp32);
    expect(report.blockedNodes.map((b) => b.opType)).toEqual(['Resize', 'Cast', 'Mul', 'Floor', 'Cast', 'Cast', 'Range']);
    const graph = model.graph!;
    const resize = graph.node!.find((n) => n.op_type === 'Resize')!;
    expect(resize.input).toEqual(['image', 'roi', 'scales']); // No Cast: the scales Constant stays float32.
    expect(graph.node!.find((n) => n.output![0] === 'scales')!.attribute![0]!.t!.data_type).toBe(DATA_TYPE.FLOAT);
    expect(initializer(graph, 'half').data_type).toBe(DATA_TYPE.FLOAT);
    expect(initializer(graph, 'conv.weight').data_type).toBe(DATA_TYPE.FLOAT16);
    const declared = Object.fromEntries(graph.value_info!.map((v) => [v.name, v.type!.tensor_type!.elem_type]));
    expect(declared).toEqual({ resize_1: DATA_TYPE.FLOAT, conv_2: DATA_TYPE.FLOAT16 });
    const inputs = drawInputs([{ name: 'image', dtype: 'float32', shape: ['batch', 4, 8, 8] }], 'shape', { batch: 2 });
    const agreement = await agreeInBothRuntimes(fp32, bytes, inputs);
    expect(agreement.outputs.positions!.maxAbsError).toBe(0);
    expectWithin(agreement, 0.01);

    // Without the integer rule the chain runs in float16 (exact here: 16 · 0.5), and still loads.
    const plain = convert(fp32, { keepIntegerArithmetic: false });
    expect(plain.report.blockedNodes.map((b) => b.opType)).toEqual(['Resize', 'Range']);
    expect(plain.model.graph!.node!.filter((n) => n.op_type === 'Cast' && n.name?.startsWith('Cast_')).map((n) => Number(n.attribute![0]!.i))).toEqual([
      DATA_TYPE.FLOAT16,
      DATA_TYPE.INT64,
      DATA_TYPE.FLOAT16,
    ]);
    expectWithin(await agreeInBothRuntimes(fp32, plain.bytes, inputs), 0.01);
  });

  it('clamps weights into float16 range, converts Constant value_floats, and stores a constant twice when both precisions read it', async () => {
    const { bytes, model, report } = convert(extremeWeightsGraph());
    expect(report.clamped).toEqual({ raisedFromZero: 1, loweredToMax: 2 });
    const w = initializer(model.graph!, 'w');
    expect([...new Uint16Array(w.raw_data!.slice().buffer)]).toEqual([0x7bff, 0x8001, 0x3800, 0xfbff]);
    const constant = model.graph!.node!.find((n) => n.op_type === 'Constant')!;
    expect(constant.attribute!.map((a) => [a.name, a.t?.data_type])).toEqual([['value', DATA_TYPE.FLOAT16]]);
    const x = { x: { dtype: 'float32' as const, dims: [2, 4], data: Float32Array.of(0.5, 1, 2, -0.25, 0, 0, 0, 0) } };
    for (const measure of [measureAgreement, measureAgreementWasm]) {
      const a = await measure(extremeWeightsGraph(), bytes, x);
      expect(a.outputs.y!.maxAbsError).toBeGreaterThan(1e5); // 0.5 · 1e6 in float32, 0.5 · 65504 in float16: the documented clamp.
      expect(Number.isFinite(a.outputs.y!.maxAbsError)).toBe(true);
    }

    const g = new GraphBuilder('mixed');
    const input = g.input('x', 'float32', [2, 4]);
    const c = g.initializer('c', 'float32', [4], Float32Array.of(0.1, 0.2, 0.3, 1 / 3));
    g.op('Add', [g.op('Max', [input, c]), g.op('Mul', [input, c])], {}, 'y');
    g.output('y', 'float32', [2, 4]);
    const mixed = convert(g.build({ docString: 'a constant read by a blocked and a converted node' }));
    expect(mixed.report.constantsDuplicated).toBe(1);
    expect(mixed.model.graph!.initializer!.map((t) => [t.name, t.data_type])).toEqual([
      ['c', DATA_TYPE.FLOAT],
      ['c_fp16', DATA_TYPE.FLOAT16],
    ]);
    expect(mixed.model.graph!.node!.find((n) => n.op_type === 'Max')!.input).toEqual(['x', 'c']);
    expect(mixed.model.graph!.node!.find((n) => n.op_type === 'Mul')!.input).toEqual(['x_fp16', 'c_fp16']);
  });

  it('Cast(to=float), ConstantOfShape and an int64 mask: casts follow float16, the mask arithmetic stays float32', async () => {
    const g = new GraphBuilder('misc');
    const x = g.input('x', 'float32', ['batch', 4]);
    const mask = g.input('mask', 'int64', ['batch', 4]);
    const zeros = g.op('ConstantOfShape', [g.op('Shape', [x])]);
    const masked = g.op('Mul', [
      g.op('Sub', [g.initializer('one', 'float32', [], Float32Array.of(1)), g.op('Cast', [mask], { to: int(1) })]),
      g.initializer('big', 'float32', [], Float32Array.of(-10000)),
    ]);
    g.op('Add', [g.op('Add', [g.op('Cast', [x], { to: int(1) }), zeros]), masked], {}, 'y');
    g.op(
      'Gemm',
      [
        x,
        g.initializer(
          'w',
          'float32',
          [4, 4],
          Float32Array.from({ length: 16 }, (_, i) => i / 16),
        ),
      ],
      { alpha: float(1) },
      'z',
    );
    g.output('y', 'float32', ['batch', 4]);
    g.output('z', 'float32', ['batch', 4]);
    const fp32 = g.build({ docString: 'casts, ConstantOfShape, a mask' });
    const { bytes, model, report } = convert(fp32);
    expect(report.blockedNodes.map((b) => b.opType)).toEqual(['Cast', 'Sub', 'Mul']);
    const graph = model.graph!;
    const casts = graph.node!.filter((n) => n.op_type === 'Cast').map((n) => [n.input![0], Number(n.attribute![0]!.i)]);
    expect(casts).toContainEqual(['x_fp16', DATA_TYPE.FLOAT16]); // The model's own Cast(to=float), now to float16.
    expect(casts).toContainEqual(['mask', DATA_TYPE.FLOAT]); // Integer-derived: stays float32.
    expect(graph.node!.find((n) => n.op_type === 'ConstantOfShape')!.attribute![0]!.t!.data_type).toBe(DATA_TYPE.FLOAT16);
    const inputs = drawInputs(
      [
        { name: 'x', dtype: 'float32', shape: ['batch', 4] },
        { name: 'mask', dtype: 'int64', shape: ['batch', 4] },
      ],
      'misc',
      { batch: 3 },
    );
    expectWithin(await agreeInBothRuntimes(fp32, bytes, inputs), 0.01);
  });

  it('block lists by op and by node name, other domains kept float32, bad bytes refused', async () => {
    const byOp = convert(gemmGraph(), { opBlockList: ['Relu'] });
    expect(byOp.report.blockedNodes).toEqual([{ node: 'Relu_1', opType: 'Relu', reason: 'in the op block list' }]);
    expect(byOp.model.graph!.node!.map((n) => n.op_type)).toEqual(['Cast', 'Gemm', 'Cast', 'Relu', 'Cast', 'Gemm', 'Transpose', 'Gemm', 'Cast']);
    expectWithin(await agreeInBothRuntimes(gemmGraph(), byOp.bytes, x64), 0.01);
    const byName = convert(gemmGraph(), { nodeBlockList: ['Gemm_0'] });
    expect(byName.report.blockedNodes.map((b) => b.node)).toEqual(['Gemm_0']);
    expect(initializer(byName.model.graph!, 'fc1.weight').data_type).toBe(DATA_TYPE.FLOAT);
    expectWithin(await agreeInBothRuntimes(gemmGraph(), byName.bytes, x64), 0.01);

    const contrib = patchModel(gemmGraph(), (m) => {
      const relu = m.graph!.node!.find((n) => n.op_type === 'Relu')!;
      Object.assign(relu, { op_type: 'FastGelu', domain: 'com.microsoft' });
      m.opset_import!.push({ domain: 'com.microsoft', version: 1 });
    });
    const other = convert(contrib);
    expect(other.report.blockedNodes).toEqual([{ node: 'Relu_1', opType: 'FastGelu', reason: 'operator of domain "com.microsoft"' }]);
    expectWithin(await agreeInBothRuntimes(contrib, other.bytes, x64), 0.01);
    expect(() => convertToFp16(Uint8Array.of(1, 2, 3))).toThrow(TandemError);
    expect(() => convertToFp16(patchModel(gemmGraph(), (m) => (m.opset_import = [{ domain: '', version: 5 }])))).toThrow(/opset 5 predates 6/);
  });

  it('keeps float32 what has no float16 in the schema or in onnxruntime: Celu, Cast to string, ScatterND with a reduction', async () => {
    const g = new GraphBuilder('schema');
    const x = g.input('x', 'float32', [4]);
    const celu = g.op('Celu', [x], { alpha: float(1) }, 'celu');
    g.op('Cast', [celu], { to: int(DATA_TYPE.STRING) }, 'text');
    const indices = g.initializer('indices', 'int64', [2, 1], BigInt64Array.of(0n, 2n));
    g.op(
      'ScatterND',
      [celu, indices, g.op('Slice', [x, g.initializer('s0', 'int64', [1], BigInt64Array.of(0n)), g.initializer('s2', 'int64', [1], BigInt64Array.of(2n))])],
      { reduction: { type: 'string', value: 'add' } },
      'scattered',
    );
    g.op('ScatterND', [celu, indices, g.op('Neg', [g.op('Slice', [x, 's0', 's2'])])], {}, 'plain');
    g.output('text', 'float32', [4]);
    g.output('scattered', 'float32', [4]);
    g.output('plain', 'float32', [4]);
    const fp32 = patchModel(g.build({ docString: '' }), (m) => (m.graph!.output![0]!.type!.tensor_type!.elem_type = DATA_TYPE.STRING));
    const { bytes, report } = convert(fp32);
    expect(report.blockedNodes.map((b) => [b.opType, b.reason])).toEqual([
      ['Celu', 'its schema takes float32 only'],
      ['Cast', 'float16 values format as different strings'],
      ['ScatterND', expect.stringMatching(/reduction "add"/)],
    ]);
    const inputs = { x: { dtype: 'float32' as const, dims: [4], data: Float32Array.of(0.1234567, -2, 3.3, 4) } };
    const agreement = await agreeInBothRuntimes(fp32, bytes, inputs);
    expect(agreement.outputs.text!.exactFraction).toBe(1);
    expect(agreement.outputs.scattered!.maxAbsError).toBeLessThan(1e-3); // Runs at all: onnxruntime CPU has no float16 ScatterND with a reduction.
    expectWithin(agreement, 0.01);
  });
});
