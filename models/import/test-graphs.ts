/**
 * Small real ONNX models for the import tests, each showing one trait a foreign model may have: exporter
 * dimension names, unnamed dimensions, custom operator domains, weights in external files, training
 * information, non-tensor outputs, nested subgraphs. Built with the graph builder, then edited at the
 * protobuf level for what the builder never writes. Only tests import this.
 */
import { GraphBuilder, int } from '../onnx/graph-builder.ts';
import { ModelProto } from '../onnx/onnx-proto.ts';

/** A decoded ModelProto as protobufjs holds it, loosely typed for editing. */
export type ModelEdit = (model: any) => void;

/** Decodes, edits and re-encodes a model. */
export function editModel(bytes: Uint8Array, edit: ModelEdit): Uint8Array {
  const message = ModelProto.decode(bytes);
  edit(message);
  const out = ModelProto.encode(message).finish();
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

export const TINY_DIM = 'p2o.DynamicDimension.0';
export const TINY_CLASSES = 3;

/**
 * x float32 [p2o.DynamicDimension.0, 4] → Gemm (3×4 weights) → Relu → `logits` [·, 3], Softmax →
 * `probabilities` [·, 3]. Weights are fixed, so outputs are checkable: logits = relu(W x + b).
 */
export function tinyClassifier(): Uint8Array {
  const g = new GraphBuilder('tiny');
  const x = g.input('x', 'float32', [TINY_DIM, 4]);
  const w = g.initializer('w', 'float32', [TINY_CLASSES, 4], new Float32Array([1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 1]));
  const b = g.initializer('b', 'float32', [TINY_CLASSES], new Float32Array([0, 0.5, -0.5]));
  const h = g.op('Gemm', [x, w, b], { transB: int(1) });
  g.op('Relu', [h], {}, 'logits');
  g.op('Softmax', ['logits'], {}, 'probabilities');
  g.output('logits', 'float32', [TINY_DIM, TINY_CLASSES]);
  g.output('probabilities', 'float32', [TINY_DIM, TINY_CLASSES]);
  return g.build({ docString: 'tiny classifier for import tests', producerVersion: 'test' });
}

/** The tiny classifier with its input's and outputs' first dimension unnamed (neither size nor name). */
export function unnamedDims(): Uint8Array {
  return editModel(tinyClassifier(), (m) => {
    for (const v of [...m.graph.input, ...m.graph.output]) v.type.tensor_type.shape.dim[0] = {};
  });
}

/** Dimension names no manifest would take as they are: a tab inside, spaces around. */
export function awkwardDimNames(): Uint8Array {
  return editModel(tinyClassifier(), (m) => {
    m.graph.input[0].type.tensor_type.shape.dim[0] = { dim_param: '  batch\tsize ' };
  });
}

/** The Relu moved to a domain no runtime knows, with its opset imported. */
export function customDomain(): Uint8Array {
  return editModel(tinyClassifier(), (m) => {
    m.graph.node[1].domain = 'com.example.custom';
    m.opset_import.push({ domain: 'com.example.custom', version: 1 });
  });
}

/** The weights moved to a file beside the model, as onnx's save_as_external_data writes them. */
export function externalData(): Uint8Array {
  return editModel(tinyClassifier(), (m) => {
    const w = m.graph.initializer[0];
    w.raw_data = new Uint8Array(0);
    w.data_location = 1;
    w.external_data = [
      { key: 'location', value: 'weights.bin' },
      { key: 'offset', value: '0' },
      { key: 'length', value: '48' },
    ];
  });
}

/** A training_info entry (an optimizer step graph) beside the inference graph. */
export function trainingInfo(): Uint8Array {
  return editModel(tinyClassifier(), (m) => {
    m.training_info = [{ algorithm: { name: 'sgd-step', node: [] } }];
  });
}

/** A third output that is a sequence of tensors. */
export function sequenceOutput(): Uint8Array {
  return editModel(tinyClassifier(), (m) => {
    m.graph.node.push({ op_type: 'SequenceConstruct', input: ['logits', 'probabilities'], output: ['both'], name: 'seq' });
    m.graph.output.push({ name: 'both', type: { sequence_type: { elem_type: { tensor_type: { elem_type: 1 } } } } });
  });
}

/** The input declared bfloat16. */
export function bfloat16Input(): Uint8Array {
  return editModel(tinyClassifier(), (m) => {
    m.graph.input[0].type.tensor_type.elem_type = 16;
  });
}

/** The input declared without a shape. */
export function rankless(): Uint8Array {
  return editModel(tinyClassifier(), (m) => {
    m.graph.input[0].type.tensor_type.shape = null;
  });
}

/** The input's second dimension declared fixed at `size` (2^31, say): a size no real input has. */
export function hugeInputDim(size: number): Uint8Array {
  return editModel(tinyClassifier(), (m) => {
    m.graph.input[0].type.tensor_type.shape.dim[1] = { dim_value: size };
  });
}

/** The input named `__proto__`: a legal ONNX name, and the one a plain object's keys cannot hold. */
export function protoInputName(): Uint8Array {
  return editModel(tinyClassifier(), (m) => {
    m.graph.input[0].name = '__proto__';
    m.graph.node[0].input[0] = '__proto__';
  });
}

/** An operator the default domain does not have: onnxruntime refuses it, and no custom domain is involved. */
export function unknownOperator(): Uint8Array {
  return editModel(tinyClassifier(), (m) => {
    m.graph.node[1].op_type = 'NoSuchOperator';
  });
}

/** Loads, but fails at run time on batch 1: Reshape of 4·n values into rows of 3. */
export function failsOnBatchOne(): Uint8Array {
  const g = new GraphBuilder('bad-reshape');
  const x = g.input('x', 'float32', ['n', 4]);
  const shape = g.initializer('shape', 'int64', [2], new BigInt64Array([-1n, 3n]));
  g.op('Reshape', [x, shape], {}, 'y');
  g.output('y', 'float32', ['m', 3]);
  return g.build({ docString: 'fails on batch 1' });
}

/**
 * `If` on a boolean input: the then-branch reads the outer `x` and runs a node of a custom domain, the
 * else-branch is Identity. Shows domains and outer reads inside subgraphs.
 */
export function nestedCustomDomain(): Uint8Array {
  const g = new GraphBuilder('nested');
  const x = g.input('x', 'float32', ['batch', 4]);
  g.input('cond', 'uint8', []);
  g.op('Identity', [x], {}, 'x_copy');
  g.output('x_copy', 'float32', ['batch', 4]);
  const bytes = g.build({ docString: 'nested' });
  const branch = (opType: string, domain: string) => ({
    name: `${opType}_branch`,
    node: [{ op_type: opType, domain, input: ['x'], output: [`${opType}_out`], name: opType }],
    output: [{ name: `${opType}_out`, type: { tensor_type: { elem_type: 1 } } }],
  });
  return editModel(bytes, (m) => {
    m.graph.input[1].type.tensor_type.elem_type = 9; // bool
    m.graph.node.push({
      op_type: 'If',
      input: ['cond'],
      output: ['chosen'],
      name: 'if',
      attribute: [
        { name: 'then_branch', type: 5, g: branch('Swish', 'com.example.nested') },
        { name: 'else_branch', type: 5, g: branch('Identity', '') },
      ],
    });
    m.graph.output.push({ name: 'chosen', type: { tensor_type: { elem_type: 1, shape: { dim: [{ dim_param: 'batch' }, { dim_value: 4 }] } } } });
    m.opset_import.push({ domain: 'com.example.nested', version: 1 });
  });
}

/** Weights in a Constant node rather than an initializer (as tf2onnx often writes them). */
export function constantWeights(): Uint8Array {
  const g = new GraphBuilder('constant');
  const x = g.input('x', 'float32', ['batch', 2]);
  g.op('Identity', [x], {}, 'y');
  g.output('y', 'float32', ['batch', 2]);
  const bytes = g.build({ docString: 'constant' });
  return editModel(bytes, (m) => {
    m.graph.node.unshift({
      op_type: 'Constant',
      output: ['k'],
      name: 'k',
      attribute: [{ name: 'value', type: 4, t: { name: 'k', dims: [2], data_type: 1, raw_data: new Uint8Array(new Float32Array([2, 3]).buffer) } }],
    });
    m.graph.node[1].op_type = 'Mul';
    m.graph.node[1].input = ['x', 'k'];
  });
}

/** The tiny classifier with `logits` listed twice among the graph's outputs. */
export function duplicateOutput(): Uint8Array {
  return editModel(tinyClassifier(), (m) => {
    m.graph.output.push({ ...m.graph.output[0] });
  });
}

/** The tiny classifier with its input `x` listed twice among the graph's inputs. */
export function duplicateInput(): Uint8Array {
  return editModel(tinyClassifier(), (m) => {
    m.graph.input.push({ ...m.graph.input[0] });
  });
}

/**
 * points float32 [n, 4] → Softmax over axis 0 → weights [n, 4]: each answer depends on every row, though
 * the signature looks batchable (the same `n` leads input and output). Alone, a row answers all ones.
 */
export function softmaxOverRows(): Uint8Array {
  const g = new GraphBuilder('softmax-over-rows');
  g.input('points', 'float32', ['n', 4]);
  g.op('Softmax', ['points'], { axis: int(0) }, 'weights');
  g.output('weights', 'float32', ['n', 4]);
  return g.build({ docString: 'softmax over the points' });
}

/** x float32 [n, 4] → ReduceSum of everything → total, a scalar: no rows to split. */
export function sumToScalar(): Uint8Array {
  const g = new GraphBuilder('sum-to-scalar');
  g.input('x', 'float32', ['n', 4]);
  g.op('ReduceSum', ['x'], { keepdims: int(0) }, 'total');
  g.output('total', 'float32', []);
  return g.build({ docString: 'sum of everything' });
}
