/**
 * The analysis behind the fp16 conversion: for every float32 value of every graph, who produces it, in which
 * precision it will be held, and in which precision each of its readers wants it. Nodes run in float16
 * unless blocked (the block list, node names, other domains, or float arithmetic on integer-derived values),
 * and a blocked control-flow node keeps its bodies in float32 too. The main graph's inputs and outputs keep
 * their float32 type; bodies of converted If/Loop/Scan nodes take and give float16.
 *
 * Integer-derived arithmetic: exporters compute sizes and masks in float (Shape → Cast(float) → Mul → Floor
 * → Cast(int64), or an int64 attention mask → Cast → Sub → Mul). float16 holds integers exactly only up to
 * 2048, so such chains stay float32: a Cast from an integer or bool tensor to float starts one, and a node
 * stays in it while each of its float inputs is in it or a small constant (≤ 16 elements).
 */
import { DATA_TYPE, type OnnxGraph, type OnnxModel, type OnnxNode, type OnnxTensor } from '../onnx/onnx-proto.ts';
import { subgraphs } from './graph-scope.ts';
import { conditionalBlockReason, FLOAT32_INPUTS } from './fp16-block-list.ts';
import { isDefaultDomain } from './node-attributes.ts';
import { elementCount, tensorDims } from './tensor-data.ts';
import { inferTypes, isFloat32Tensor, type TypeScope, type ValueType } from './value-types.ts';

export type Precision = 'fp16' | 'fp32';

/** Somebody reading a float32 value, and the precision it wants it in. */
export interface Reader {
  precision: Precision;
  /** Points the reader at the value's version in that precision. */
  use(name: string): void;
  /** Set for the main graph's outputs, which must keep the value's name. */
  mainOutput?: boolean;
}

export interface ValueState {
  name: string;
  graph: GraphState;
  original: ValueType | undefined;
  /** A float32 tensor before conversion: the values this plan is about. */
  float: boolean;
  source: 'input' | 'initializer' | 'constant' | 'node';
  /** The producing node (Constant nodes included). */
  producer?: OnnxNode;
  tensor?: OnnxTensor;
  /** The precision the value's own name holds after conversion (constants: decided later). */
  precision: Precision;
  /** Part of integer-derived arithmetic. */
  integerDerived: boolean;
  readers: Reader[];
}

export interface GraphState {
  graph: OnnxGraph;
  parent?: GraphState;
  /** main: the model's graph; fp16: a converted node's body; fp32: a blocked node's body. */
  mode: 'main' | 'fp16' | 'fp32';
  values: Map<string, ValueState>;
}

export interface BlockedNode {
  node: OnnxNode;
  reason: string;
}

export interface Fp16Plan {
  graphs: GraphState[];
  values: ValueState[];
  /** Nodes that run in float16 (their attributes may need float16 too). */
  converted: OnnxNode[];
  blocked: BlockedNode[];
}

export interface Fp16PlanOptions {
  /** Op type → why it stays float32. */
  opBlockList: ReadonlyMap<string, string>;
  nodeBlockList: ReadonlySet<string>;
  blockOtherDomains: boolean;
  keepIntegerArithmetic: boolean;
}

/** The largest constant an integer-derived chain may read and stay integer-derived. */
const SMALL_CONSTANT = 16;

export function planFp16(model: OnnxModel, options: Fp16PlanOptions): Fp16Plan {
  const types = inferTypes(model);
  const plan: Fp16Plan = { graphs: [], values: [], converted: [], blocked: [] };
  const irVersion = Number(model.ir_version ?? 0);

  const walk = (graph: OnnxGraph, parent: GraphState | undefined, mode: GraphState['mode']): void => {
    const scope = types.get(graph)!;
    const gs: GraphState = { graph, mode, values: new Map(), ...(parent ? { parent } : {}) };
    plan.graphs.push(gs);
    const define = (
      name: string,
      state: Omit<ValueState, 'name' | 'graph' | 'original' | 'float' | 'readers' | 'integerDerived'> & { integerDerived?: boolean },
    ): void => {
      const original = scope.get(name);
      const value: ValueState = { name, graph: gs, original, float: isFloat32Tensor(original), readers: [], integerDerived: false, ...state };
      gs.values.set(name, value);
      plan.values.push(value);
    };
    const initializers = new Set((graph.initializer ?? []).map((t) => t.name));
    for (const input of graph.input ?? []) {
      if (!input.name) continue;
      // IR < 4 lists every initializer as a main-graph input: those are constants, not inputs.
      if (initializers.has(input.name) && (mode !== 'main' || irVersion < 4)) continue;
      define(input.name, { source: 'input', precision: mode === 'fp16' ? 'fp16' : 'fp32' });
    }
    for (const tensor of graph.initializer ?? []) {
      if (tensor.name && !gs.values.has(tensor.name)) define(tensor.name, { source: 'initializer', tensor, precision: 'fp32' });
    }
    for (const node of graph.node ?? []) {
      const inputs = (node.input ?? []).map((name) => (name ? lookup(gs, name) : undefined));
      const integerDerived = options.keepIntegerArithmetic && isIntegerDerived(node, inputs, scope);
      const reason = mode === 'fp32' ? 'inside a body of a node kept in float32' : blockReason(node, options, integerDerived);
      if (reason) plan.blocked.push({ node, reason });
      else plan.converted.push(node);
      const float32Positions = FLOAT32_INPUTS[node.op_type ?? ''] ?? [];
      for (const [i, value] of inputs.entries()) {
        if (!value?.float) continue;
        const input = node.input!;
        value.readers.push({ precision: reason || float32Positions.includes(i) ? 'fp32' : 'fp16', use: (name) => (input[i] = name) });
      }
      for (const sub of subgraphs(node)) walk(sub, gs, reason ? 'fp32' : 'fp16');
      for (const output of node.output ?? []) {
        if (!output) continue;
        const constant = node.op_type === 'Constant' && isDefaultDomain(node);
        // Constants stay float32 until the conversion sees who reads them.
        define(output, { source: constant ? 'constant' : 'node', producer: node, precision: reason || constant ? 'fp32' : 'fp16', integerDerived });
      }
    }
    for (const output of graph.output ?? []) {
      const value = output.name ? lookup(gs, output.name) : undefined;
      if (!value?.float) continue;
      if (mode === 'main') value.readers.push({ precision: 'fp32', use: () => undefined, mainOutput: true });
      else value.readers.push({ precision: mode === 'fp16' ? 'fp16' : 'fp32', use: (name) => (output.name = name) });
    }
  };
  walk(model.graph!, undefined, 'main');
  return plan;
}

/** The state of `name` as seen from `graph`, looking outward. */
export function lookup(graph: GraphState, name: string): ValueState | undefined {
  return graph.values.get(name) ?? (graph.parent ? lookup(graph.parent, name) : undefined);
}

function blockReason(node: OnnxNode, options: Fp16PlanOptions, integerDerived: boolean): string | undefined {
  if (options.nodeBlockList.has(node.name ?? '')) return 'named in the node block list';
  if (!isDefaultDomain(node)) {
    if (options.blockOtherDomains) return `operator of domain "${node.domain}"`;
    return undefined;
  }
  const listed = options.opBlockList.get(node.op_type ?? '') ?? conditionalBlockReason(node);
  if (listed) return listed;
  if (integerDerived) return 'float arithmetic on integer-derived values (sizes, masks) stays float32';
  return undefined;
}

const CONTROL_FLOW = new Set(['If', 'Loop', 'Scan', 'SequenceMap']);

function isIntegerDerived(node: OnnxNode, inputs: (ValueState | undefined)[], scope: TypeScope): boolean {
  if (!isDefaultDomain(node) || CONTROL_FLOW.has(node.op_type ?? '')) return false;
  if (node.op_type === 'Cast') {
    const from = scope.get(node.input?.[0] ?? '');
    const to = scope.get(node.output?.[0] ?? '');
    if (isFloat32Tensor(to) && from?.kind === 'tensor' && isIntegerOrBool(from.elem)) return true;
  }
  const floats = inputs.filter((v): v is ValueState => v?.float === true);
  return floats.some((v) => v.integerDerived) && floats.every((v) => v.integerDerived || isSmallConstant(v));
}

function isIntegerOrBool(elem: number): boolean {
  const codes: number[] = [
    DATA_TYPE.BOOL,
    DATA_TYPE.INT8,
    DATA_TYPE.UINT8,
    DATA_TYPE.INT16,
    DATA_TYPE.UINT16,
    DATA_TYPE.INT32,
    DATA_TYPE.UINT32,
    DATA_TYPE.INT64,
    DATA_TYPE.UINT64,
  ];
  return codes.includes(elem);
}

function isSmallConstant(value: ValueState): boolean {
  if (value.source === 'initializer' && value.tensor) return elementCount(tensorDims(value.tensor)) <= SMALL_CONSTANT;
  if (value.source === 'constant' && value.producer) {
    const attribute = (value.producer.attribute ?? [])[0];
    if (attribute?.t) return elementCount(tensorDims(attribute.t)) <= SMALL_CONSTANT;
    if (attribute?.name === 'value_float') return true;
    if (attribute?.name === 'value_floats') return (attribute.floats ?? []).length <= SMALL_CONSTANT;
  }
  return false;
}
