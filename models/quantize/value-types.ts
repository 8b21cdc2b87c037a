/**
 * The element type of every value in a model, worked out from the graph itself: declared inputs,
 * initializers and Constant nodes, then operator by operator (what `onnx.shape_inference` gives Python
 * tools, reduced to element types, which is all the fp16 conversion needs to know where float32 flows).
 * Declared types (`value_info`, outputs) fill in what the rules cannot tell, such as the outputs of
 * operators from other domains; an unknown operator is assumed to give its first input's type unless a
 * declaration says otherwise.
 */
import { DATA_TYPE, type OnnxGraph, type OnnxModel, type OnnxNode, type OnnxType } from '../onnx/onnx-proto.ts';
import { subgraphs } from './graph-scope.ts';
import { findAttribute, intAttribute, isDefaultDomain } from './node-attributes.ts';

/** A value's type reduced to what matters here: tensor or container, and the element type (0 when unknown). */
export interface ValueType {
  kind: 'tensor' | 'sequence' | 'optional' | 'sparse' | 'other';
  elem: number;
}

export const tensorOf = (elem: number): ValueType => ({ kind: 'tensor', elem });

/** A float32 tensor: what the fp16 conversion turns into float16. */
export function isFloat32Tensor(type: ValueType | undefined): boolean {
  return type?.kind === 'tensor' && type.elem === DATA_TYPE.FLOAT;
}

/** Reads a declared TypeProto. */
export function declaredType(type: OnnxType | undefined): ValueType | undefined {
  if (!type) return undefined;
  if (type.tensor_type) return tensorOf(type.tensor_type.elem_type ?? 0);
  if (type.sparse_tensor_type) return { kind: 'sparse', elem: type.sparse_tensor_type.elem_type ?? 0 };
  const inner = type.sequence_type?.elem_type?.tensor_type ?? type.optional_type?.elem_type?.tensor_type;
  if (type.sequence_type) return { kind: 'sequence', elem: inner?.elem_type ?? 0 };
  if (type.optional_type) return { kind: 'optional', elem: inner?.elem_type ?? 0 };
  return { kind: 'other', elem: 0 };
}

/** The types of one graph's values, with the enclosing graph's as parent. */
export class TypeScope {
  readonly types = new Map<string, ValueType>();

  constructor(
    readonly graph: OnnxGraph,
    readonly parent?: TypeScope,
  ) {}

  /** The type of `name` as seen from this graph. */
  get(name: string): ValueType | undefined {
    return this.types.get(name) ?? this.parent?.get(name);
  }
}

/** Infers the types of every graph of the model; the map holds one scope per graph. */
export function inferTypes(model: OnnxModel): Map<OnnxGraph, TypeScope> {
  const scopes = new Map<OnnxGraph, TypeScope>();
  if (model.graph) inferGraph(model.graph, undefined, [], scopes);
  return scopes;
}

function inferGraph(graph: OnnxGraph, parent: TypeScope | undefined, bound: (ValueType | undefined)[], scopes: Map<OnnxGraph, TypeScope>): TypeScope {
  const scope = new TypeScope(graph, parent);
  scopes.set(graph, scope);
  const declared = new Map<string, ValueType>();
  for (const v of [...(graph.value_info ?? []), ...(graph.output ?? [])]) {
    const type = declaredType(v.type);
    if (v.name && type) declared.set(v.name, type);
  }
  for (const [i, input] of (graph.input ?? []).entries()) {
    const type = declaredType(input.type);
    const known = type && (type.kind !== 'tensor' || type.elem !== 0) ? type : bound[i];
    if (input.name && known) scope.types.set(input.name, known);
  }
  for (const tensor of graph.initializer ?? []) if (tensor.name) scope.types.set(tensor.name, tensorOf(tensor.data_type ?? 0));
  for (const sparse of graph.sparse_initializer ?? []) if (sparse.values?.name) scope.types.set(sparse.values.name, tensorOf(sparse.values.data_type ?? 0));
  for (const node of graph.node ?? []) {
    const inputs = (node.input ?? []).map((name) => (name ? scope.get(name) : undefined));
    const bodies = subgraphs(node).map((sub) => inferGraph(sub, scope, bodyInputs(node, inputs), scopes));
    const { types, certain } = outputTypes(node, inputs, bodies);
    for (const [i, name] of (node.output ?? []).entries()) {
      if (!name) continue;
      const inferred = types[i];
      const type = certain && inferred && inferred.elem !== 0 ? inferred : (declared.get(name) ?? inferred);
      if (type) scope.types.set(name, type);
    }
  }
  return scope;
}

/** What a body's inputs are bound to, for bodies that leave their input types out. */
function bodyInputs(node: OnnxNode, inputs: (ValueType | undefined)[]): (ValueType | undefined)[] {
  if (node.op_type === 'Loop') return [tensorOf(DATA_TYPE.INT64), tensorOf(DATA_TYPE.BOOL), ...inputs.slice(2)];
  if (node.op_type === 'Scan') return inputs;
  return [];
}

const BOOL_OUTPUTS = new Set([
  'Equal',
  'Less',
  'Greater',
  'LessOrEqual',
  'GreaterOrEqual',
  'And',
  'Or',
  'Xor',
  'Not',
  'IsNaN',
  'IsInf',
  'RegexFullMatch',
  'OptionalHasElement',
]);
const INT64_OUTPUTS = new Set(['Shape', 'Size', 'NonZero', 'ArgMax', 'ArgMin', 'NonMaxSuppression', 'SequenceLength']);
const STRING_OUTPUTS = new Set(['StringNormalizer', 'StringConcat']);
const FLOAT_BY_DEFAULT = new Set(['RandomNormal', 'RandomUniform']);
const LIKE_INPUT = new Set(['RandomNormalLike', 'RandomUniformLike', 'EyeLike', 'Bernoulli']);
const WINDOWS = new Set(['HannWindow', 'HammingWindow', 'BlackmanWindow', 'MelWeightMatrix']);

/** Output types of one node; `certain` is false when they are a guess (unknown operators). */
function outputTypes(node: OnnxNode, inputs: (ValueType | undefined)[], bodies: TypeScope[]): { types: (ValueType | undefined)[]; certain: boolean } {
  const count = (node.output ?? []).length;
  const all = (type: ValueType | undefined): (ValueType | undefined)[] => Array.from({ length: count }, () => type);
  const first = inputs[0];
  const op = node.op_type ?? '';
  if (!isDefaultDomain(node)) {
    if (node.domain === 'ai.onnx.ml') return { types: mlOutputTypes(node, inputs), certain: true };
    return { types: all(first), certain: false };
  }
  if (BOOL_OUTPUTS.has(op)) return { types: all(tensorOf(DATA_TYPE.BOOL)), certain: true };
  if (INT64_OUTPUTS.has(op)) return { types: all(tensorOf(DATA_TYPE.INT64)), certain: true };
  if (STRING_OUTPUTS.has(op)) return { types: all(tensorOf(DATA_TYPE.STRING)), certain: true };
  const dtype = (fallback: ValueType | undefined): ValueType | undefined => {
    const attribute = findAttribute(node, 'dtype');
    return attribute?.i === undefined ? fallback : tensorOf(Number(attribute.i));
  };
  const sure = (...types: (ValueType | undefined)[]) => ({
    types: count <= types.length ? types.slice(0, count) : [...types, ...all(types.at(-1)).slice(types.length)],
    certain: true,
  });
  switch (op) {
    case 'Cast':
      return sure(tensorOf(castTarget(node)));
    case 'CastLike':
      return sure(inputs[1]);
    case 'Constant':
      return sure(constantType(node));
    case 'ConstantOfShape':
      return sure(tensorOf(findAttribute(node, 'value')?.t?.data_type ?? DATA_TYPE.FLOAT));
    case 'Multinomial':
      return sure(dtype(tensorOf(DATA_TYPE.INT32)));
    case 'Where':
      return sure(inputs[1] ?? inputs[2]);
    case 'OneHot':
      return sure(inputs[2]);
    case 'TopK':
    case 'MaxPool':
      return sure(first, tensorOf(DATA_TYPE.INT64));
    case 'Unique':
      return sure(first, tensorOf(DATA_TYPE.INT64));
    case 'Dropout':
      return sure(first, tensorOf(DATA_TYPE.BOOL));
    case 'LayerNormalization':
      return sure(first, tensorOf(intAttribute(node, 'stash_type', DATA_TYPE.FLOAT)));
    case 'BatchNormalization':
      return sure(first, inputs[3], inputs[4]);
    case 'DynamicQuantizeLinear':
      return sure(tensorOf(DATA_TYPE.UINT8), tensorOf(DATA_TYPE.FLOAT), tensorOf(DATA_TYPE.UINT8));
    case 'QuantizeLinear': {
      const explicit = intAttribute(node, 'output_dtype', 0);
      return sure(explicit ? tensorOf(explicit) : (inputs[2] ?? tensorOf(DATA_TYPE.UINT8)));
    }
    case 'DequantizeLinear':
      return sure(inputs[1]);
    case 'MatMulInteger':
    case 'ConvInteger':
      return sure(tensorOf(DATA_TYPE.INT32));
    case 'QLinearMatMul':
    case 'QLinearConv':
      return sure(inputs[7]);
    case 'StringSplit':
      return sure(tensorOf(DATA_TYPE.STRING), tensorOf(DATA_TYPE.INT64));
    case 'ImageDecoder':
      return sure(tensorOf(DATA_TYPE.UINT8));
    case 'TfIdfVectorizer':
      return sure(tensorOf(DATA_TYPE.FLOAT));
    case 'SequenceConstruct':
    case 'SplitToSequence':
      return sure(first && { kind: 'sequence', elem: first.elem });
    case 'SequenceEmpty':
      return sure({ kind: 'sequence', elem: intAttribute(node, 'dtype', DATA_TYPE.FLOAT) });
    case 'SequenceAt':
    case 'ConcatFromSequence':
      return sure(first && tensorOf(first.elem));
    case 'Optional':
      return sure(first && { kind: 'optional', elem: first.elem });
    case 'OptionalGetElement':
      return sure(first && (first.kind === 'optional' ? tensorOf(first.elem) : first));
    case 'If':
      return sure(...bodyOutputs(bodies[0]));
    case 'Loop':
      return sure(...bodyOutputs(bodies[0]).slice(1));
    case 'Scan':
      return sure(...bodyOutputs(bodies[0]));
    case 'SequenceMap':
      return sure(...bodyOutputs(bodies[0]).map((t) => t && { kind: 'sequence' as const, elem: t.elem }));
  }
  if (FLOAT_BY_DEFAULT.has(op)) return sure(dtype(tensorOf(DATA_TYPE.FLOAT)));
  if (LIKE_INPUT.has(op)) return sure(dtype(first));
  if (WINDOWS.has(op)) return sure(tensorOf(intAttribute(node, 'output_datatype', DATA_TYPE.FLOAT)));
  return { types: all(first ?? inputs.find(Boolean)), certain: first !== undefined };
}

/** Cast's `to`: a DataType code, or (Cast-1, opsets before 6) its name as a string. */
function castTarget(node: OnnxNode): number {
  const to = findAttribute(node, 'to');
  if (to?.s && to.s.length > 0) return (DATA_TYPE as Record<string, number>)[new TextDecoder().decode(to.s)] ?? 0;
  return intAttribute(node, 'to', 0);
}

function bodyOutputs(body: TypeScope | undefined): (ValueType | undefined)[] {
  if (!body) return [];
  return (body.graph.output ?? []).map((o) => (o.name ? body.get(o.name) : undefined) ?? declaredType(o.type));
}

function constantType(node: OnnxNode): ValueType | undefined {
  for (const attribute of node.attribute ?? []) {
    switch (attribute.name) {
      case 'value':
        return tensorOf(attribute.t?.data_type ?? 0);
      case 'sparse_value':
        return { kind: 'sparse', elem: attribute.sparse_tensor?.values?.data_type ?? 0 };
      case 'value_float':
      case 'value_floats':
        return tensorOf(DATA_TYPE.FLOAT);
      case 'value_int':
      case 'value_ints':
        return tensorOf(DATA_TYPE.INT64);
      case 'value_string':
      case 'value_strings':
        return tensorOf(DATA_TYPE.STRING);
    }
  }
  return undefined;
}

/** The classic-ML operators' outputs (labels, scores), where the schema fixes them. */
function mlOutputTypes(node: OnnxNode, inputs: (ValueType | undefined)[]): (ValueType | undefined)[] {
  const float = tensorOf(DATA_TYPE.FLOAT);
  switch (node.op_type) {
    case 'LinearClassifier':
    case 'SVMClassifier':
    case 'TreeEnsembleClassifier': {
      const labels = findAttribute(node, 'classlabels_strings') ? DATA_TYPE.STRING : DATA_TYPE.INT64;
      return [tensorOf(labels), float];
    }
    case 'LinearRegressor':
    case 'SVMRegressor':
    case 'TreeEnsembleRegressor':
    case 'Scaler':
    case 'Normalizer':
    case 'FeatureVectorizer':
    case 'OneHotEncoder':
      return [float];
    case 'Binarizer':
    case 'Imputer':
    case 'ArrayFeatureExtractor':
      return [inputs[0]];
    default:
      return (node.output ?? []).map(() => undefined);
  }
}
