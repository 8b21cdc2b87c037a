/**
 * Builds an ONNX model from code: graph inputs and outputs (with a named dynamic batch dimension),
 * initializers stored as little-endian `raw_data`, and nodes whose output names are generated in order.
 * Everything that reaches the file comes from the caller or a constant (no timestamps, no host names), so
 * the same calls produce the same bytes.
 */
import {
  ATTRIBUTE_TYPE,
  encodeModel,
  ONNX_DATA_TYPE,
  type AttributeMessage,
  type NodeMessage,
  type OnnxDtype,
  type TensorMessage,
  type ValueInfoMessage,
} from './onnx-proto.ts';

/** The IR version and default-domain opset every built model declares. */
export const IR_VERSION = 8;
export const OPSET = 17;
export const PRODUCER_NAME = 'tandem-models';

/** A dimension: a fixed size or the name of a dynamic one (e.g. "batch"). */
export type Dim = number | string;

/** An attribute value with its ONNX type made explicit (1 could be INT or FLOAT). */
export type Attribute =
  | { type: 'int'; value: number }
  | { type: 'float'; value: number }
  | { type: 'ints'; value: readonly number[] }
  | { type: 'floats'; value: readonly number[] }
  | { type: 'string'; value: string };

export const int = (value: number): Attribute => ({ type: 'int', value });
export const float = (value: number): Attribute => ({ type: 'float', value });
export const ints = (value: readonly number[]): Attribute => ({ type: 'ints', value });

type TensorData = Float32Array | Int8Array | Uint8Array | Int32Array | BigInt64Array;

const ELEMENT_BYTES: Record<OnnxDtype, number> = { float32: 4, uint8: 1, int8: 1, int32: 4, int64: 8 };

/**
 * @example
 * const g = new GraphBuilder('tiny');
 * const x = g.input('x', 'float32', ['batch', 4]);
 * const w = g.initializer('w', 'float32', [2, 4], weights);
 * const b = g.initializer('b', 'float32', [2], bias);
 * g.node('Gemm', [x, w, b], { transB: int(1) }, ['logits']);
 * g.output('logits', 'float32', ['batch', 2]);
 * const bytes = g.build({ docString: 'a tiny model' });
 */
export class GraphBuilder {
  private readonly nodes: NodeMessage[] = [];
  private readonly initializers: TensorMessage[] = [];
  private readonly inputs: ValueInfoMessage[] = [];
  private readonly outputs: ValueInfoMessage[] = [];
  private readonly names = new Set<string>();
  private counter = 0;

  constructor(private readonly name: string) {}

  /** Declares a graph input and returns its name. */
  input(name: string, dtype: OnnxDtype, shape: readonly Dim[]): string {
    this.claim(name);
    this.inputs.push(valueInfo(name, dtype, shape));
    return name;
  }

  /** Declares a graph output; `name` must be produced by a node. */
  output(name: string, dtype: OnnxDtype, shape: readonly Dim[]): void {
    if (!this.names.has(name)) throw new Error(`graph output "${name}" is not produced by any node`);
    this.outputs.push(valueInfo(name, dtype, shape));
  }

  /** Adds a constant tensor and returns its name. */
  initializer(name: string, dtype: OnnxDtype, dims: readonly number[], data: TensorData): string {
    const count = dims.reduce((a, b) => a * b, 1);
    if (data.length !== count) throw new Error(`initializer "${name}" has ${data.length} elements, dims [${dims.join(',')}] need ${count}`);
    if (data.BYTES_PER_ELEMENT !== ELEMENT_BYTES[dtype]) throw new Error(`initializer "${name}": data does not hold ${dtype}`);
    this.claim(name);
    this.initializers.push({ name, dims: [...dims], data_type: ONNX_DATA_TYPE[dtype], raw_data: littleEndianBytes(data) });
    return name;
  }

  /**
   * Adds a node. Outputs are named `outputs` when given, else `<op>_<n>` (`count` of them); returns them.
   */
  node(opType: string, inputs: readonly string[], attributes: Record<string, Attribute> = {}, outputs: readonly string[] | number = 1): string[] {
    for (const input of inputs) {
      if (input !== '' && !this.names.has(input)) throw new Error(`${opType} input "${input}" is not defined yet`);
    }
    const index = this.counter++;
    const names =
      typeof outputs === 'number' ? Array.from({ length: outputs }, (_, i) => `${opType.toLowerCase()}_${index}${outputs > 1 ? `_${i}` : ''}`) : [...outputs];
    for (const name of names) this.claim(name);
    this.nodes.push({
      input: [...inputs],
      output: names,
      name: `${opType}_${index}`,
      op_type: opType,
      attribute: Object.entries(attributes).map(([key, value]) => attributeMessage(key, value)),
    });
    return names;
  }

  /** Adds a single-output node and returns its output's name. */
  op(opType: string, inputs: readonly string[], attributes: Record<string, Attribute> = {}, output?: string): string {
    return this.node(opType, inputs, attributes, output === undefined ? 1 : [output])[0]!;
  }

  /** Serialises the model (IR 8, opset 17, producer "tandem-models"). */
  build(options: { docString: string; producerVersion?: string }): Uint8Array {
    if (this.outputs.length === 0) throw new Error('a graph needs at least one output');
    return encodeModel({
      ir_version: IR_VERSION,
      opset_import: [{ domain: '', version: OPSET }],
      producer_name: PRODUCER_NAME,
      producer_version: options.producerVersion ?? '1',
      doc_string: options.docString,
      graph: {
        node: this.nodes,
        name: this.name,
        initializer: this.initializers,
        doc_string: options.docString,
        input: this.inputs,
        output: this.outputs,
      },
    });
  }

  private claim(name: string): void {
    if (this.names.has(name)) throw new Error(`value "${name}" is defined twice`);
    this.names.add(name);
  }
}

function valueInfo(name: string, dtype: OnnxDtype, shape: readonly Dim[]): ValueInfoMessage {
  return {
    name,
    type: {
      tensor_type: {
        elem_type: ONNX_DATA_TYPE[dtype],
        shape: { dim: shape.map((d) => (typeof d === 'number' ? { dim_value: d } : { dim_param: d })) },
      },
    },
  };
}

function attributeMessage(name: string, attribute: Attribute): AttributeMessage {
  switch (attribute.type) {
    case 'int':
      return { name, type: ATTRIBUTE_TYPE.INT, i: attribute.value };
    case 'float':
      return { name, type: ATTRIBUTE_TYPE.FLOAT, f: attribute.value };
    case 'ints':
      return { name, type: ATTRIBUTE_TYPE.INTS, ints: [...attribute.value] };
    case 'floats':
      return { name, type: ATTRIBUTE_TYPE.FLOATS, floats: [...attribute.value] };
    case 'string':
      return { name, type: ATTRIBUTE_TYPE.STRING, s: new TextEncoder().encode(attribute.value) };
  }
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** The elements' bytes in little-endian order: a view on little-endian hosts, a swapped copy otherwise. */
export function littleEndianBytes(data: TensorData): Uint8Array {
  const view = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const width = data.BYTES_PER_ELEMENT;
  if (LITTLE_ENDIAN || width === 1) return view;
  const swapped = new Uint8Array(view.length);
  for (let i = 0; i < view.length; i += width) {
    for (let b = 0; b < width; b++) swapped[i + b] = view[i + width - 1 - b]!;
  }
  return swapped;
}
