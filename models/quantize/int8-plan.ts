/**
 * Which nodes of a model the dynamic int8 rewrite takes, and why the others stay float. A MatMul, Gemm or
 * Conv qualifies when its weight (input 1) is a float32 constant, found as an initializer, a Constant node's
 * value, or either of those behind a 2-D Transpose (how some exporters write `x @ W.T`), is large enough
 * to be worth it, and is read only by nodes that are quantized too: a weight that some other node (a
 * Gather of tied embeddings, a graph output) still reads in float would have to be stored twice, which
 * makes the model bigger, so such weights are left alone.
 */
import { DATA_TYPE, type OnnxGraph, type OnnxModel, type OnnxNode } from '../onnx/onnx-proto.ts';
import { GraphScope, readCounts, subgraphs, type ConstantSource, type Producer } from './graph-scope.ts';
import { intsAttribute, isDefaultDomain } from './node-attributes.ts';
import { elementCount, isExternal, readFloat32, tensorDims } from './tensor-data.ts';

export type Int8OpType = 'MatMul' | 'Gemm' | 'Conv';

/** How a quantized node is written. */
export type Int8Form =
  /** DynamicQuantizeLinear + MatMulInteger + Cast + Mul (opset ≥ 11), as quantize_dynamic writes MatMul. */
  | 'MatMulInteger'
  /** com.microsoft DynamicQuantizeMatMul, for models whose opset predates DynamicQuantizeLinear (< 11). */
  | 'DynamicQuantizeMatMul'
  /** DynamicQuantizeLinear + ConvInteger + Cast + Mul (+ Add for the bias), as quantize_dynamic writes Conv. */
  | 'ConvInteger'
  /** int8 weights dequantized in the graph (DequantizeLinear, opset ≥ 13) feeding the float Conv. */
  | 'DequantizeLinear';

export interface Int8PlanOptions {
  opTypes: ReadonlySet<Int8OpType>;
  conv: 'weight-only' | 'integer' | 'none';
  minWeightElements: number;
  excludeNodes: ReadonlySet<string>;
  subgraphs: boolean;
  /** The model's default-domain opset. */
  opset: number;
}

/** A weight as a node reads it. */
export interface WeightRef {
  /** The name the node reads (the constant itself, or the Transpose's output). */
  read: string;
  source: ConstantSource;
  /** Set when the node reads the constant through a 2-D Transpose. */
  transpose?: Producer;
  /** The constant's elements and dims as stored (before any Transpose). */
  values: Float32Array;
  dims: number[];
}

export interface Candidate {
  node: OnnxNode;
  scope: GraphScope;
  opType: Int8OpType;
  form: Int8Form;
  weight: WeightRef;
}

/** What happened to one MatMul, Gemm or Conv node. */
export interface Int8Decision {
  /** The node's name, or its first output's when it has none. */
  node: string;
  opType: Int8OpType;
  /** The weight's name, when it is a constant. */
  weight?: string;
  quantized: boolean;
  form?: Int8Form;
  /** Why it was left float, or a note on how it was quantized. */
  reason: string;
}

export interface Int8Plan {
  candidates: Candidate[];
  decisions: Int8Decision[];
}

/** Walks the model (bodies first, then the node holding them) and decides node by node. */
export function planDynamicInt8(model: OnnxModel, options: Int8PlanOptions): Int8Plan {
  const found: Candidate[] = [];
  const decisions: Int8Decision[] = [];
  const irVersion = Number(model.ir_version ?? 0);
  const walk = (graph: OnnxGraph, parent: GraphScope | undefined): void => {
    const scope = new GraphScope(graph, parent, overridableInitializers(graph, parent === undefined, irVersion));
    for (const node of graph.node ?? []) {
      if (options.subgraphs) for (const sub of subgraphs(node)) walk(sub, scope);
      const opType = node.op_type as Int8OpType;
      if (!isDefaultDomain(node) || !['MatMul', 'Gemm', 'Conv'].includes(opType)) continue;
      const verdict = consider(node, opType, scope, options);
      if (typeof verdict === 'string') decisions.push({ node: nodeLabel(node), opType, ...weightName(node, scope), quantized: false, reason: verdict });
      else found.push(verdict);
    }
  };
  walk(model.graph!, undefined);

  // A weight is quantized only when every reader of it is quantized.
  const counts = readCounts(model);
  const groups = new Map<string, Candidate[]>();
  for (const c of found) {
    const key = `${c.weight.read}\u0000${groupOwner(c)}`;
    groups.set(key, [...(groups.get(key) ?? []), c]);
  }
  const candidates: Candidate[] = [];
  for (const group of groups.values()) {
    const { read, transpose, source } = group[0]!.weight;
    const readers = group.reduce((n, c) => n + (c.node.input ?? []).filter((i) => i === read).length, 0);
    let reason: string | undefined;
    if ((counts.get(read) ?? 0) !== readers)
      reason = `weight "${read}" is also read by a node that stays float (or is a graph output); quantizing it would store it twice`;
    else if (transpose && (counts.get(transpose.node.input![0]!) ?? 0) !== 1)
      reason = `weight "${source.tensor.name}" is read by other nodes besides its Transpose`;
    for (const c of group) {
      if (reason) decisions.push({ node: nodeLabel(c.node), opType: c.opType, weight: source.tensor.name!, quantized: false, reason });
      else {
        candidates.push(c);
        decisions.push({ node: nodeLabel(c.node), opType: c.opType, weight: source.tensor.name!, quantized: true, form: c.form, reason: FORM_NOTES[c.form] });
      }
    }
  }
  return { candidates, decisions };
}

const FORM_NOTES: Record<Int8Form, string> = {
  MatMulInteger: 'int8 weight per output channel, uint8 activation quantized at run time',
  DynamicQuantizeMatMul: 'com.microsoft DynamicQuantizeMatMul (the model opset predates DynamicQuantizeLinear)',
  ConvInteger: 'ConvInteger: int8 weight per output channel, uint8 activation quantized at run time',
  DequantizeLinear: 'int8 weight per output channel, dequantized in the graph; the convolution runs in float',
};

function consider(node: OnnxNode, opType: Int8OpType, scope: GraphScope, options: Int8PlanOptions): Candidate | string {
  if (!options.opTypes.has(opType)) return `${opType} is not among the op types to quantize`;
  if (options.excludeNodes.has(node.name ?? '') || options.excludeNodes.has(nodeLabel(node))) return 'excluded by options';
  const read = node.input?.[1];
  if (!read) return 'no weight input';
  const weight = resolveWeight(read, scope);
  if (!weight) return 'the weight is not a constant';
  const { tensor } = weight.source;
  if (tensor.data_type !== DATA_TYPE.FLOAT) return `the weight is not float32 (data type ${tensor.data_type})`;
  if (isExternal(tensor)) return 'the weight is stored in an external file';
  const dims = tensorDims(tensor);
  const rankOk = opType === 'Conv' ? dims.length >= 3 && dims.length <= 5 : dims.length === 2;
  if (!rankOk) return `the weight has rank ${dims.length}`;
  const count = elementCount(dims);
  if (count < options.minWeightElements) return `the weight has ${count} elements, under the threshold of ${options.minWeightElements}`;
  const values = readFloat32(tensor);
  if (!values) return 'the weight data does not match its dims';
  const choice = chooseForm(node, opType, scope, options);
  if ('reason' in choice) return choice.reason;
  return { node, scope, opType, form: choice.form, weight: { ...weight, values, dims } };
}

function chooseForm(node: OnnxNode, opType: Int8OpType, scope: GraphScope, options: Int8PlanOptions): { form: Int8Form } | { reason: string } {
  if (opType !== 'Conv') return { form: options.opset >= 11 ? 'MatMulInteger' : 'DynamicQuantizeMatMul' };
  if (options.conv === 'none') return { reason: 'Conv quantization is off (conv: "none")' };
  if (options.conv === 'weight-only')
    return options.opset >= 13 ? { form: 'DequantizeLinear' } : { reason: `per-channel DequantizeLinear needs opset 13, the model has ${options.opset}` };
  if (options.opset < 11) return { reason: `ConvInteger with DynamicQuantizeLinear needs opset 11, the model has ${options.opset}` };
  const bias = node.input?.[2];
  if (bias && !scope.constant(bias)) return { reason: 'the bias is not a constant' };
  return { form: 'ConvInteger' };
}

/** The constant a node reads as its weight, directly or through a 2-D Transpose. */
function resolveWeight(read: string, scope: GraphScope): Omit<WeightRef, 'values' | 'dims'> | undefined {
  const source = scope.constant(read);
  if (source) return { read, source };
  const producer = scope.producer(read);
  if (producer?.node.op_type !== 'Transpose' || !isDefaultDomain(producer.node)) return undefined;
  const perm = intsAttribute(producer.node, 'perm');
  if (perm && !(perm.length === 2 && perm[0] === 1 && perm[1] === 0)) return undefined;
  const inner = producer.scope.constant(producer.node.input?.[0] ?? '');
  if (!inner || tensorDims(inner.tensor).length !== 2) return undefined;
  return { read, source: inner, transpose: producer };
}

/**
 * Initializers that are also inputs of their graph, which a caller may override (IR ≥ 4), so they are not
 * constants; in IR < 4 every initializer is listed as a main-graph input and is a constant.
 */
function overridableInitializers(graph: OnnxGraph, main: boolean, irVersion: number): Set<string> {
  if (main && irVersion < 4) return new Set();
  const inputs = new Set((graph.input ?? []).map((v) => v.name));
  return new Set((graph.initializer ?? []).map((t) => t.name ?? '').filter((name) => inputs.has(name)));
}

const graphIds = new WeakMap<OnnxGraph, number>();
let nextGraphId = 0;

/** The graph where the read value is defined, as a key. */
function groupOwner(c: Candidate): number {
  const graph = (c.weight.transpose?.scope ?? c.weight.source.owner).graph;
  let id = graphIds.get(graph);
  if (id === undefined) graphIds.set(graph, (id = nextGraphId++));
  return id;
}

function weightName(node: OnnxNode, scope: GraphScope): { weight?: string } {
  const read = node.input?.[1];
  return read && scope.constant(read) ? { weight: read } : {};
}

/** A node's name for reports: its name, else its first output. */
export function nodeLabel(node: OnnxNode): string {
  return node.name || node.output?.[0] || node.op_type || '?';
}
