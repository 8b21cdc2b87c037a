/**
 * Writes the nodes of the dynamic int8 rewrite in place of the planned MatMul, Gemm and Conv nodes, keeping
 * each node's output name so the rest of the graph is untouched:
 *
 *   MatMul(A, W) / Gemm(A, W, C):
 *     A ─ DynamicQuantizeLinear ─┬ A_q ─────┐
 *                                ├ A_zp ────┴ MatMulInteger(A_q, W_q [K,N] int8, A_zp, 0) ─ Cast(float) ─┐
 *                                └ A_scale ─ Mul(W_scale [N] · alpha) ──────────────────────────────────── Mul ─ [Add(beta·C)]
 *   Conv(X, W, B), "integer":     the same with ConvInteger, scales shaped [1, M, 1, 1], then Add(B as [1, M, 1, 1]).
 *   Conv(X, W, B), "weight-only": Conv(X, DequantizeLinear(W_q, W_scale [M], axis 0), B).
 *
 * One DynamicQuantizeLinear serves every quantized node reading the same activation in a graph (attention's
 * Q, K and V projections), and a weight read by several nodes is quantized once. New weights go into the
 * graph that held the float one, so nodes in nested bodies still see them.
 */
import { DATA_TYPE, type OnnxGraph, type OnnxModel, type OnnxNode, type OnnxTensor } from '../onnx/onnx-proto.ts';
import { allGraphs, type NameAllocator } from './graph-scope.ts';
import type { Candidate } from './int8-plan.ts';
import { quantizeConvWeight, quantizeMatMulWeight, type Int8WeightOptions } from './int8-weights.ts';
import { floatAttribute, intAttr, intAttribute, intsAttr, makeNode } from './node-attributes.ts';
import { float32Tensor, int8Tensor, readFloat32, tensorDims } from './tensor-data.ts';

/** The domain of DynamicQuantizeMatMul. */
export const CONTRIB_DOMAIN = 'com.microsoft';

export interface EmitResult {
  /** Names the rewritten nodes no longer read (float weights, Transposes of them, Gemm's C when folded). */
  released: Set<string>;
  /** Whether a com.microsoft operator was written. */
  usedContribDomain: boolean;
}

interface QuantizedWeight {
  q: string;
  scale: string;
  zeroPoint: string;
  scaleValues: Float32Array;
}

interface Activation {
  q: string;
  scale: string;
  zeroPoint: string;
}

/** Rewrites every graph holding a candidate. */
export function emitDynamicInt8(model: OnnxModel, candidates: readonly Candidate[], weightOptions: Int8WeightOptions, names: NameAllocator): EmitResult {
  const byNode = new Map(candidates.map((c) => [c.node, c]));
  const result: EmitResult = { released: new Set(), usedContribDomain: false };
  const weights = new Map<OnnxGraph, Map<string, QuantizedWeight>>();
  for (const graph of allGraphs(model)) {
    if (!(graph.node ?? []).some((n) => byNode.has(n))) continue;
    const rewrite = new GraphRewrite(graph, names, weightOptions, weights, result);
    for (const node of graph.node ?? []) {
      const candidate = byNode.get(node);
      if (candidate) rewrite.replace(candidate);
      else rewrite.keep(node);
    }
    graph.node = rewrite.nodes;
  }
  return result;
}

class GraphRewrite {
  readonly nodes: OnnxNode[] = [];
  private readonly activations = new Map<string, Activation>();
  private readonly dequantized = new Map<string, string>();

  constructor(
    private readonly graph: OnnxGraph,
    private readonly names: NameAllocator,
    private readonly options: Int8WeightOptions,
    private readonly weights: Map<OnnxGraph, Map<string, QuantizedWeight>>,
    private readonly result: EmitResult,
  ) {}

  keep(node: OnnxNode): void {
    this.nodes.push(node);
  }

  replace(c: Candidate): void {
    this.result.released.add(c.weight.read);
    if (c.weight.transpose) this.result.released.add(c.weight.source.tensor.name ?? '');
    switch (c.form) {
      case 'MatMulInteger':
      case 'DynamicQuantizeMatMul':
        return this.matMul(c);
      case 'ConvInteger':
        return this.convInteger(c);
      case 'DequantizeLinear':
        return this.convWeightOnly(c);
    }
  }

  private matMul(c: Candidate): void {
    const { node } = c;
    const out = node.output![0]!;
    const base = node.name || out;
    const gemm = node.op_type === 'Gemm';
    let a = node.input![0]!;
    if (gemm && intAttribute(node, 'transA', 0) === 1) {
      const transposed = this.names.fresh(`${a}_transposed`);
      this.emit('Transpose', [a], [transposed], `${base}_transpose_a`, [intsAttr('perm', [1, 0])]);
      a = transposed;
    }
    const transB = gemm && intAttribute(node, 'transB', 0) === 1;
    const layout = (c.weight.transpose !== undefined) !== transB ? 'NK' : 'KN';
    const weight = this.matrixWeight(c, layout);
    const alpha = gemm ? floatAttribute(node, 'alpha', 1) : 1;
    let scale = weight.scale;
    if (alpha !== 1) {
      const scaled = weight.scaleValues.map((s) => Math.fround(s * alpha));
      scale = this.addInitializer(
        this.graph,
        float32Tensor(this.names.fresh(`${base}_weight_scale_alpha`), this.options.perChannel ? [scaled.length] : [], scaled),
      );
      this.result.released.add(weight.scale); // Unread unless another node shares the weight.
    }
    const c3 = gemm ? node.input?.[2] : undefined;
    const beta = floatAttribute(node, 'beta', 1);
    const addsBias = c3 !== undefined && c3 !== '' && beta !== 0;
    if (c3 && !addsBias) this.result.released.add(c3);
    const product = addsBias ? this.names.fresh(`${out}_scaled`) : out;

    if (c.form === 'DynamicQuantizeMatMul') {
      this.emit('DynamicQuantizeMatMul', [a, weight.q, scale, weight.zeroPoint], [product], `${base}_quant`, [], CONTRIB_DOMAIN);
      this.result.usedContribDomain = true;
    } else {
      const x = this.activation(a);
      const integer = this.names.fresh(`${out}_matmul_integer`);
      const asFloat = this.names.fresh(`${out}_matmul_float`);
      const outputScale = this.names.fresh(`${out}_output_scale`);
      this.emit('MatMulInteger', [x.q, weight.q, x.zeroPoint, weight.zeroPoint], [integer], `${base}_quant`);
      this.emit('Cast', [integer], [asFloat], `${base}_cast`, [intAttr('to', DATA_TYPE.FLOAT)]);
      this.emit('Mul', [x.scale, scale], [outputScale], `${base}_scales_mul`);
      this.emit('Mul', [asFloat, outputScale], [product], `${base}_output_scale_mul`);
    }
    if (addsBias) this.emit('Add', [product, this.scaledBias(c, c3, beta)], [out], `${base}_bias_add`);
  }

  /** Gemm's C times beta: folded into a new constant when C is one, else a Mul. */
  private scaledBias(c: Candidate, name: string, beta: number): string {
    if (beta === 1) return name;
    const source = c.scope.constant(name);
    const values = source && readFloat32(source.tensor);
    if (source && values) {
      this.result.released.add(name);
      return this.addInitializer(
        this.graph,
        float32Tensor(
          this.names.fresh(`${name}_times_beta`),
          tensorDims(source.tensor),
          values.map((v) => Math.fround(v * beta)),
        ),
      );
    }
    const betaName = this.addInitializer(this.graph, float32Tensor(this.names.fresh(`${c.node.name || name}_beta`), [], Float32Array.of(beta)));
    const scaled = this.names.fresh(`${name}_times_beta`);
    this.emit('Mul', [name, betaName], [scaled], `${c.node.name || name}_beta_mul`);
    return scaled;
  }

  private convInteger(c: Candidate): void {
    const { node } = c;
    const out = node.output![0]!;
    const base = node.name || out;
    const broadcast = [1, c.weight.dims[0]!, ...c.weight.dims.slice(2).map(() => 1)];
    const weight = this.convWeight(c, broadcast);
    const x = this.activation(node.input![0]!);
    const integer = this.names.fresh(`${out}_conv_integer`);
    const asFloat = this.names.fresh(`${out}_conv_float`);
    const outputScale = this.names.fresh(`${out}_output_scale`);
    const bias = node.input?.[2];
    const product = bias ? this.names.fresh(`${out}_scaled`) : out;
    this.emit(
      'ConvInteger',
      [x.q, weight.q, x.zeroPoint, weight.zeroPoint],
      [integer],
      `${base}_quant`,
      (node.attribute ?? []).map((a) => ({ ...a })),
    );
    this.emit('Cast', [integer], [asFloat], `${base}_cast`, [intAttr('to', DATA_TYPE.FLOAT)]);
    this.emit('Mul', [x.scale, weight.scale], [outputScale], `${base}_scales_mul`);
    this.emit('Mul', [asFloat, outputScale], [product], `${base}_output_scale_mul`);
    if (bias) {
      const source = c.scope.constant(bias)!;
      const values = readFloat32(source.tensor);
      if (!values) throw new Error(`Conv bias "${bias}" is not readable float32`);
      this.result.released.add(bias);
      const shaped = this.addInitializer(this.graph, float32Tensor(this.names.fresh(`${bias}_broadcast`), broadcast, values));
      this.emit('Add', [product, shaped], [out], `${base}_bias_add`);
    }
  }

  private convWeightOnly(c: Candidate): void {
    const { node } = c;
    const key = c.weight.source.tensor.name!;
    let dequantized = this.dequantized.get(key);
    if (!dequantized) {
      const weight = this.convWeight(c, this.options.perChannel ? [c.weight.dims[0]!] : []);
      dequantized = this.names.fresh(`${key}_dequantized`);
      this.emit('DequantizeLinear', [weight.q, weight.scale], [dequantized], `${key}_dequantize`, this.options.perChannel ? [intAttr('axis', 0)] : []);
      this.dequantized.set(key, dequantized);
    }
    this.nodes.push({ ...node, input: node.input!.map((name, i) => (i === 1 ? dequantized : name)) });
  }

  /** A MatMul weight as int8 [K, N], quantized once per source and layout. */
  private matrixWeight(c: Candidate, layout: 'KN' | 'NK'): QuantizedWeight {
    const [rows, cols] = c.weight.dims as [number, number];
    return this.cachedWeight(c, layout, (base) => {
      const m = quantizeMatMulWeight(c.weight.values, rows, cols, layout, this.options);
      return {
        q: int8Tensor(this.names.fresh(`${base}_quantized`), [m.rows, m.cols], m.q),
        scale: m.scale,
        scaleDims: this.options.perChannel ? [m.cols] : [],
        zeroPoint: true,
      };
    });
  }

  /**
   * A Conv weight as int8 in its own layout, quantized once per source; scales shaped `scaleDims` ([M] for
   * DequantizeLinear, [1, M, 1, 1] to multiply ConvInteger's output, [] per tensor).
   */
  private convWeight(c: Candidate, scaleDims: number[]): QuantizedWeight {
    return this.cachedWeight(c, 'conv', (base) => {
      const { q, scale } = quantizeConvWeight(c.weight.values, c.weight.dims[0]!, this.options);
      return {
        q: int8Tensor(this.names.fresh(`${base}_quantized`), c.weight.dims, q),
        scale,
        scaleDims: this.options.perChannel ? scaleDims : [],
        zeroPoint: c.form === 'ConvInteger',
      };
    });
  }

  private cachedWeight(
    c: Candidate,
    layout: string,
    make: (base: string) => { q: OnnxTensor; scale: Float32Array; scaleDims: number[]; zeroPoint: boolean },
  ): QuantizedWeight {
    const owner = c.weight.source.owner.graph;
    const base = c.weight.source.tensor.name ?? c.weight.read;
    let cache = this.weights.get(owner);
    if (!cache) this.weights.set(owner, (cache = new Map()));
    const key = `${base}\u0000${layout}`;
    const cached = cache.get(key);
    if (cached) return cached;
    const { q, scale, scaleDims, zeroPoint } = make(base);
    const weight: QuantizedWeight = {
      q: this.addInitializer(owner, q),
      scale: this.addInitializer(owner, float32Tensor(this.names.fresh(`${base}_scale`), scaleDims, scale)),
      zeroPoint: zeroPoint ? this.addInitializer(owner, int8Tensor(this.names.fresh(`${base}_zero_point`), [], new Int8Array(1))) : '',
      scaleValues: scale,
    };
    cache.set(key, weight);
    return weight;
  }

  /** The activation quantized by one DynamicQuantizeLinear, shared within this graph. */
  private activation(name: string): Activation {
    const cached = this.activations.get(name);
    if (cached) return cached;
    const x: Activation = {
      q: this.names.fresh(`${name}_quantized`),
      scale: this.names.fresh(`${name}_scale`),
      zeroPoint: this.names.fresh(`${name}_zero_point`),
    };
    this.emit('DynamicQuantizeLinear', [name], [x.q, x.scale, x.zeroPoint], `${name}_dynamic_quantize`);
    this.activations.set(name, x);
    return x;
  }

  private emit(opType: string, inputs: string[], outputs: string[], name: string, attributes: OnnxNode['attribute'] = [], domain?: string): void {
    this.nodes.push(makeNode(opType, inputs, outputs, this.names.fresh(name), attributes, domain));
  }

  private addInitializer(graph: OnnxGraph, tensor: OnnxTensor): string {
    graph.initializer = [...(graph.initializer ?? []), tensor];
    return tensor.name!;
  }
}
