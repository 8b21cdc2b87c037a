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
export const ATTRIBUTE_TYPE = { FLOAT: 1, INT: 2, STRING: 3, FLOATS: 6, INTS: 7 } as const;

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
