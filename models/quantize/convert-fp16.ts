/**
 * float16 variants of any ONNX model for WebGPU, in TypeScript on the protobuf, as onnxconverter-common's
 * `convert_float_to_float16(keep_io_types=True)` makes them: float32 weights (initializers and Constant
 * nodes) become float16, clamped into float16's finite non-zero range, and operators compute in float16,
 * while the model's inputs and outputs keep their float32 type through Casts at the boundary. Operators on
 * the block list (models/quantize/fp16-block-list.ts), operators of other domains, and float arithmetic on
 * integer-derived values stay float32, with Casts where float16 and float32 meet. If/Loop/Scan bodies are
 * converted with their node; `value_info` types are rewritten to match, so shape-inferred models stay
 * consistent.
 *
 * Differences from onnxconverter-common, each on purpose:
 * - A constant read in both precisions is stored twice (float32 for the blocked readers) rather than cast
 *   back, so a Resize's scales or a Range's limits keep every bit.
 * - Integer-derived float arithmetic stays float32 (see fp16-plan.ts).
 * - Cast(to=float) nodes in converted parts become Cast(to=float16), as onnxruntime's fork of the converter
 *   does, and dtype attributes of random/eye/window operators follow.
 * - Clamping is to float16's own limits (±65504 and ±2⁻²⁴), onnxruntime's fork's defaults, not 1e4/1e-7.
 * onnxruntime CPU (onnxruntime-node, and onnxruntime-web's WASM backend) runs an operator without a float16
 * kernel by inserting Casts itself at session creation (its InsertCastTransformer), so the result loads
 * there; it is built for onnxruntime-web's WebGPU backend, whose kernels take float16 (with shader-f16).
 */
import { TandemError } from '../../protocol/errors.ts';
import { DATA_TYPE, type OnnxAttribute, type OnnxGraph, type OnnxModel, type OnnxNode, type OnnxTensor } from '../onnx/onnx-proto.ts';
import { DEFAULT_FP16_BLOCK_LIST } from './fp16-block-list.ts';
import { planFp16, type Fp16Plan, type GraphState, type Precision, type ValueState } from './fp16-plan.ts';
import { toFloat16Array, type ClampCounts, type Float16Clamp } from './float16.ts';
import { NameAllocator } from './graph-scope.ts';
import { findAttribute, intAttr, makeNode, tensorAttr } from './node-attributes.ts';
import { opsetVersion, readModel, writeModel } from './model-io.ts';
import { float16Tensor, readFloat32, tensorDims } from './tensor-data.ts';

export interface Fp16Options {
  /** Op types kept in float32; replaces the default list (`DEFAULT_FP16_BLOCK_LIST`'s keys). */
  opBlockList?: readonly string[];
  /** Node names kept in float32. */
  nodeBlockList?: readonly string[];
  /** Keep operators of domains other than the default one (com.microsoft, custom ops) in float32. Default true. */
  blockOtherDomains?: boolean;
  /** Keep float arithmetic on integer-derived values (sizes, masks) in float32. Default true. */
  keepIntegerArithmetic?: boolean;
  /** Where weights are clamped before conversion. */
  clamp?: Float16Clamp;
  /** Called once with what the conversion did. */
  onReport?: (report: Fp16Report) => void;
}

export interface Fp16Report {
  convertedNodes: number;
  /** Nodes kept in float32, and why. */
  blockedNodes: { node: string; opType: string; reason: string }[];
  castsInserted: number;
  /** float32 constants stored as float16. */
  constantsConverted: number;
  /** float32 constants also stored as float16 because readers of both precisions need them. */
  constantsDuplicated: number;
  /** Constants that stay float32 only because their data is in an external file. */
  externalConstants: string[];
  clamped: ClampCounts;
}

/** The oldest default-domain opset converted: before 6, Cast names its target type as a string. */
export const MIN_OPSET = 6;

/**
 * @example
 * const fp16 = convertToFp16(await readFile('model.onnx'));
 * @throws TandemError `bad_request` when the bytes are not an ONNX model, or its opset is older than 6.
 */
export function convertToFp16(modelBytes: Uint8Array, options: Fp16Options = {}): Uint8Array {
  const model = readModel(modelBytes);
  const opset = opsetVersion(model, '');
  if (opset !== undefined && opset < MIN_OPSET)
    throw new TandemError(
      'bad_request',
      `default-domain opset ${opset} predates ${MIN_OPSET} (its Cast names types as strings, and onnxruntime supports opset 7 and later); convert the model to a newer opset first`,
    );
  const blockList = options.opBlockList
    ? new Map(options.opBlockList.map((op) => [op, 'in the op block list']))
    : new Map(Object.entries(DEFAULT_FP16_BLOCK_LIST));
  const plan = planFp16(model, {
    opBlockList: blockList,
    nodeBlockList: new Set(options.nodeBlockList ?? []),
    blockOtherDomains: options.blockOtherDomains ?? true,
    keepIntegerArithmetic: options.keepIntegerArithmetic ?? true,
  });
  const report: Fp16Report = {
    convertedNodes: plan.converted.length,
    blockedNodes: plan.blocked.map(({ node, reason }) => ({ node: node.name || node.output?.[0] || '', opType: node.op_type ?? '', reason })),
    castsInserted: 0,
    constantsConverted: 0,
    constantsDuplicated: 0,
    externalConstants: [],
    clamped: { raisedFromZero: 0, loweredToMax: 0 },
  };
  new Fp16Rewrite(model, plan, options.clamp ?? {}, report).apply();
  options.onReport?.(report);
  return writeModel(model);
}

/** Where a Cast goes: after its value's producer, or at the start of the graph for inputs and initializers. */
type Anchor = OnnxNode | 'start';

class Fp16Rewrite {
  private readonly names: NameAllocator;
  /** Per graph: the nodes to insert after each anchor. */
  private readonly insertions = new Map<OnnxGraph, Map<Anchor, OnnxNode[]>>();
  /** The name holding each value in each precision, once decided. */
  private readonly versions = new Map<ValueState, Map<Precision, string>>();
  /** Per graph, the precision each name holds after conversion (for retyping declarations). */
  private readonly held = new Map<GraphState, Map<string, Precision>>();

  constructor(
    readonly model: OnnxModel,
    private readonly plan: Fp16Plan,
    private readonly clamp: Float16Clamp,
    private readonly report: Fp16Report,
  ) {
    this.names = new NameAllocator(model);
  }

  apply(): void {
    for (const value of this.plan.values) if (value.float && (value.source === 'initializer' || value.source === 'constant')) this.decideConstant(value);
    for (const value of this.plan.values) if (value.float) this.connect(value);
    for (const node of this.plan.converted) this.convertAttributes(node);
    for (const graph of this.plan.graphs) this.insertCasts(graph.graph);
    this.retypeDeclarations();
  }

  /** A float32 constant: float16 when only float16 readers read it, both when both do, else as it is. */
  private decideConstant(value: ValueState): void {
    const wants16 = value.readers.some((r) => r.precision === 'fp16');
    const wants32 = value.readers.some((r) => r.precision === 'fp32');
    if (!wants16) return;
    const tensor = value.source === 'initializer' ? value.tensor! : constantTensor(value.producer!);
    const values = tensor && readFloat32(tensor);
    if (!tensor || !values) {
      this.report.externalConstants.push(value.name);
      return;
    }
    const bits = toFloat16Array(values, this.clamp, this.report.clamped);
    if (wants32) {
      const copy = float16Tensor(this.names.fresh(`${value.name}_fp16`), tensorDims(tensor), bits);
      value.graph.graph.initializer = [...(value.graph.graph.initializer ?? []), copy];
      this.setVersion(value, 'fp16', copy.name!);
      this.report.constantsDuplicated++;
      return;
    }
    const converted = float16Tensor(tensor.name ?? '', tensorDims(tensor), bits);
    if (value.source === 'initializer') Object.assign(clearData(value.tensor!), converted);
    else value.producer!.attribute = [tensorAttr('value', { ...converted, name: '' })].map(stripEmptyName);
    value.precision = 'fp16';
    this.report.constantsConverted++;
  }

  /** Points every reader at the value's version in the precision it wants, making Casts as needed. */
  private connect(value: ValueState): void {
    if (value.readers.length === 0) return;
    const anchor: Anchor = value.source === 'node' || value.source === 'constant' ? value.producer! : 'start';
    const own = this.version(value, value.precision);
    if (value.source === 'node' && value.precision === 'fp16' && value.readers.some((r) => r.mainOutput)) {
      // The model's output keeps its name and type: the producer writes a float16 twin, cast back into the name.
      const twin = this.names.fresh(`${value.name}_fp16`);
      const producer = value.producer!;
      producer.output = producer.output!.map((o) => (o === value.name ? twin : o));
      this.setVersion(value, 'fp16', twin);
      this.setVersion(value, 'fp32', value.name);
      this.insert(value.graph.graph, anchor, castNode(twin, value.name, 'fp32', this.names));
    }
    for (const reader of value.readers) {
      let name = this.versions.get(value)?.get(reader.precision);
      if (name === undefined) {
        name = this.names.fresh(`${value.name}_${reader.precision}`);
        this.insert(value.graph.graph, anchor, castNode(own, name, reader.precision, this.names));
        this.setVersion(value, reader.precision, name);
      }
      reader.use(name);
    }
  }

  /** The name holding `value` in `precision`, its own name for its own precision. */
  private version(value: ValueState, precision: Precision): string {
    const name = this.versions.get(value)?.get(precision);
    if (name !== undefined) return name;
    if (precision !== value.precision) throw new Error(`no ${precision} version of ${value.name}`);
    this.setVersion(value, precision, value.name);
    return value.name;
  }

  private setVersion(value: ValueState, precision: Precision, name: string): void {
    let versions = this.versions.get(value);
    if (!versions) this.versions.set(value, (versions = new Map()));
    versions.set(precision, name);
    let held = this.held.get(value.graph);
    if (!held) this.held.set(value.graph, (held = new Map()));
    held.set(name, precision);
  }

  private insert(graph: OnnxGraph, anchor: Anchor, node: OnnxNode): void {
    let byAnchor = this.insertions.get(graph);
    if (!byAnchor) this.insertions.set(graph, (byAnchor = new Map()));
    byAnchor.set(anchor, [...(byAnchor.get(anchor) ?? []), node]);
    this.report.castsInserted++;
  }

  private insertCasts(graph: OnnxGraph): void {
    const byAnchor = this.insertions.get(graph);
    if (!byAnchor) return;
    const nodes: OnnxNode[] = [...(byAnchor.get('start') ?? [])];
    for (const node of graph.node ?? []) nodes.push(node, ...(byAnchor.get(node) ?? []));
    graph.node = nodes;
  }

  /** Attributes that fix a float32 output type, in nodes that now compute in float16. */
  private convertAttributes(node: OnnxNode): void {
    const op = node.op_type ?? '';
    const attributes = node.attribute ?? [];
    const setInt = (name: string, from: number | undefined): void => {
      const existing = findAttribute(node, name);
      if (existing) {
        if (Number(existing.i) === DATA_TYPE.FLOAT) existing.i = DATA_TYPE.FLOAT16;
      } else if (from === DATA_TYPE.FLOAT) node.attribute = [...attributes, intAttr(name, DATA_TYPE.FLOAT16)];
    };
    switch (op) {
      case 'Cast':
        return setInt('to', undefined);
      case 'RandomNormal':
      case 'RandomUniform':
      case 'SequenceEmpty':
        return setInt('dtype', DATA_TYPE.FLOAT);
      case 'RandomNormalLike':
      case 'RandomUniformLike':
      case 'EyeLike':
      case 'Bernoulli':
        return setInt('dtype', undefined);
      case 'HannWindow':
      case 'HammingWindow':
      case 'BlackmanWindow':
      case 'MelWeightMatrix':
        return setInt('output_datatype', DATA_TYPE.FLOAT);
      case 'Constant':
        return; // Decided with the other constants, by who reads them.
      case 'ConstantOfShape':
        if (!findAttribute(node, 'value')) {
          node.attribute = [...attributes, tensorAttr('value', float16Tensor('', [1], Uint16Array.of(0)))].map(stripEmptyName);
          return;
        }
    }
    for (const attribute of node.attribute ?? []) this.convertAttributeTensors(attribute);
  }

  private convertAttributeTensors(attribute: OnnxAttribute): void {
    const convert = (t: OnnxTensor): void => {
      const values = readFloat32(t);
      if (values) Object.assign(clearData(t), float16Tensor(t.name ?? '', tensorDims(t), toFloat16Array(values, this.clamp, this.report.clamped)));
      if (!t.name) delete t.name;
    };
    if (attribute.t?.data_type === DATA_TYPE.FLOAT) convert(attribute.t);
    for (const t of attribute.tensors ?? []) if (t.data_type === DATA_TYPE.FLOAT) convert(t);
  }

  /** Declared types (value_info, body inputs and outputs, initializer-inputs of IR < 4) to match. */
  private retypeDeclarations(): void {
    for (const value of this.plan.values) if (value.float && !this.versions.has(value)) this.setVersion(value, value.precision, value.name);
    const converted = new Set(this.plan.converted);
    for (const gs of this.plan.graphs) {
      const held = (name: string): Precision | undefined => {
        for (let g: GraphState | undefined = gs; g; g = g.parent) {
          const precision = this.held.get(g)?.get(name);
          if (precision || g.values.has(name)) return precision;
        }
        return undefined;
      };
      const producers = new Map<string, OnnxNode>();
      for (const node of gs.graph.node ?? []) for (const output of node.output ?? []) producers.set(output, node);
      for (const info of [...(gs.graph.value_info ?? []), ...(gs.graph.output ?? []), ...(gs.graph.input ?? [])]) {
        if (!info.name) continue;
        const tensorType = info.type?.tensor_type;
        if (tensorType && (tensorType.elem_type === DATA_TYPE.FLOAT || tensorType.elem_type === DATA_TYPE.FLOAT16)) {
          const precision = held(info.name);
          if (precision) tensorType.elem_type = precision === 'fp16' ? DATA_TYPE.FLOAT16 : DATA_TYPE.FLOAT;
          continue;
        }
        // Sequences and optionals of float32 made by converted nodes now hold float16.
        const inner = (info.type?.sequence_type ?? info.type?.optional_type)?.elem_type?.tensor_type;
        const producer = producers.get(info.name);
        if (inner?.elem_type === DATA_TYPE.FLOAT && producer && converted.has(producer)) inner.elem_type = DATA_TYPE.FLOAT16;
      }
    }
  }
}

function castNode(from: string, to: string, precision: Precision, names: NameAllocator): OnnxNode {
  return makeNode('Cast', [from], [to], names.fresh(`${to}_cast`), [intAttr('to', precision === 'fp16' ? DATA_TYPE.FLOAT16 : DATA_TYPE.FLOAT)]);
}

/** A Constant node's value as a tensor (value, value_float or value_floats), or undefined. */
function constantTensor(node: OnnxNode): OnnxTensor | undefined {
  const attribute = (node.attribute ?? [])[0];
  if (!attribute) return undefined;
  if (attribute.name === 'value') return attribute.t;
  if (attribute.name === 'value_float') return { dims: [], data_type: DATA_TYPE.FLOAT, float_data: [attribute.f ?? 0] };
  if (attribute.name === 'value_floats')
    return { dims: [attribute.floats?.length ?? 0], data_type: DATA_TYPE.FLOAT, float_data: [...(attribute.floats ?? [])] };
  return undefined;
}

function clearData(tensor: OnnxTensor): OnnxTensor {
  delete tensor.float_data;
  delete tensor.raw_data;
  delete tensor.int32_data;
  return tensor;
}

function stripEmptyName(attribute: OnnxAttribute): OnnxAttribute {
  if (attribute.t && !attribute.t.name) delete attribute.t.name;
  return attribute;
}

export { DEFAULT_FP16_BLOCK_LIST } from './fp16-block-list.ts';
export type { Float16Clamp } from './float16.ts';
