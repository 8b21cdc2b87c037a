/**
 * Dynamic int8 on the built-in models (against the recipe's own int8 variant) and on foreign-style graphs,
 * each loaded and run in onnxruntime-node and onnxruntime-web (WASM). Tolerance: the variant's largest
 * absolute error on an output stays under a stated fraction of that output's largest reference magnitude
 * (int8 activations carry 1/255 of their range per step, so a few percent through a few layers).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { TandemError } from '../../protocol/errors.ts';
import type { NamedTensors } from '../../protocol/tensor.ts';
import { DATA_TYPE, parseModel, type OnnxGraph, type OnnxModel } from '../onnx/onnx-proto.ts';
import { mlpClassifierData } from '../recipes/mlp-classifier.ts';
import { shapesCnnData } from '../recipes/shapes-cnn.ts';
import { sharedModelRepository, type TestModelRepository } from '../test-support.ts';
import { measureAgreement, measureAgreementWasm, type Agreement } from './agreement.ts';
import { drawInputs } from './draw-inputs.ts';
import { quantizeDynamicInt8, type DynamicInt8Options, type Int8Decision } from './dynamic-int8.ts';
import { allGraphs, readCounts } from './graph-scope.ts';
import { convGraph, encoderGraph, encoderInputs, gemmGraph, ifGraph, loopGraph, matMulGraph, patchModel } from './test-graphs.ts';

/** Quantizes and collects the decisions. */
function quantize(bytes: Uint8Array, options: DynamicInt8Options = {}): { bytes: Uint8Array; model: OnnxModel; decisions: Int8Decision[] } {
  const decisions: Int8Decision[] = [];
  const out = quantizeDynamicInt8(bytes, { ...options, onDecision: (d) => decisions.push(d) });
  return { bytes: out, model: parseModel(out), decisions };
}

const ops = (graph: OnnxGraph): string[] => (graph.node ?? []).map((n) => n.op_type ?? '');
const initializerNames = (graph: OnnxGraph): string[] => (graph.initializer ?? []).map((t) => t.name ?? '');

/** Initializers that no node or output reads: what a rewrite must not leave behind. */
function unread(model: OnnxModel): string[] {
  const counts = readCounts(model);
  return allGraphs(model).flatMap((g) => initializerNames(g).filter((n) => !counts.get(n)));
}

/** Runs both models in both runtimes; returns the two measurements after checking they agree. */
async function agreeInBothRuntimes(reference: Uint8Array, variant: Uint8Array, inputs: NamedTensors | NamedTensors[], top1?: string[]): Promise<Agreement> {
  const node = await measureAgreement(reference, variant, inputs, top1 ? { top1 } : {});
  const wasm = await measureAgreementWasm(reference, variant, inputs, top1 ? { top1 } : {});
  // The same kernels compiled twice: the figures match to float32 rounding.
  expect(Math.abs(node.maxAbsError - wasm.maxAbsError)).toBeLessThanOrEqual(1e-4 * Math.max(1, node.maxAbsError));
  if (top1) expect(Math.abs(node.top1Agreement! - wasm.top1Agreement!)).toBeLessThanOrEqual(0.002);
  return node;
}

/** Every output's (or the named ones') largest error is at most `fraction` of its largest reference magnitude. */
function expectWithin(agreement: Agreement, fraction: number, outputs = Object.keys(agreement.outputs)): void {
  for (const name of outputs) {
    const o = agreement.outputs[name]!;
    expect(o.maxAbsError, `output ${name}: max abs error ${o.maxAbsError} against scale ${o.referenceScale}`).toBeLessThanOrEqual(fraction * o.referenceScale);
  }
}

describe('built-in models', () => {
  let shared: TestModelRepository;
  const file = (id: string, variant: string) => readFile(join(shared.repository, id, '1.0.0', `${variant}.onnx`)).then((b) => new Uint8Array(b));
  beforeAll(async () => {
    shared = await sharedModelRepository((line) => console.log(line));
  });

  it('mlp-classifier: the recipe int8 variant bit for bit in weights, a quarter of the fp32 bytes, the same outputs', async () => {
    const [fp32, recipe] = [await file('mlp-classifier', 'fp32'), await file('mlp-classifier', 'int8')];
    const { bytes, model, decisions } = quantize(fp32);
    expect(decisions.map((d) => [d.node, d.quantized, d.form])).toEqual(['Gemm_0', 'Gemm_2', 'Gemm_4'].map((n) => [n, true, 'MatMulInteger']));
    const ratio = bytes.length / fp32.length;
    console.log(`mlp-classifier: fp32 ${fp32.length} B, recipe int8 ${recipe.length} B, quantizeDynamicInt8 ${bytes.length} B (ratio ${ratio.toFixed(4)})`);
    expect(ratio).toBeGreaterThan(0.24);
    expect(ratio).toBeLessThan(0.26);
    expect(Math.abs(bytes.length - recipe.length)).toBeLessThan(100);
    // Every int8 weight and scale the recipe wrote is in ours, byte for byte.
    const ours = new Set(model.graph!.initializer!.map((t) => `${t.data_type}:${t.dims!.join('x')}:${Buffer.from(t.raw_data!).toString('base64')}`));
    for (const t of parseModel(recipe).graph!.initializer!)
      expect(ours.has(`${t.data_type}:${t.dims!.join('x')}:${Buffer.from(t.raw_data!).toString('base64')}`), t.name).toBe(true);
    expect(unread(model)).toEqual([]);

    const { heldOut } = mlpClassifierData();
    const inputs = { x: { dtype: 'float32' as const, dims: [heldOut.count, 256], data: heldOut.x } };
    const vsRecipe = await agreeInBothRuntimes(recipe, bytes, inputs, ['logits']);
    console.log(
      `mlp-classifier: against the recipe int8 on ${heldOut.count} held-out samples: top-1 ${vsRecipe.top1Agreement}, max abs error ${vsRecipe.maxAbsError}`,
    );
    expect(vsRecipe.top1Agreement).toBeGreaterThanOrEqual(0.99);
    expect(vsRecipe.maxAbsError).toBe(0);
    const vsFp32 = await agreeInBothRuntimes(fp32, bytes, inputs, ['logits']);
    console.log(
      `mlp-classifier: against fp32: top-1 ${vsFp32.top1Agreement}, logits max abs error ${vsFp32.outputs.logits!.maxAbsError.toFixed(4)} (scale ${vsFp32.outputs.logits!.referenceScale.toFixed(2)}), probabilities max abs error ${vsFp32.outputs.probabilities!.maxAbsError.toFixed(4)}`,
    );
    expect(vsFp32.top1Agreement).toBeGreaterThanOrEqual(0.99);
    // Logits only: a probability near a decision boundary moves far on a small logit change.
    expectWithin(vsFp32, 0.05, ['logits']);
  });

  it('shapes-cnn: Gemm layers int8, the small convolutions left float, top-1 as the recipe int8 variant', async () => {
    const [fp32, recipe] = [await file('shapes-cnn', 'fp32'), await file('shapes-cnn', 'int8')];
    const { bytes, model, decisions } = quantize(fp32);
    expect(decisions.filter((d) => d.quantized).map((d) => d.node)).toEqual(['Gemm_7', 'Gemm_9']);
    expect(decisions.filter((d) => !d.quantized).map((d) => d.reason)).toEqual([
      expect.stringMatching(/144 elements, under the threshold of 1024/),
      expect.stringMatching(/288 elements/),
    ]);
    expect(ops(model.graph!).filter((op) => op === 'Conv')).toHaveLength(2);
    const ratio = bytes.length / fp32.length;
    console.log(`shapes-cnn: fp32 ${fp32.length} B, recipe int8 ${recipe.length} B, quantizeDynamicInt8 ${bytes.length} B (ratio ${ratio.toFixed(4)})`);
    expect(ratio).toBeLessThan(0.27);

    const { heldOut } = shapesCnnData();
    const inputs = { image: { dtype: 'float32' as const, dims: [heldOut.count, 1, 28, 28], data: heldOut.images } };
    const vsRecipe = await agreeInBothRuntimes(recipe, bytes, inputs, ['logits']);
    const vsFp32 = await agreeInBothRuntimes(fp32, bytes, inputs, ['logits']);
    const logits = vsFp32.outputs.logits!;
    console.log(
      `shapes-cnn: top-1 against the recipe int8 ${vsRecipe.top1Agreement} (max abs error ${vsRecipe.maxAbsError}), against fp32 ${vsFp32.top1Agreement}; logits against fp32: max abs error ${logits.maxAbsError.toFixed(4)}, mean ${logits.meanAbsError.toFixed(4)} (scale ${logits.referenceScale.toFixed(2)})`,
    );
    expect(vsRecipe.top1Agreement).toBeGreaterThanOrEqual(0.99);
    expect(vsFp32.top1Agreement).toBeGreaterThanOrEqual(0.99);
    expectWithin(vsFp32, 0.1, ['logits']);
    expect(logits.meanAbsError).toBeLessThanOrEqual(0.02 * logits.referenceScale);
  });
});

describe('foreign-style graphs', () => {
  it('Gemm: transB, alpha, beta and bias, transA; the small weight left float unless the threshold says otherwise', async () => {
    const fp32 = gemmGraph();
    const inputs = drawInputs([{ name: 'x', dtype: 'float32', shape: ['batch', 64] }], 'gemm', { batch: 16 });
    const defaults = quantize(fp32);
    expect(defaults.decisions.map((d) => [d.node, d.quantized])).toEqual([
      ['Gemm_4', false],
      ['Gemm_0', true],
      ['Gemm_2', true],
    ]);
    const all = quantize(fp32, { minWeightElements: 256 });
    expect(all.decisions.every((d) => d.quantized)).toBe(true);
    const graph = all.model.graph!;
    expect(ops(graph)).not.toContain('Gemm');
    expect(ops(graph).filter((op) => op === 'DynamicQuantizeLinear')).toHaveLength(3);
    expect(initializerNames(graph)).not.toContain('fc1.weight');
    expect(initializerNames(graph)).not.toContain('fc1.bias'); // Replaced by beta · bias.
    expect(unread(all.model)).toEqual([]);
    for (const variant of [defaults.bytes, all.bytes]) {
      const agreement = await agreeInBothRuntimes(fp32, variant, inputs);
      console.log(
        `gemm graph: ${fp32.length} → ${variant.length} B; max abs error ${agreement.maxAbsError.toFixed(4)} (scale ${agreement.outputs.y!.referenceScale.toFixed(2)})`,
      );
      expectWithin(agreement, 0.05);
    }
  });

  it('MatMul over 3-D activations: one DynamicQuantizeLinear per activation, Transpose and Constant weights folded, a shared weight quantized once, a tied weight left float', async () => {
    const fp32 = matMulGraph();
    const { bytes, model, decisions } = quantize(fp32);
    expect(decisions.find((d) => !d.quantized)).toMatchObject({ node: 'MatMul_11', reason: expect.stringMatching(/tied\.weight.*other nodes/) });
    expect(decisions.filter((d) => d.quantized)).toHaveLength(6);
    const graph = model.graph!;
    expect(graph.node!.filter((n) => n.op_type === 'DynamicQuantizeLinear' && n.input![0] === 'x')).toHaveLength(1);
    expect(graph.node!.filter((n) => n.op_type === 'Transpose').map((n) => n.input![0])).toEqual(['tied.weight']);
    expect(ops(graph)).not.toContain('Constant');
    expect(initializerNames(graph).filter((n) => n.startsWith('shared.weight'))).toEqual([
      'shared.weight_quantized',
      'shared.weight_scale',
      'shared.weight_zero_point',
    ]);
    expect(initializerNames(graph).filter((n) => graph.initializer!.find((t) => t.name === n)!.data_type === DATA_TYPE.FLOAT && !n.endsWith('_scale'))).toEqual(
      ['tied.weight'],
    );
    expect(unread(model)).toEqual([]);
    const inputs = drawInputs(
      [
        { name: 'x', dtype: 'float32', shape: ['batch', 'seq', 64] },
        { name: 'ids', dtype: 'int64', shape: ['batch'] },
      ],
      'matmul',
      { batch: 4, seq: 7 },
    );
    const agreement = await agreeInBothRuntimes(fp32, bytes, inputs);
    console.log(
      `matmul graph: ${fp32.length} → ${bytes.length} B; y max abs error ${agreement.outputs.y!.maxAbsError.toFixed(4)} (scale ${agreement.outputs.y!.referenceScale.toFixed(2)})`,
    );
    expect(agreement.outputs.emb!.maxAbsError).toBe(0);
    expectWithin(agreement, 0.08);
  });

  it('an encoder layer as PyTorch exports it: the six projections int8, attention products, embeddings and the small head float', async () => {
    const fp32 = encoderGraph();
    const { bytes, model, decisions } = quantize(fp32);
    expect(decisions.filter((d) => d.quantized)).toHaveLength(6);
    expect(decisions.filter((d) => !d.quantized).map((d) => d.reason)).toEqual([
      'the weight is not a constant',
      'the weight is not a constant',
      expect.stringMatching(/192 elements/),
    ]);
    // Q, K and V read one activation: one DynamicQuantizeLinear.
    expect(ops(model.graph!).filter((op) => op === 'DynamicQuantizeLinear')).toHaveLength(4);
    expect(unread(model)).toEqual([]);
    const inputs = encoderInputs();
    const agreement = await agreeInBothRuntimes(fp32, bytes, inputs, ['logits']);
    console.log(
      `encoder graph: ${fp32.length} → ${bytes.length} B (ratio ${(bytes.length / fp32.length).toFixed(3)}, embeddings float); hidden max abs error ${agreement.outputs.hidden!.maxAbsError.toFixed(4)} (scale ${agreement.outputs.hidden!.referenceScale.toFixed(2)}), logits ${agreement.outputs.logits!.maxAbsError.toFixed(4)} (scale ${agreement.outputs.logits!.referenceScale.toFixed(2)})`,
    );
    expect(agreement.top1Agreement).toBe(1);
    expectWithin(agreement, 0.05);
  });

  it('If: MatMuls in both branches quantized, weights kept in the graph that held them', async () => {
    const fp32 = ifGraph();
    const { bytes, model, decisions } = quantize(fp32);
    expect(decisions.map((d) => d.node).sort()).toEqual(['else_after', 'else_matmul', 'then_after', 'then_matmul']);
    expect(decisions.every((d) => d.quantized)).toBe(true);
    const [main, thenBranch, elseBranch] = allGraphs(model) as [OnnxGraph, OnnxGraph, OnnxGraph];
    expect(initializerNames(main)).toEqual(expect.arrayContaining(['then.weight_quantized', 'after.weight_quantized']));
    expect(initializerNames(main)).not.toContain('then.weight');
    expect(initializerNames(elseBranch)).toEqual(['else.weight_quantized', 'else.weight_scale', 'else.weight_zero_point']);
    expect(ops(thenBranch)).toEqual([
      'DynamicQuantizeLinear',
      'MatMulInteger',
      'Cast',
      'Mul',
      'Mul',
      'DynamicQuantizeLinear',
      'MatMulInteger',
      'Cast',
      'Mul',
      'Mul',
    ]);
    expect(unread(model)).toEqual([]);
    // x's sum decides the branch: positive and negative batches take both.
    const positive = drawInputs([{ name: 'x', dtype: 'float32', shape: [8, 64] }], 'if');
    const x = positive.x!.data as Float32Array;
    const negative = { x: { ...positive.x!, data: x.map((v) => -Math.abs(v)) } };
    const plus = { x: { ...positive.x!, data: x.map((v) => Math.abs(v)) } };
    const agreement = await agreeInBothRuntimes(fp32, bytes, [plus, negative]);
    console.log(
      `if graph: ${fp32.length} → ${bytes.length} B; max abs error ${agreement.maxAbsError.toFixed(4)} (scale ${agreement.outputs.y!.referenceScale.toFixed(2)})`,
    );
    expectWithin(agreement, 0.05);
    expect(quantizeDynamicInt8(fp32, { subgraphs: false })).toBe(fp32);
  });

  it('Loop: the MatMul in the body quantized, its weight in the outer graph', async () => {
    const fp32 = loopGraph();
    const { bytes, model, decisions } = quantize(fp32);
    expect(decisions).toMatchObject([{ node: 'body_matmul', quantized: true }]);
    expect(initializerNames(model.graph!)).toEqual(['trips', 'keep_going', 'loop.weight_quantized', 'loop.weight_scale', 'loop.weight_zero_point']);
    expect(ops(allGraphs(model)[1]!)).toEqual(['Identity', 'DynamicQuantizeLinear', 'MatMulInteger', 'Cast', 'Mul', 'Mul', 'Relu', 'ReduceMean']);
    const agreement = await agreeInBothRuntimes(fp32, bytes, drawInputs([{ name: 'x', dtype: 'float32', shape: ['batch', 64] }], 'loop', { batch: 4 }));
    console.log(
      `loop graph: ${fp32.length} → ${bytes.length} B; y max abs error ${agreement.outputs.y!.maxAbsError.toFixed(4)} (scale ${agreement.outputs.y!.referenceScale.toFixed(2)})`,
    );
    expectWithin(agreement, 0.05);
  });

  it('Conv: int8 weights dequantized in the graph by default, ConvInteger on request, or left float', async () => {
    const fp32 = convGraph();
    const inputs = drawInputs([{ name: 'image', dtype: 'float32', shape: ['batch', 8, 16, 16] }], 'conv', { batch: 4 });
    const weightOnly = quantize(fp32);
    expect(ops(weightOnly.model.graph!)).toEqual([
      'DequantizeLinear',
      'Conv',
      'Relu',
      'DequantizeLinear',
      'Conv',
      'Relu',
      'GlobalAveragePool',
      'Flatten',
      'Gemm',
    ]);
    const integer = quantize(fp32, { conv: 'integer' });
    expect(ops(integer.model.graph!).filter((op) => op === 'ConvInteger')).toHaveLength(2);
    expect(initializerNames(integer.model.graph!)).toContain('conv1.bias_broadcast');
    const none = quantize(fp32, { conv: 'none' });
    expect(none.bytes).toBe(fp32); // The Gemm is under the threshold: nothing to do.
    for (const [label, variant] of [
      ['weight-only', weightOnly],
      ['integer', integer],
    ] as const) {
      expect(unread(variant.model)).toEqual([]);
      const agreement = await agreeInBothRuntimes(fp32, variant.bytes, inputs);
      console.log(
        `conv graph (${label}): ${fp32.length} → ${variant.bytes.length} B (ratio ${(variant.bytes.length / fp32.length).toFixed(3)}); max abs error ${agreement.maxAbsError.toFixed(5)} (scale ${agreement.outputs.logits!.referenceScale.toFixed(3)})`,
      );
      expectWithin(agreement, 0.05);
    }
  });

  it('opset 10: MatMul and Gemm as com.microsoft DynamicQuantizeMatMul, the domain imported only then', async () => {
    const fp32 = patchModel(matMulGraph(), (m) => (m.opset_import = [{ domain: '', version: 10 }]));
    const { bytes, model } = quantize(fp32);
    expect(model.graph!.node!.filter((n) => n.op_type === 'DynamicQuantizeMatMul').map((n) => n.domain)).toEqual(Array(6).fill('com.microsoft'));
    expect(ops(model.graph!)).not.toContain('DynamicQuantizeLinear');
    expect(model.opset_import!.map((o) => [o.domain ?? '', Number(o.version)])).toEqual([
      ['', 10],
      ['com.microsoft', 1],
    ]);
    expect(quantize(matMulGraph()).model.opset_import!.map((o) => o.domain ?? '')).toEqual(['']);
    const inputs = drawInputs(
      [
        { name: 'x', dtype: 'float32', shape: ['batch', 'seq', 64] },
        { name: 'ids', dtype: 'int64', shape: ['batch'] },
      ],
      'opset10',
      { batch: 4, seq: 7 },
    );
    expectWithin(await agreeInBothRuntimes(fp32, bytes, inputs), 0.08);
  });

  it('IR 3: removed initializers leave the inputs, new ones join them; IR 4+: an initializer that is also an input is overridable and stays float', async () => {
    const ir3 = patchModel(gemmGraph(), (m) => {
      m.ir_version = 3;
      m.graph!.input!.push(
        ...m.graph!.initializer!.map((t) => ({
          name: t.name!,
          type: { tensor_type: { elem_type: t.data_type!, shape: { dim: t.dims!.map((d) => ({ dim_value: d })) } } },
        })),
      );
    });
    const { bytes, model } = quantize(ir3);
    const inputs = model.graph!.input!.map((v) => v.name);
    expect(inputs).not.toContain('fc1.weight');
    expect(inputs).toEqual(expect.arrayContaining(initializerNames(model.graph!)));
    expectWithin(await agreeInBothRuntimes(ir3, bytes, drawInputs([{ name: 'x', dtype: 'float32', shape: [4, 64] }], 'ir3')), 0.05);

    const overridable = patchModel(gemmGraph(), (m) =>
      m.graph!.input!.push({
        name: 'fc2.weight',
        type: { tensor_type: { elem_type: DATA_TYPE.FLOAT, shape: { dim: [{ dim_value: 48 }, { dim_value: 32 }] } } },
      }),
    );
    expect(quantize(overridable).decisions.find((d) => d.node === 'Gemm_2')).toMatchObject({ quantized: false, reason: 'the weight is not a constant' });
  });

  it('leaves external-data weights alone, returns a model with nothing to quantize unchanged, and refuses bytes that are no model', () => {
    const external = patchModel(gemmGraph(), (m) => {
      const weight = m.graph!.initializer!.find((t) => t.name === 'fc1.weight')!;
      delete weight.raw_data;
      Object.assign(weight, { data_location: 1, external_data: [{ key: 'location', value: 'weights.bin' }] });
    });
    expect(quantize(external).decisions.find((d) => d.node === 'Gemm_0')).toMatchObject({
      quantized: false,
      reason: 'the weight is stored in an external file',
    });
    const tiny = gemmGraph();
    expect(quantizeDynamicInt8(tiny, { opTypes: ['Conv'] })).toBe(tiny);
    expect(() => quantizeDynamicInt8(new TextEncoder().encode('not a model'))).toThrow(TandemError);
    expect(() => quantizeDynamicInt8(tiny, { minWeightElements: 0 })).toThrow(/positive integer/);
  });
});
