import { describe, expect, it } from 'vitest';
import { readOnnx, type OnnxModel } from './read-onnx.ts';
import { checkImportable, unknownDomains } from './refusals.ts';
import { manifestDim, sanitizeDimName, tensorSpec, unnamedDimName } from './signature.ts';
import * as graphs from './test-graphs.ts';

const refusal = (model: OnnxModel) => {
  try {
    checkImportable(model);
    return undefined;
  } catch (err) {
    return err as { code: string; message: string };
  }
};

describe('readOnnx', () => {
  it('reads inputs, outputs, opsets, weights and steps of a built model', () => {
    const model = readOnnx(graphs.tinyClassifier());
    expect(model.irVersion).toBe(8);
    expect(model.opsetImports).toEqual({ 'ai.onnx': 17 });
    expect(model.producer).toEqual({ name: 'tandem-models', version: 'test' });
    // Initializers are not inputs.
    expect(model.inputs).toEqual([{ name: 'x', type: { kind: 'tensor', elemType: 1, dtype: 'float32', shape: [{ param: graphs.TINY_DIM }, { value: 4 }] } }]);
    expect(model.outputs.map((o) => o.name)).toEqual(['logits', 'probabilities']);
    expect(model.weightBytes).toBe((12 + 3) * 4);
    expect(model.weightCount).toBe(2);
    expect(model.domains).toEqual({ 'ai.onnx': ['Gemm', 'Relu', 'Softmax'] });
    expect(model.steps.map((s) => s.opType)).toEqual(['Gemm', 'Relu', 'Softmax']);
    expect(model.steps[0]!.inputs).toEqual(['x', 'w', 'b']);
    expect(refusal(model)).toBeUndefined();
  });

  it('turns exporter dim names, unnamed dims and awkward names into manifest dims', () => {
    expect(tensorSpec(readOnnx(graphs.tinyClassifier()).inputs[0]!).shape).toEqual(['p2o.DynamicDimension.0', 4]);
    const unnamed = readOnnx(graphs.unnamedDims());
    expect(unnamed.inputs[0]!.type).toMatchObject({ shape: [{ unnamed: true }, { value: 4 }] });
    expect(tensorSpec(unnamed.inputs[0]!).shape).toEqual(['x_dim0', 4]);
    expect(unnamed.outputs.map((o) => tensorSpec(o).shape)).toEqual([
      ['logits_dim0', 3],
      ['probabilities_dim0', 3],
    ]);
    expect(tensorSpec(readOnnx(graphs.awkwardDimNames()).inputs[0]!).shape).toEqual(['batch size', 4]);
    const minusOne = readOnnx(graphs.editModel(graphs.tinyClassifier(), (m) => void (m.graph.input[0].type.tensor_type.shape.dim[0] = { dim_value: -1 })));
    expect(tensorSpec(minusOne.inputs[0]!).shape).toEqual(['x_dim0', 4]);
    expect(sanitizeDimName(' \t\n')).toBeUndefined();
    expect(manifestDim({ param: '\t' }, 'x', 2)).toBe('x_dim2');
    expect(unnamedDimName('a'.repeat(300), 1)).toHaveLength(128);
    expect(unnamedDimName('  ', 0)).toBe('tensor_dim0');
  });

  it('counts Constant-node weights and finds domains and outer reads inside subgraphs', () => {
    expect(readOnnx(graphs.constantWeights())).toMatchObject({ weightBytes: 8, weightCount: 1 });
    const nested = readOnnx(graphs.nestedCustomDomain());
    expect(nested.domains).toEqual({ 'ai.onnx': ['Identity', 'If'], 'com.example.nested': ['Swish'] });
    // The If reads `x` from inside its branches: x stays live until the If runs.
    expect(nested.steps.find((s) => s.opType === 'If')!.inputs).toEqual(['cond', 'x']);
    expect(unknownDomains(nested)).toEqual({ 'com.example.nested': ['Swish'] });
    expect(unknownDomains(readOnnx(graphs.tinyClassifier()))).toEqual({});
  });

  it('refuses bytes that are not an ONNX model, with onnx_invalid', () => {
    const text = new TextEncoder();
    for (const bytes of [
      new Uint8Array(0),
      text.encode('hello, not a model'),
      text.encode('{"inputs": []}'),
      new Uint8Array([0x08, 0x07]),
      graphs.tinyClassifier().subarray(0, 40),
    ]) {
      expect(() => readOnnx(bytes)).toThrow(
        expect.objectContaining({ code: 'onnx_invalid', message: expect.stringMatching(/not an ONNX model: .*export the model/) }),
      );
    }
  });

  it('names each refusal with its code and the fix', () => {
    const cases: [Uint8Array, string, RegExp][] = [
      [graphs.externalData(), 'onnx_external_data', /"w".*save_as_external_data=False/],
      [graphs.trainingInfo(), 'onnx_training_graph', /1 training_info entry.*inference graph/],
      [graphs.sequenceOutput(), 'onnx_unsupported_io', /output "both" is a sequence, not a dense tensor/],
      [graphs.bfloat16Input(), 'onnx_unsupported_io', /input "x" has element type bfloat16.*cast it/],
      [graphs.rankless(), 'onnx_unsupported_io', /input "x" declares no shape.*update_model_dims/],
      [graphs.duplicateOutput(), 'onnx_unsupported_io', /output "logits" is listed twice.*names each tensor once/],
      [graphs.duplicateInput(), 'onnx_unsupported_io', /input "x" is listed twice/],
    ];
    for (const [bytes, code, message] of cases) expect(refusal(readOnnx(bytes))).toMatchObject({ code, message: expect.stringMatching(message) });
  });

  it('detects training operators as a training graph', () => {
    const model = readOnnx(
      graphs.editModel(graphs.tinyClassifier(), (m) => {
        m.graph.node[1].domain = 'ai.onnx.preview.training';
        m.graph.node[1].op_type = 'Gradient';
      }),
    );
    expect(refusal(model)).toMatchObject({ code: 'onnx_training_graph', message: expect.stringContaining('ai.onnx.preview.training:Gradient') });
  });

  it('records external data anywhere, even inside a subgraph', () => {
    const bytes = graphs.editModel(graphs.nestedCustomDomain(), (m) => {
      m.graph.node[1].attribute[1].g.initializer = [
        { name: 'inner', dims: [1], data_type: 1, data_location: 1, external_data: [{ key: 'location', value: 'x.bin' }] },
      ];
    });
    expect(readOnnx(bytes).externalTensors).toEqual(['inner']);
  });
});
