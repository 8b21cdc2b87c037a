/**
 * Reads a user's .onnx file into the facts an import decides on: the IR version and opset imports, the
 * graph's inputs (initializers excluded) and outputs with their types, the weights' size, and every trait
 * that makes a model unimportable (weights in external files, training information, non-tensor values,
 * operator domains). Decoding uses the full ONNX schema (`models/onnx/onnx.proto`), so nothing in the file
 * is skipped unseen; nested graphs (the branches and bodies of If, Loop, Scan) and model-local functions
 * are walked too.
 *
 * Pure over the bytes: no file system, no runtime. Refusals are `refusals.ts`'s business; this module only
 * throws for bytes that are not an ONNX model at all.
 */
import { TandemError } from '../../protocol/errors.ts';
import type { TensorDtype } from '../../protocol/tensor.ts';
import { ModelProto } from '../onnx/onnx-proto.ts';

/** ONNX TensorProto.DataType codes Tandem's tensors can hold, and their dtype names. */
export const ONNX_ELEM_TYPES: Readonly<Record<number, TensorDtype>> = {
  1: 'float32',
  2: 'uint8',
  3: 'int8',
  4: 'uint16',
  5: 'int16',
  6: 'int32',
  7: 'int64',
  8: 'string',
  9: 'bool',
  10: 'float16',
  11: 'float64',
  12: 'uint32',
  13: 'uint64',
};

/** Names of the other codes, for messages. */
const OTHER_ELEM_TYPES: Readonly<Record<number, string>> = {
  0: 'undefined',
  14: 'complex64',
  15: 'complex128',
  16: 'bfloat16',
  17: 'float8e4m3fn',
  18: 'float8e4m3fnuz',
  19: 'float8e5m2',
  20: 'float8e5m2fnuz',
  21: 'uint4',
  22: 'int4',
  23: 'float4e2m1',
};

/** Bits per element of each TensorProto.DataType with a fixed width (strings have none). */
const ELEM_BITS: Readonly<Record<number, number>> = {
  1: 32,
  2: 8,
  3: 8,
  4: 16,
  5: 16,
  6: 32,
  7: 64,
  9: 8,
  10: 16,
  11: 64,
  12: 32,
  13: 64,
  14: 64,
  15: 128,
  16: 16,
  17: 8,
  18: 8,
  19: 8,
  20: 8,
  21: 4,
  22: 4,
  23: 4,
};

/** The name of an ONNX element type code: a Tandem dtype, or ONNX's own name for the others. */
export function elemTypeName(code: number): string {
  return ONNX_ELEM_TYPES[code] ?? OTHER_ELEM_TYPES[code] ?? `element type ${code}`;
}

/** One dimension as the file declares it. */
export type OnnxDim = { value: number } | { param: string } | { unnamed: true };

/** The type of a graph input or output. */
export type OnnxValueType =
  | {
      kind: 'tensor';
      /** The TensorProto.DataType code. */
      elemType: number;
      /** The Tandem dtype, when Tandem can hold the element type. */
      dtype: TensorDtype | undefined;
      /** Undefined when the file declares no shape (the rank is unknown). */
      shape: OnnxDim[] | undefined;
    }
  | { kind: 'sequence' | 'map' | 'optional' | 'sparse_tensor' | 'none' };

export interface OnnxValue {
  name: string;
  type: OnnxValueType;
}

/** A node of the main graph, for the activation liveness walk in `requirements.ts`. */
export interface OnnxStep {
  opType: string;
  /** Values it reads, including outer values its subgraphs read. */
  inputs: string[];
  outputs: string[];
}

export interface OnnxModel {
  irVersion: number;
  /** Opset version per domain; the default domain is `ai.onnx` (the file may write it as ""). */
  opsetImports: Record<string, number>;
  producer: { name: string; version: string };
  graphName: string;
  /** Graph inputs that are not initializers: what a caller feeds. */
  inputs: OnnxValue[];
  outputs: OnnxValue[];
  /** Bytes of every weight: initializers (dense and sparse, in subgraphs too) and Constant nodes' tensors. */
  weightBytes: number;
  weightCount: number;
  /** Names of tensors whose data lives outside the file (`data_location: EXTERNAL` or `external_data`). */
  externalTensors: string[];
  /** `training_info` entries. */
  trainingInfo: number;
  /** Operator types by domain, over every graph, subgraph and local function (`ai.onnx` for ""). */
  domains: Record<string, string[]>;
  /** Model-local functions as `domain:name`: calls to them are not operators a runtime must know. */
  localFunctions: string[];
  /** Main-graph nodes in file order (ONNX requires topological order). */
  steps: OnnxStep[];
  nodeCount: number;
}

/** The default domain's canonical name. */
export const DEFAULT_DOMAIN = 'ai.onnx';

/** Loose shapes of the decoded messages: every field optional, as in proto2. */
interface Dim {
  dim_value?: number;
  dim_param?: string;
}
interface TypeMsg {
  tensor_type?: { elem_type?: number; shape?: { dim?: Dim[] } };
  sequence_type?: unknown;
  map_type?: unknown;
  optional_type?: unknown;
  sparse_tensor_type?: unknown;
}
interface ValueInfoMsg {
  name?: string;
  type?: TypeMsg;
}
interface StringEntry {
  key?: string;
  value?: string;
}
interface TensorMsg {
  name?: string;
  dims?: number[];
  data_type?: number;
  raw_data?: Uint8Array;
  float_data?: number[];
  int32_data?: number[];
  int64_data?: number[];
  double_data?: number[];
  uint64_data?: number[];
  string_data?: Uint8Array[];
  external_data?: StringEntry[];
  data_location?: number;
}
interface SparseMsg {
  values?: TensorMsg;
  indices?: TensorMsg;
}
interface AttributeMsg {
  name?: string;
  t?: TensorMsg;
  g?: GraphMsg;
  tensors?: TensorMsg[];
  graphs?: GraphMsg[];
  sparse_tensor?: SparseMsg;
  sparse_tensors?: SparseMsg[];
}
interface NodeMsg {
  input?: string[];
  output?: string[];
  op_type?: string;
  domain?: string;
  attribute?: AttributeMsg[];
}
interface GraphMsg {
  name?: string;
  node?: NodeMsg[];
  initializer?: TensorMsg[];
  sparse_initializer?: SparseMsg[];
  input?: ValueInfoMsg[];
  output?: ValueInfoMsg[];
}
interface FunctionMsg {
  name?: string;
  domain?: string;
  node?: NodeMsg[];
}
interface ModelMsg {
  ir_version?: number;
  opset_import?: { domain?: string; version?: number }[];
  producer_name?: string;
  producer_version?: string;
  graph?: GraphMsg;
  training_info?: { initialization?: GraphMsg; algorithm?: GraphMsg }[];
  functions?: FunctionMsg[];
}

/**
 * Decodes .onnx bytes.
 * @throws TandemError `onnx_invalid` when the bytes are not a protobuf ModelProto with an IR version, an
 * opset import and a graph with at least one output.
 * @example
 * const model = readOnnx(await readFile('model.onnx'));
 * console.log(model.inputs.map((i) => i.name), model.opsetImports);
 */
export function readOnnx(bytes: Uint8Array): OnnxModel {
  const notOnnx = (why: string, cause?: unknown) =>
    new TandemError(
      'onnx_invalid',
      `not an ONNX model: ${why}; export the model with torch.onnx.export, tf2onnx or onnx.save_model and pass the .onnx file`,
      cause === undefined ? {} : { cause },
    );
  if (bytes.length === 0) throw notOnnx('the file is empty');
  let model: ModelMsg;
  try {
    model = ModelProto.toObject(ModelProto.decode(bytes), { longs: Number }) as ModelMsg;
  } catch (cause) {
    throw notOnnx(`the bytes are not a protobuf ModelProto (${(cause as Error).message})`, cause);
  }
  // Protobuf accepts many byte strings (a truncated file, another message): require what every model has.
  if (!model.ir_version || model.ir_version < 1) throw notOnnx('it declares no IR version');
  if (!model.opset_import || model.opset_import.length === 0) throw notOnnx('it imports no operator set');
  const graph = model.graph;
  if (!graph?.output || graph.output.length === 0) throw notOnnx('it has no graph with outputs');

  const opsetImports: Record<string, number> = {};
  for (const entry of model.opset_import) opsetImports[canonicalDomain(entry.domain)] = Number(entry.version ?? 0);

  const walker = new GraphWalker();
  walker.graph(graph);
  for (const fn of model.functions ?? []) walker.nodes(fn.node ?? []);
  const trainingGraphs = (model.training_info ?? []).flatMap((t) => [t.initialization, t.algorithm]).filter((g): g is GraphMsg => g !== undefined);
  for (const g of trainingGraphs) walker.graph(g);

  const initializerNames = new Set([
    ...(graph.initializer ?? []).map((t) => t.name ?? ''),
    ...(graph.sparse_initializer ?? []).map((s) => s.values?.name ?? ''),
  ]);
  return {
    irVersion: model.ir_version,
    opsetImports,
    producer: { name: model.producer_name ?? '', version: model.producer_version ?? '' },
    graphName: graph.name ?? '',
    inputs: (graph.input ?? []).filter((v) => !initializerNames.has(v.name ?? '')).map(valueInfoOf),
    outputs: graph.output.map(valueInfoOf),
    weightBytes: walker.weightBytes,
    weightCount: walker.weightCount,
    externalTensors: walker.externalTensors,
    trainingInfo: model.training_info?.length ?? 0,
    domains: Object.fromEntries([...walker.domains].map(([domain, ops]) => [domain, [...ops].sort()])),
    localFunctions: (model.functions ?? []).map((f) => `${canonicalDomain(f.domain)}:${f.name ?? ''}`),
    steps: (graph.node ?? []).map((node) => ({
      opType: node.op_type ?? '',
      inputs: [...new Set([...(node.input ?? []), ...outerReads(node)].filter((n) => n !== ''))],
      outputs: (node.output ?? []).filter((n) => n !== ''),
    })),
    nodeCount: walker.nodeCount,
  };
}

/** "" and "ai.onnx" are the same domain. */
export function canonicalDomain(domain: string | undefined): string {
  return domain === undefined || domain === '' ? DEFAULT_DOMAIN : domain;
}

/** The version of the default operator set, what a manifest's `opset` records. */
export function defaultOpset(model: Pick<OnnxModel, 'opsetImports'>): number | undefined {
  return model.opsetImports[DEFAULT_DOMAIN];
}

/** Walks graphs and their subgraphs, summing weights and collecting domains and external tensors. */
class GraphWalker {
  weightBytes = 0;
  weightCount = 0;
  nodeCount = 0;
  readonly externalTensors: string[] = [];
  readonly domains = new Map<string, Set<string>>();

  graph(graph: GraphMsg): void {
    for (const t of graph.initializer ?? []) this.tensor(t);
    for (const s of graph.sparse_initializer ?? []) this.sparse(s);
    this.nodes(graph.node ?? []);
  }

  nodes(nodes: readonly NodeMsg[]): void {
    for (const node of nodes) {
      this.nodeCount++;
      const domain = canonicalDomain(node.domain);
      let ops = this.domains.get(domain);
      if (!ops) this.domains.set(domain, (ops = new Set()));
      ops.add(node.op_type ?? '');
      for (const attribute of node.attribute ?? []) {
        if (attribute.t) this.tensor(attribute.t);
        for (const t of attribute.tensors ?? []) this.tensor(t);
        if (attribute.sparse_tensor) this.sparse(attribute.sparse_tensor);
        for (const s of attribute.sparse_tensors ?? []) this.sparse(s);
        if (attribute.g) this.graph(attribute.g);
        for (const g of attribute.graphs ?? []) this.graph(g);
      }
    }
  }

  private sparse(sparse: SparseMsg): void {
    if (sparse.values) this.tensor(sparse.values);
    if (sparse.indices) this.tensor(sparse.indices, false);
  }

  private tensor(tensor: TensorMsg, counted = true): void {
    if (tensor.data_location === 1 || (tensor.external_data?.length ?? 0) > 0) this.externalTensors.push(tensor.name || '(unnamed)');
    this.weightBytes += tensorBytes(tensor);
    if (counted) this.weightCount++;
  }
}

/** A tensor's data size: its raw bytes, its typed fields' elements, or its external `length`. */
export function tensorBytes(tensor: TensorMsg): number {
  const external = tensor.external_data?.find((e) => e.key === 'length')?.value;
  if (external !== undefined && Number.isFinite(Number(external))) return Number(external);
  if (tensor.raw_data && tensor.raw_data.length > 0) return tensor.raw_data.length;
  if (tensor.string_data && tensor.string_data.length > 0) return tensor.string_data.reduce((sum, s) => sum + s.length, 0);
  const elements = (tensor.dims ?? []).reduce((a, b) => a * Number(b), 1);
  const bits = ELEM_BITS[tensor.data_type ?? 0];
  if (bits !== undefined) return Math.ceil((elements * bits) / 8);
  const fields = [tensor.float_data, tensor.int32_data, tensor.int64_data, tensor.double_data, tensor.uint64_data];
  return fields.reduce((sum, f) => sum + (f?.length ?? 0) * 4, 0);
}

function valueInfoOf(info: ValueInfoMsg): OnnxValue {
  return { name: info.name ?? '', type: typeOf(info.type) };
}

function typeOf(type: TypeMsg | undefined): OnnxValueType {
  if (!type) return { kind: 'none' };
  if (type.tensor_type) {
    const elemType = type.tensor_type.elem_type ?? 0;
    const dims = type.tensor_type.shape?.dim;
    return {
      kind: 'tensor',
      elemType,
      dtype: ONNX_ELEM_TYPES[elemType],
      shape: type.tensor_type.shape === undefined ? undefined : (dims ?? []).map(dimOf),
    };
  }
  if (type.sequence_type) return { kind: 'sequence' };
  if (type.map_type) return { kind: 'map' };
  if (type.optional_type) return { kind: 'optional' };
  if (type.sparse_tensor_type) return { kind: 'sparse_tensor' };
  return { kind: 'none' };
}

function dimOf(dim: Dim): OnnxDim {
  // Exporters write -1 for "unknown" now and then: that is an unnamed dimension, not a size.
  if (dim.dim_value !== undefined && dim.dim_value !== null && Number(dim.dim_value) >= 0) {
    return { value: Number(dim.dim_value) };
  }
  if (typeof dim.dim_param === 'string' && dim.dim_param !== '') return { param: dim.dim_param };
  return { unnamed: true };
}

/** Names a node's subgraphs read from the enclosing scopes (not defined inside them). */
function outerReads(node: NodeMsg): string[] {
  const reads: string[] = [];
  const visit = (graph: GraphMsg, outer: ReadonlySet<string>) => {
    const defined = new Set(outer);
    for (const v of graph.input ?? []) defined.add(v.name ?? '');
    for (const t of graph.initializer ?? []) defined.add(t.name ?? '');
    for (const s of graph.sparse_initializer ?? []) defined.add(s.values?.name ?? '');
    for (const n of graph.node ?? []) {
      for (const input of n.input ?? []) if (input !== '' && !defined.has(input)) reads.push(input);
      for (const g of subgraphs(n)) visit(g, defined);
      for (const output of n.output ?? []) defined.add(output);
    }
  };
  for (const g of subgraphs(node)) visit(g, new Set());
  return reads;
}

function subgraphs(node: NodeMsg): GraphMsg[] {
  return (node.attribute ?? []).flatMap((a) => [...(a.g ? [a.g] : []), ...(a.graphs ?? [])]);
}
