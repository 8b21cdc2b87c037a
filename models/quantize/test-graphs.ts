/**
 * Small graphs written the way third-party exporters write them (PyTorch, TF2ONNX, Paddle2ONNX), for the
 * quantize tests: Gemm with transB, alpha, beta and a bias; MatMul over 3-D activations with a pre-transposed
 * weight, a Transpose node before the weight, a Constant-node weight and a weight shared by two nodes; an If
 * whose branches read weights of the outer graph and of their own; a Loop; a Conv net; int64 shape
 * arithmetic in float around a Resize; weights outside float16's range; and a BERT-like encoder layer.
 * Weights are seeded, so every run builds the same bytes. Test support only.
 */
import type { NamedTensors } from '../../protocol/tensor.ts';
import { createRng, fillNormal } from '../math/prng.ts';
import { float, GraphBuilder, int, ints } from '../onnx/graph-builder.ts';
import { ATTRIBUTE_TYPE, DATA_TYPE, parseModel, serializeModel, type OnnxGraph, type OnnxModel, type OnnxNode } from '../onnx/onnx-proto.ts';
import { drawInputs } from './draw-inputs.ts';
import { float32Tensor } from './tensor-data.ts';

const rng = createRng('quantize/test-graphs');

/** Seeded normal weights with standard deviation 1/√fanIn (so activations keep their scale). */
export function weights(name: string, count: number, fanIn: number): Float32Array {
  return fillNormal(rng.fork(name), new Float32Array(count), 1 / Math.sqrt(fanIn));
}

/** Parses, edits and re-serialises a model (for what GraphBuilder does not write: bodies, opsets, IR). */
export function patchModel(bytes: Uint8Array, edit: (model: OnnxModel) => void): Uint8Array {
  const model = parseModel(bytes);
  edit(model);
  return serializeModel(model);
}

/** x [batch, 64] → Gemm(transB, alpha 0.5, beta 2, bias) → Relu → Gemm(no bias) → Transpose → Gemm(transA) → y [batch, 16]. */
export function gemmGraph(): Uint8Array {
  const g = new GraphBuilder('gemm');
  const x = g.input('x', 'float32', ['batch', 64]);
  const w1 = g.initializer('fc1.weight', 'float32', [48, 64], weights('gemm.w1', 48 * 64, 64));
  const b1 = g.initializer('fc1.bias', 'float32', [48], weights('gemm.b1', 48, 4));
  const h = g.op('Relu', [g.op('Gemm', [x, w1, b1], { transB: int(1), alpha: float(0.5), beta: float(2) })]);
  const w2 = g.initializer('fc2.weight', 'float32', [48, 32], weights('gemm.w2', 48 * 32, 48));
  const h2 = g.op('Gemm', [h, w2], {});
  const w3 = g.initializer('fc3.weight', 'float32', [32, 16], weights('gemm.w3', 32 * 16, 32));
  const c3 = g.initializer('fc3.bias', 'float32', [1, 16], weights('gemm.b3', 16, 4));
  const transposed = g.op('Transpose', [h2], { perm: ints([1, 0]) });
  g.op('Gemm', [transposed, w3, c3], { transA: int(1) }, 'y');
  g.output('y', 'float32', ['batch', 16]);
  return g.build({ docString: 'foreign-style Gemm graph' });
}

/**
 * x [batch, seq, 64]: three projections of x (one DynamicQuantizeLinear for all), one of them through a
 * Transpose node, one a Constant node; a weight shared by two MatMuls; a weight also read by a Gather
 * (tied embedding), which must stay float; → y [batch, seq, 32] and emb [batch, 32].
 */
export function matMulGraph(): Uint8Array {
  const g = new GraphBuilder('matmul');
  const x = g.input('x', 'float32', ['batch', 'seq', 64]);
  const ids = g.input('ids', 'int64', ['batch']);
  const wq = g.initializer('q.weight', 'float32', [64, 32], weights('mm.q', 64 * 32, 64));
  const wkT = g.initializer('k.weight', 'float32', [32, 64], weights('mm.k', 32 * 64, 64));
  const q = g.op('MatMul', [x, wq]);
  const k = g.op('MatMul', [x, g.op('Transpose', [wkT], { perm: ints([1, 0]) })]);
  const v = g.op('MatMul', [x, g.op('Identity', [wq])], {}, 'v_placeholder');
  const shared = g.initializer('shared.weight', 'float32', [32, 32], weights('mm.s', 32 * 32, 32));
  const a = g.op('MatMul', [g.op('Add', [q, k]), shared]);
  const b = g.op('MatMul', [v, shared]);
  const tied = g.initializer('tied.weight', 'float32', [40, 32], weights('mm.t', 40 * 32, 32));
  g.op('Gather', [tied, ids], { axis: int(0) }, 'emb');
  const tiedT = g.op('Transpose', [tied], { perm: ints([1, 0]) });
  const logits = g.op('MatMul', [g.op('Add', [a, b]), tiedT]);
  g.op('Relu', [g.op('MatMul', [logits, g.initializer('out.weight', 'float32', [40, 32], weights('mm.o', 40 * 32, 40))])], {}, 'y');
  g.output('y', 'float32', ['batch', 'seq', 32]);
  g.output('emb', 'float32', ['batch', 32]);
  return patchModel(g.build({ docString: 'foreign-style MatMul graph' }), (m) => {
    // The third projection's weight becomes a Constant node, as TF2ONNX and some PyTorch exports write it.
    const graph = m.graph!;
    const identity = graph.node!.find((n) => n.op_type === 'Identity')!;
    identity.op_type = 'Constant';
    identity.input = [];
    identity.attribute = [{ name: 'value', type: ATTRIBUTE_TYPE.TENSOR, t: float32Tensor('v.weight', [64, 32], weights('mm.v', 64 * 32, 64)) }];
  });
}

/**
 * x [batch, 64] → If(sum(x) > 0): then MatMul(x, outer weight), else MatMul(x, the branch's own weight) +
 * MatMul(·, outer weight shared with the then branch) → y [batch, 32].
 */
export function ifGraph(): Uint8Array {
  const g = new GraphBuilder('if');
  const x = g.input('x', 'float32', ['batch', 64]);
  const zero = g.initializer('zero', 'float32', [], Float32Array.of(0));
  const cond = g.op('Greater', [g.op('ReduceSum', [x], { keepdims: int(0) }), zero]);
  g.initializer('then.weight', 'float32', [64, 32], weights('if.then', 64 * 32, 64));
  g.initializer('after.weight', 'float32', [32, 32], weights('if.after', 32 * 32, 32));
  g.op('Identity', [cond], {}, 'y');
  g.output('y', 'float32', ['batch', 32]);
  return patchModel(g.build({ docString: 'foreign-style If graph' }), (m) => {
    const graph = m.graph!;
    const placeholder = graph.node!.find((n) => n.output![0] === 'y')!;
    const branch = (name: string, nodes: OnnxNode[], initializers = [] as ReturnType<typeof float32Tensor>[]): OnnxGraph => ({
      name,
      node: nodes,
      initializer: initializers,
      input: [],
      output: [
        { name: nodes.at(-1)!.output![0]!, type: { tensor_type: { elem_type: DATA_TYPE.FLOAT, shape: { dim: [{ dim_param: 'batch' }, { dim_value: 32 }] } } } },
      ],
    });
    const thenBranch = branch('then', [{ op_type: 'MatMul', input: ['x', 'then.weight'], output: ['then_y'], name: 'then_matmul' }]);
    const elseBranch = branch(
      'else',
      [
        { op_type: 'MatMul', input: ['x', 'else.weight'], output: ['else_h'], name: 'else_matmul' },
        { op_type: 'Relu', input: ['else_h'], output: ['else_r'], name: 'else_relu' },
        { op_type: 'MatMul', input: ['else_r', 'after.weight'], output: ['else_y'], name: 'else_after' },
      ],
      [float32Tensor('else.weight', [64, 32], weights('if.else', 64 * 32, 64))],
    );
    thenBranch.node!.push({ op_type: 'MatMul', input: ['then_y', 'after.weight'], output: ['then_z'], name: 'then_after' });
    thenBranch.output![0]!.name = 'then_z';
    Object.assign(placeholder, {
      op_type: 'If',
      name: 'branch',
      input: [placeholder.input![0]!],
      attribute: [
        { name: 'then_branch', type: ATTRIBUTE_TYPE.GRAPH, g: thenBranch },
        { name: 'else_branch', type: ATTRIBUTE_TYPE.GRAPH, g: elseBranch },
      ],
    });
  });
}

/** image [batch, 8, 16, 16] → Conv 8→32 (bias) → Relu → Conv 32→32 → Relu → GlobalAveragePool → Flatten → Gemm → logits [batch, 10]. */
export function convGraph(): Uint8Array {
  const g = new GraphBuilder('conv');
  const image = g.input('image', 'float32', ['batch', 8, 16, 16]);
  const w1 = g.initializer('conv1.weight', 'float32', [32, 8, 3, 3], weights('conv.w1', 32 * 8 * 9, 72));
  const b1 = g.initializer('conv1.bias', 'float32', [32], weights('conv.b1', 32, 16));
  const pads = { kernel_shape: ints([3, 3]), pads: ints([1, 1, 1, 1]) };
  const h1 = g.op('Relu', [g.op('Conv', [image, w1, b1], pads)]);
  const w2 = g.initializer('conv2.weight', 'float32', [32, 32, 3, 3], weights('conv.w2', 32 * 32 * 9, 288));
  const h2 = g.op('Relu', [g.op('Conv', [h1, w2], { ...pads, strides: ints([2, 2]) })]);
  const pooled = g.op('Flatten', [g.op('GlobalAveragePool', [h2])]);
  const w3 = g.initializer('fc.weight', 'float32', [10, 32], weights('conv.w3', 320, 32));
  g.op('Gemm', [pooled, w3], { transB: int(1) }, 'logits');
  g.output('logits', 'float32', ['batch', 10]);
  return g.build({ docString: 'foreign-style conv net' });
}

/**
 * image [batch, 4, 8, 8] → Resize ×2 (Constant scales) → Conv → output, with PyTorch-style shape arithmetic
 * in float (Shape → Gather → Cast(float) → Mul → Cast(int64)) feeding a Reshape, and a Range over the
 * width; value_info declares intermediate types, as shape-inferred models do.
 */
export function shapeArithmeticGraph(): Uint8Array {
  const g = new GraphBuilder('shape-arithmetic');
  const image = g.input('image', 'float32', ['batch', 4, 8, 8]);
  const roi = g.initializer('roi', 'float32', [0], new Float32Array(0));
  const scales = g.op('Identity', [image], {}, 'scales');
  const resized = g.op('Resize', [image, roi, scales], { mode: { type: 'string', value: 'nearest' } });
  const w = g.initializer('conv.weight', 'float32', [8, 4, 3, 3], weights('shape.w', 8 * 4 * 9, 36));
  const conv = g.op('Conv', [resized, w], { kernel_shape: ints([3, 3]), pads: ints([1, 1, 1, 1]) });
  const shape = g.op('Shape', [conv]);
  const height = g.op('Gather', [shape, g.initializer('two', 'int64', [], BigInt64Array.of(2n))], { axis: int(0) });
  const halfHeight = g.op(
    'Cast',
    [g.op('Floor', [g.op('Mul', [g.op('Cast', [height], { to: int(1) }), g.initializer('half', 'float32', [], Float32Array.of(0.5))])])],
    { to: int(7) },
  );
  const batchAndRest = g.op(
    'Concat',
    [
      g.initializer('minus_one', 'int64', [1], BigInt64Array.of(-1n)),
      g.op('Unsqueeze', [halfHeight, g.initializer('axis0', 'int64', [1], BigInt64Array.of(0n))]),
    ],
    { axis: int(0) },
  );
  g.op('Reshape', [conv, batchAndRest], {}, 'features');
  const width = g.op('Cast', [g.op('Gather', [shape, g.initializer('three', 'int64', [], BigInt64Array.of(3n))], { axis: int(0) })], { to: int(1) });
  g.op('Range', [g.initializer('start', 'float32', [], Float32Array.of(0)), width, g.initializer('delta', 'float32', [], Float32Array.of(1))], {}, 'positions');
  g.output('features', 'float32', ['rows', 'cols']);
  g.output('positions', 'float32', ['width']);
  return patchModel(g.build({ docString: 'shape arithmetic around a Resize' }), (m) => {
    const graph = m.graph!;
    const node = graph.node!.find((n) => n.output![0] === 'scales')!;
    Object.assign(node, {
      op_type: 'Constant',
      input: [],
      attribute: [{ name: 'value', type: ATTRIBUTE_TYPE.TENSOR, t: float32Tensor('', [4], Float32Array.of(1, 1, 2, 2)) }],
    });
    graph.value_info = graph
      .node!.filter((n) => n.op_type === 'Conv' || n.op_type === 'Resize')
      .map((n) => ({ name: n.output![0]!, type: { tensor_type: { elem_type: DATA_TYPE.FLOAT } } }));
  });
}

/** x [2, 4] → Mul(x, w) → Add(·, b) → y, with w holding 1e6 and 1e-9 (outside float16) and b a Constant node. */
export function extremeWeightsGraph(): Uint8Array {
  const g = new GraphBuilder('extreme');
  const x = g.input('x', 'float32', [2, 4]);
  const w = g.initializer('w', 'float32', [4], Float32Array.of(1e6, -1e-9, 0.5, -70000));
  g.op('Add', [g.op('Mul', [x, w]), g.op('Identity', [x], {}, 'b')], {}, 'y');
  g.output('y', 'float32', [2, 4]);
  return patchModel(g.build({ docString: 'weights outside float16' }), (m) => {
    const node = m.graph!.node!.find((n) => n.output![0] === 'b')!;
    Object.assign(node, { op_type: 'Constant', input: [], attribute: [{ name: 'value_floats', type: ATTRIBUTE_TYPE.FLOATS, floats: [1, 2, 3, 4] }] });
  });
}

/**
 * x [batch, 64] → Loop 3 times: h ← Relu(MatMul(h, W)) with W an outer-graph weight, and h's row means as
 * a scan output → y [batch, 64] and means [3, batch].
 */
export function loopGraph(): Uint8Array {
  const g = new GraphBuilder('loop');
  const x = g.input('x', 'float32', ['batch', 64]);
  g.initializer('trips', 'int64', [], BigInt64Array.of(3n));
  g.initializer('loop.weight', 'float32', [64, 64], weights('loop.w', 64 * 64, 64));
  g.op('Identity', [x], {}, 'y');
  g.op('Identity', [x], {}, 'means');
  g.output('y', 'float32', ['batch', 64]);
  g.output('means', 'float32', [3, 'batch']);
  return patchModel(g.build({ docString: 'foreign-style Loop graph' }), (m) => {
    const graph = m.graph!;
    graph.initializer!.push({ name: 'keep_going', dims: [], data_type: DATA_TYPE.BOOL, raw_data: Uint8Array.of(1) });
    const tensor = (name: string, elem: number, dims: (number | string)[]) => ({
      name,
      type: { tensor_type: { elem_type: elem, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dim_value: d } : { dim_param: d })) } } },
    });
    const body: OnnxGraph = {
      name: 'body',
      input: [tensor('i', DATA_TYPE.INT64, []), tensor('cond_in', DATA_TYPE.BOOL, []), tensor('h', DATA_TYPE.FLOAT, ['batch', 64])],
      output: [tensor('cond_out', DATA_TYPE.BOOL, []), tensor('h_next', DATA_TYPE.FLOAT, ['batch', 64]), tensor('h_mean', DATA_TYPE.FLOAT, ['batch'])],
      node: [
        { op_type: 'Identity', input: ['cond_in'], output: ['cond_out'], name: 'body_cond' },
        { op_type: 'MatMul', input: ['h', 'loop.weight'], output: ['body_matmul'], name: 'body_matmul' },
        { op_type: 'Relu', input: ['body_matmul'], output: ['h_next'], name: 'body_relu' },
        {
          op_type: 'ReduceMean',
          input: ['h_next'],
          output: ['h_mean'],
          name: 'body_mean',
          attribute: [
            { name: 'keepdims', type: ATTRIBUTE_TYPE.INT, i: 0 },
            { name: 'axes', type: ATTRIBUTE_TYPE.INTS, ints: [1] },
          ],
        },
      ],
      initializer: [],
    };
    graph.node = graph.node!.filter((n) => n.op_type !== 'Identity');
    graph.node.push({
      op_type: 'Loop',
      name: 'loop',
      input: ['trips', 'keep_going', 'x'],
      output: ['y', 'means'],
      attribute: [{ name: 'body', type: ATTRIBUTE_TYPE.GRAPH, g: body }],
    });
  });
}

/**
 * One encoder layer as PyTorch exports BERT-like models: token and position embeddings (Gather), an int64
 * shape subgraph feeding the head Reshapes, Q/K/V projections of one activation, attention scores from two
 * activations (MatMul without a constant), an additive mask computed from an int64 mask, Softmax,
 * LayerNormalization, an Erf GELU feed-forward, and a Gemm classifier on the first token.
 * ids, mask [batch, seq] int64 → hidden [batch, seq, 64], logits [batch, 3].
 */
export function encoderGraph(): Uint8Array {
  const d = 64;
  const heads = 4;
  const g = new GraphBuilder('encoder');
  const ids = g.input('ids', 'int64', ['batch', 'seq']);
  const mask = g.input('mask', 'int64', ['batch', 'seq']);
  const i64 = (name: string, ...values: bigint[]) => g.initializer(name, 'int64', [values.length], BigInt64Array.from(values));
  const scalar = (name: string, value: number) => g.initializer(name, 'float32', [], Float32Array.of(value));
  const weight = (name: string, rows: number, cols: number) => g.initializer(name, 'float32', [rows, cols], weights(`enc.${name}`, rows * cols, rows));
  const vector = (name: string, n: number, mean = 0) =>
    g.initializer(
      name,
      'float32',
      [n],
      weights(`enc.${name}`, n, 100).map((v) => v + mean),
    );
  const layerNorm = (x: string, name: string) =>
    g.op('LayerNormalization', [x, vector(`${name}.weight`, d, 1), vector(`${name}.bias`, d)], { axis: int(-1), epsilon: float(1e-5) });

  // Embeddings: token + position (positions 0..seq-1 from the shape).
  const shape = g.op('Shape', [ids]);
  const seqLen = g.op('Gather', [shape, i64('index1', 1n)], { axis: int(0) });
  const positions = g.op('Range', [
    g.initializer('zero_i', 'int64', [], BigInt64Array.of(0n)),
    g.op('Squeeze', [seqLen, i64('axis0', 0n)]),
    g.initializer('one_i', 'int64', [], BigInt64Array.of(1n)),
  ]);
  const tokens = g.op('Gather', [g.initializer('tok.weight', 'float32', [100, d], weights('enc.tok', 100 * d, 4)), ids], { axis: int(0) });
  const pos = g.op('Gather', [g.initializer('pos.weight', 'float32', [32, d], weights('enc.pos', 32 * d, 4)), positions], { axis: int(0) });
  const x0 = layerNorm(g.op('Add', [tokens, pos]), 'ln0');

  // Attention: heads of 16 via Reshape to [batch, seq, 4, 16] with the shape computed from x.
  const xShape = g.op('Shape', [x0]);
  const headShape = g.op('Concat', [g.op('Slice', [xShape, i64('s0', 0n), i64('s2', 2n)]), i64('heads', BigInt(heads), BigInt(d / heads))], { axis: int(0) });
  const project = (name: string) => g.op('Add', [g.op('MatMul', [x0, weight(`${name}.weight`, d, d)]), vector(`${name}.bias`, d)]);
  const split = (t: string, perm: number[]) => g.op('Transpose', [g.op('Reshape', [t, headShape])], { perm: ints(perm) });
  const q = split(project('q'), [0, 2, 1, 3]);
  const kT = split(project('k'), [0, 2, 3, 1]);
  const v = split(project('v'), [0, 2, 1, 3]);
  const scores = g.op('Div', [g.op('MatMul', [q, kT]), scalar('sqrt_dk', 4)]);
  const floatMask = g.op('Cast', [g.op('Unsqueeze', [g.op('Unsqueeze', [mask, i64('ax1', 1n)]), i64('ax2', 2n)])], { to: int(1) });
  const additive = g.op('Mul', [g.op('Sub', [scalar('one', 1), floatMask]), scalar('neg', -10000)]);
  const attention = g.op('Softmax', [g.op('Add', [scores, additive])], { axis: int(-1) });
  const context = g.op('Reshape', [
    g.op('Transpose', [g.op('MatMul', [attention, v])], { perm: ints([0, 2, 1, 3]) }),
    g.op('Concat', [g.op('Slice', [xShape, 's0', 's2']), i64('model_dim', BigInt(d))], { axis: int(0) }),
  ]);
  const x1 = layerNorm(g.op('Add', [x0, g.op('Add', [g.op('MatMul', [context, weight('out.weight', d, d)]), vector('out.bias', d)])]), 'ln1');

  // Feed-forward with the exact (Erf) GELU.
  const up = g.op('Add', [g.op('MatMul', [x1, weight('ff1.weight', d, 4 * d)]), vector('ff1.bias', 4 * d)]);
  const gelu = g.op('Mul', [g.op('Mul', [up, scalar('half', 0.5)]), g.op('Add', [g.op('Erf', [g.op('Div', [up, scalar('sqrt2', Math.SQRT2)])]), 'one'])]);
  const down = g.op('Add', [g.op('MatMul', [gelu, weight('ff2.weight', 4 * d, d)]), vector('ff2.bias', d)]);
  g.op('LayerNormalization', [g.op('Add', [x1, down]), vector('ln2.weight', d, 1), vector('ln2.bias', d)], { axis: int(-1), epsilon: float(1e-5) }, 'hidden');

  // Classifier on the first token: Gather → Gemm(transB) as torch.nn.Linear exports.
  const first = g.op('Gather', ['hidden', g.initializer('first', 'int64', [], BigInt64Array.of(0n))], { axis: int(1) });
  g.op('Gemm', [first, g.initializer('cls.weight', 'float32', [3, d], weights('enc.cls', 3 * d, d)), vector('cls.bias', 3)], { transB: int(1) }, 'logits');
  g.output('hidden', 'float32', ['batch', 'seq', d]);
  g.output('logits', 'float32', ['batch', 3]);
  return g.build({ docString: 'foreign-style encoder layer' });
}

/** Token ids over the encoder's vocabulary and a mask hiding the last 3 of 12 positions. */
export function encoderInputs(): NamedTensors {
  const inputs = drawInputs(
    [
      { name: 'ids', dtype: 'int64', shape: ['batch', 'seq'] },
      { name: 'mask', dtype: 'int64', shape: ['batch', 'seq'] },
    ],
    'encoder',
    { batch: 4, seq: 12 },
    { intRange: [0, 100] },
  );
  (inputs.mask!.data as BigInt64Array).forEach((_, i, mask) => (mask[i] = i % 12 < 9 ? 1n : 0n));
  return inputs;
}
