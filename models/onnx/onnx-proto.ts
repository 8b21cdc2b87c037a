/**
 * ONNX's protobuf messages, read from `onnx.proto` (the official schema's subset we write) by protobufjs at
 * load time, so there is no generated code to keep in step. Field names keep the spec's snake_case.
 * Encoding is deterministic: protobufjs writes fields in field-number order and we never set maps.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import protobuf from 'protobufjs';
import type { TensorDtype } from '../../protocol/tensor.ts';

const root = protobuf.parse(readFileSync(join(import.meta.dirname, 'onnx.proto'), 'utf8'), { keepCase: true }).root;

/** The ModelProto message type: `encode(model).finish()` gives a .onnx file's bytes. */
export const ModelProto = root.lookupType('onnx.ModelProto');

/** TensorProto.DataType codes for the dtypes the builder writes. */
export const ONNX_DATA_TYPE = {
  float32: 1,
  uint8: 2,
  int8: 3,
  int32: 6,
  int64: 7,
} as const satisfies Partial<Record<TensorDtype, number>>;

export type OnnxDtype = keyof typeof ONNX_DATA_TYPE;

/** AttributeProto.AttributeType codes. */
export const ATTRIBUTE_TYPE = {
  FLOAT: 1,
  INT: 2,
  STRING: 3,
  TENSOR: 4,
  GRAPH: 5,
  FLOATS: 6,
  INTS: 7,
  STRINGS: 8,
  TENSORS: 9,
  GRAPHS: 10,
  SPARSE_TENSOR: 11,
  SPARSE_TENSORS: 12,
  TYPE_PROTO: 13,
  TYPE_PROTOS: 14,
} as const;

/** Every TensorProto.DataType code, for reading foreign models (the builder writes only `ONNX_DATA_TYPE`'s). */
export const DATA_TYPE = {
  UNDEFINED: 0,
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  UINT16: 4,
  INT16: 5,
  INT32: 6,
  INT64: 7,
  STRING: 8,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  UINT32: 12,
  UINT64: 13,
  COMPLEX64: 14,
  COMPLEX128: 15,
  BFLOAT16: 16,
  FLOAT8E4M3FN: 17,
  FLOAT8E4M3FNUZ: 18,
  FLOAT8E5M2: 19,
  FLOAT8E5M2FNUZ: 20,
  UINT4: 21,
  INT4: 22,
  FLOAT4E2M1: 23,
} as const;

/** Plain-object shapes of the messages, as protobufjs accepts them. */
export interface TensorMessage {
  name: string;
  dims: number[];
  data_type: number;
  raw_data: Uint8Array;
}

export interface AttributeMessage {
  name: string;
  type: number;
  f?: number;
  i?: number;
  s?: Uint8Array;
  floats?: number[];
  ints?: number[];
}

export interface NodeMessage {
  input: string[];
  output: string[];
  name: string;
  op_type: string;
  attribute: AttributeMessage[];
}

export interface ValueInfoMessage {
  name: string;
  type: { tensor_type: { elem_type: number; shape: { dim: ({ dim_value: number } | { dim_param: string })[] } } };
}

export interface GraphMessage {
  node: NodeMessage[];
  name: string;
  initializer: TensorMessage[];
  doc_string: string;
  input: ValueInfoMessage[];
  output: ValueInfoMessage[];
}

export interface ModelMessage {
  ir_version: number;
  opset_import: { domain: string; version: number }[];
  producer_name: string;
  producer_version: string;
  doc_string: string;
  graph: GraphMessage;
}

/**
 * Serialises a model.
 * @throws Error when the message does not match the schema (a builder bug, caught before bytes are written).
 */
export function encodeModel(model: ModelMessage): Uint8Array {
  const problem = ModelProto.verify(model);
  if (problem) throw new Error(`invalid ONNX model message: ${problem}`);
  const bytes = ModelProto.encode(model).finish();
  // protobufjs returns a Buffer under Node; hand out a plain Uint8Array over the same memory.
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Parses .onnx bytes back into plain objects (for tests and inspection). */
export function decodeModel(bytes: Uint8Array): Record<string, unknown> {
  return ModelProto.toObject(ModelProto.decode(bytes), { longs: Number });
}

/*
 * The whole schema as plain objects, for reading a foreign model, rewriting it and writing it back
 * (`parseModel` / `serializeModel`). Every field is optional, as protobuf's are. 64-bit integers are
 * `Int64`: `parseModel` hands them out as decimal strings, so no value beyond 2^53 (Slice's INT64_MAX
 * `ends`, say) loses a bit; anything written may use plain numbers.
 */

/** An int64 field's value: a decimal string as parsed, or a safe integer. */
export type Int64 = string | number;

export interface OnnxStringEntry {
  key?: string;
  value?: string;
}

export interface OnnxTensor {
  dims?: Int64[];
  data_type?: number;
  float_data?: number[];
  int32_data?: number[];
  string_data?: Uint8Array[];
  int64_data?: Int64[];
  name?: string;
  doc_string?: string;
  raw_data?: Uint8Array;
  double_data?: number[];
  uint64_data?: Int64[];
  segment?: { begin?: Int64; end?: Int64 };
  external_data?: OnnxStringEntry[];
  data_location?: number;
  metadata_props?: OnnxStringEntry[];
}

export interface OnnxSparseTensor {
  values?: OnnxTensor;
  indices?: OnnxTensor;
  dims?: Int64[];
}

export interface OnnxDimension {
  dim_value?: Int64;
  dim_param?: string;
  denotation?: string;
}

export interface OnnxTensorShape {
  dim?: OnnxDimension[];
}

export interface OnnxType {
  tensor_type?: { elem_type?: number; shape?: OnnxTensorShape };
  sequence_type?: { elem_type?: OnnxType };
  map_type?: { key_type?: number; value_type?: OnnxType };
  optional_type?: { elem_type?: OnnxType };
  sparse_tensor_type?: { elem_type?: number; shape?: OnnxTensorShape };
  denotation?: string;
}

export interface OnnxValueInfo {
  name?: string;
  type?: OnnxType;
  doc_string?: string;
  metadata_props?: OnnxStringEntry[];
}

export interface OnnxAttribute {
  name?: string;
  ref_attr_name?: string;
  doc_string?: string;
  type?: number;
  f?: number;
  i?: Int64;
  s?: Uint8Array;
  t?: OnnxTensor;
  g?: OnnxGraph;
  floats?: number[];
  ints?: Int64[];
  strings?: Uint8Array[];
  sparse_tensor?: OnnxSparseTensor;
  tp?: OnnxType;
  tensors?: OnnxTensor[];
  graphs?: OnnxGraph[];
  sparse_tensors?: OnnxSparseTensor[];
  type_protos?: OnnxType[];
}

export interface OnnxNode {
  input?: string[];
  output?: string[];
  name?: string;
  op_type?: string;
  domain?: string;
  overload?: string;
  attribute?: OnnxAttribute[];
  doc_string?: string;
  metadata_props?: OnnxStringEntry[];
}

export interface OnnxGraph {
  node?: OnnxNode[];
  name?: string;
  initializer?: OnnxTensor[];
  sparse_initializer?: OnnxSparseTensor[];
  doc_string?: string;
  input?: OnnxValueInfo[];
  output?: OnnxValueInfo[];
  value_info?: OnnxValueInfo[];
  quantization_annotation?: { tensor_name?: string; quant_parameter_tensor_names?: OnnxStringEntry[] }[];
  metadata_props?: OnnxStringEntry[];
}

export interface OnnxOperatorSet {
  domain?: string;
  version?: Int64;
}

export interface OnnxFunction {
  name?: string;
  input?: string[];
  output?: string[];
  attribute?: string[];
  attribute_proto?: OnnxAttribute[];
  node?: OnnxNode[];
  doc_string?: string;
  opset_import?: OnnxOperatorSet[];
  domain?: string;
  overload?: string;
  value_info?: OnnxValueInfo[];
  metadata_props?: OnnxStringEntry[];
}

export interface OnnxModel {
  ir_version?: Int64;
  opset_import?: OnnxOperatorSet[];
  producer_name?: string;
  producer_version?: string;
  domain?: string;
  model_version?: Int64;
  doc_string?: string;
  graph?: OnnxGraph;
  metadata_props?: OnnxStringEntry[];
  training_info?: { initialization?: OnnxGraph; algorithm?: OnnxGraph; initialization_binding?: OnnxStringEntry[]; update_binding?: OnnxStringEntry[] }[];
  functions?: OnnxFunction[];
}

/**
 * Reads .onnx bytes into plain objects: repeated fields always arrays, unset fields absent, enums as
 * numbers, int64 as decimal strings, bytes as views on `bytes` (copy before aliasing them as wider types).
 * @throws Error when the bytes are not a ModelProto.
 */
export function parseModel(bytes: Uint8Array): OnnxModel {
  return ModelProto.toObject(ModelProto.decode(bytes), { longs: String, enums: Number, arrays: true, defaults: false }) as OnnxModel;
}

/** Writes a model read by `parseModel` (and rewritten) back to .onnx bytes. */
export function serializeModel(model: OnnxModel): Uint8Array {
  const bytes = ModelProto.encode(ModelProto.fromObject(model)).finish();
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
