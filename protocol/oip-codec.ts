/**
 * The Open Inference Protocol v2 (KServe v2 / Triton REST) inference request and response, encoded and
 * decoded in both forms a body can take:
 *
 * - JSON: the whole body is the JSON object; tensor values sit in each tensor's `data` array.
 *   Content-Type `application/json`.
 * - Binary tensor data extension: the body is the JSON object followed by raw tensor bytes, one block per
 *   tensor whose `parameters.binary_data_size` gives its byte length, in the order those tensors appear.
 *   The HTTP header `Inference-Header-Content-Length` gives the JSON part's length; it is what tells the
 *   two forms apart. Content-Type `application/octet-stream`, as Triton sends; decoding ignores
 *   Content-Type (curl and some clients send none or a wrong one) and goes by the length header alone.
 *   One body may mix the two: some tensors binary, others JSON. The encoder pads the JSON with trailing
 *   spaces to a multiple of 8 bytes, so a decoder can view the first block (and any block after blocks of
 *   whole multiples of its element size) in place instead of copying it.
 *
 * In memory a tensor is `{ name, dtype, dims, data, parameters? }` with ORT dtypes (`tensor.ts`);
 * `binary_data_size` never appears in `parameters`: the codec writes and consumes it. Empty `parameters`
 * objects are left out on both sides. Value rules for JSON are in `oip-tensor-json.ts` (JSON carries no
 * NaN/Infinity and no 64-bit integers beyond 2^53 - 1: such tensors must be sent binary); byte rules for
 * the binary form are in `oip-tensor-binary.ts` (BYTES must be valid UTF-8).
 *
 * Every malformed body is refused with a TandemError: `bad_request` for the envelope (bad JSON, header
 * length, missing or mistyped fields, duplicate names, binary framing), `tensor_invalid` for a tensor's
 * datatype, shape or data, `payload_too_large` past the tensor and element counts of `OipLimits`. Decoding
 * never throws anything else (a bug would surface as `internal`). Body size limits belong to the server,
 * before decoding.
 *
 * Everything a decoder returns is bounded, not only tensors: parameters (free-form JSON the caller
 * chooses) have a maximum nesting depth, entry count and string length, ids and names a maximum length,
 * shapes a maximum rank. Past those a request is malformed (`bad_request`, or `tensor_invalid` for the
 * rank), however small its body: a server hands decoded values on (to logs, to worker threads by
 * structured clone, which recurses and overflows its stack on deep nesting), and must be able to.
 */
import { TandemError } from './errors.ts';
import { DATATYPE_OF_DTYPE, dtypeOfDatatype } from './oip-datatype.ts';
import { binaryByteLength, decodeBinaryTensorData, encodeBinaryTensorData } from './oip-tensor-binary.ts';
import { decodeJsonTensorData, describeJsonValue, encodeJsonTensorData } from './oip-tensor-json.ts';
import { decodeUtf8, encodeText } from './oip-utf8.ts';
import { elementCount, isTensorDtype, tensor, type Tensor, type TensorData, type TensorDtype } from './tensor.ts';

export const INFERENCE_HEADER_CONTENT_LENGTH = 'Inference-Header-Content-Length';
export const OIP_JSON_CONTENT_TYPE = 'application/json';
export const OIP_BINARY_CONTENT_TYPE = 'application/octet-stream';

/** OIP parameters: free-form, though the protocol expects string, number or boolean values. */
export type OipParameters = Record<string, unknown>;

/** A tensor with its OIP name and parameters (never `binary_data_size`; the codec handles that). */
export type NamedInferTensor<D extends TensorDtype = TensorDtype> = Tensor<D> & {
  name: string;
  parameters?: OipParameters;
};

/** An entry of a request's `outputs`: which outputs to return, and how (`binary_data`). */
export interface RequestedOutput {
  name: string;
  parameters?: OipParameters;
}

export interface InferRequest {
  id?: string;
  /** Request parameters, e.g. `binary_data_output: true` (see `requestBinaryOutputs`). */
  parameters?: OipParameters;
  inputs: NamedInferTensor[];
  /** Absent: the server returns every output, as JSON unless `binary_data_output` says otherwise. */
  outputs?: RequestedOutput[];
}

export interface InferResponse {
  modelName: string;
  modelVersion?: string;
  id?: string;
  parameters?: OipParameters;
  outputs: NamedInferTensor[];
}

/**
 * Decoding limits. Past a count of tensors or elements: `payload_too_large`; past a bound on structure
 * (rank, string length, parameters' depth or size): `bad_request` (`tensor_invalid` for the rank).
 */
export interface OipLimits {
  /** Most tensors in `inputs`, `outputs` (and a request's requested `outputs`). Default 1024. */
  maxTensors?: number;
  /** Most elements in any one tensor. Default 2^26 (256 MiB of FP32). */
  maxElements?: number;
  /** Most elements over all tensors of a message. Default: `maxElements`. */
  maxTotalElements?: number;
  /** Most dimensions in a tensor's shape. Default 32 (ONNX Runtime kernels stop well before). */
  maxRank?: number;
  /** Longest `id`, tensor name, parameter name or parameter string value, in UTF-16 code units. Default 1024. */
  maxStringLength?: number;
  /** Deepest nesting in one `parameters` object: 1 is flat (`{"a": 1}`). Default 4. */
  maxParameterDepth?: number;
  /** Most entries (keys and array elements, at every level) in one `parameters` object. Default 64. */
  maxParameterEntries?: number;
}

export const DEFAULT_OIP_LIMITS = {
  maxTensors: 1024,
  maxElements: 2 ** 26,
  maxRank: 32,
  maxStringLength: 1024,
  maxParameterDepth: 4,
  maxParameterEntries: 64,
} as const satisfies OipLimits;

/** Which tensors to send as binary data: all (`true`), none (`false`, the default), or by name. */
export type BinarySelector = boolean | ((name: string) => boolean);

export interface OipEncodeOptions {
  /** Default `false`: everything as JSON. */
  binary?: BinarySelector;
}

export interface EncodedInferBody {
  body: Uint8Array<ArrayBuffer>;
  /** `Content-Type`, plus `Inference-Header-Content-Length` when any tensor is binary. */
  headers: Record<string, string>;
  /** The JSON header's length when any tensor is binary, else null (the body is all JSON). */
  headerLength: number | null;
}

/**
 * Encodes a request for `POST /v2/models/{name}/infer`.
 * @throws TandemError `bad_request` for a malformed request (duplicate names, parameters that are not
 * JSON), `tensor_invalid` for a tensor whose data does not match its dtype and dims, or that JSON cannot
 * carry (NaN, infinities, 64-bit integers beyond 2^53 - 1): send those binary.
 * @example
 * const { body, headers } = encodeInferRequest(
 *   { inputs: [{ name: 'x', dtype: 'float32', dims: [1, 2], data: new Float32Array([1, 2]) }] },
 *   { binary: true },
 * );
 * await fetch(`${origin}/v2/models/iris/infer`, { method: 'POST', body, headers });
 */
export function encodeInferRequest(request: InferRequest, options: OipEncodeOptions = {}): EncodedInferBody {
  return guard(() => encodeRequest(request, options));
}

function encodeRequest(request: InferRequest, options: OipEncodeOptions): EncodedInferBody {
  requireObject(request, 'the request');
  const fields: string[] = [];
  if (request.id !== undefined) fields.push(`"id":${JSON.stringify(requireString(request.id, 'id'))}`);
  const parameters = parametersText(request.parameters, 'request');
  if (parameters !== undefined) fields.push(`"parameters":${parameters}`);
  const encoded = encodeTensors(requireArray(request.inputs, 'inputs'), 'input', options.binary ?? false);
  fields.push(`"inputs":[${encoded.texts.join(',')}]`);
  if (request.outputs !== undefined) {
    const names = new Set<string>();
    const outputs = requireArray(request.outputs, 'outputs').map((output, i) => {
      requireObject(output, `outputs[${i}]`);
      const name = uniqueName(output.name, names, `outputs[${i}]`);
      const params = parametersText(output.parameters, `output ${describeJsonValue(name)}`);
      return `{"name":${JSON.stringify(name)}${params === undefined ? '' : `,"parameters":${params}`}}`;
    });
    fields.push(`"outputs":[${outputs.join(',')}]`);
  }
  return assemble(`{${fields.join(',')}}`, encoded.blocks);
}

/**
 * Encodes a response to an infer request. `binary` picks the outputs sent as binary data; on a server,
 * pass `binaryOutputSelector(request)` to honour what the client asked for.
 * @example
 * const { body, headers } = encodeInferResponse(
 *   { modelName: 'iris', modelVersion: '1.0.0', outputs },
 *   { binary: binaryOutputSelector(request) },
 * );
 */
export function encodeInferResponse(response: InferResponse, options: OipEncodeOptions = {}): EncodedInferBody {
  return guard(() => encodeResponse(response, options));
}

function encodeResponse(response: InferResponse, options: OipEncodeOptions): EncodedInferBody {
  requireObject(response, 'the response');
  const fields = [`"model_name":${JSON.stringify(requireString(response.modelName, 'modelName'))}`];
  if (response.modelVersion !== undefined) {
    fields.push(`"model_version":${JSON.stringify(requireString(response.modelVersion, 'modelVersion'))}`);
  }
  if (response.id !== undefined) fields.push(`"id":${JSON.stringify(requireString(response.id, 'id'))}`);
  const parameters = parametersText(response.parameters, 'response');
  if (parameters !== undefined) fields.push(`"parameters":${parameters}`);
  const encoded = encodeTensors(requireArray(response.outputs, 'outputs'), 'output', options.binary ?? false);
  fields.push(`"outputs":[${encoded.texts.join(',')}]`);
  return assemble(`{${fields.join(',')}}`, encoded.blocks);
}

function encodeTensors(tensors: readonly NamedInferTensor[], kind: 'input' | 'output', binary: BinarySelector): { texts: string[]; blocks: Uint8Array[] } {
  const names = new Set<string>();
  const blocks: Uint8Array[] = [];
  const texts = tensors.map((t, i) => {
    requireObject(t, `${kind}s[${i}]`);
    const name = uniqueName(t.name, names, `${kind}s[${i}]`);
    const label = `${kind} ${describeJsonValue(name)}`;
    return withLabel(label, () => {
      if (!isTensorDtype(t.dtype)) throw new TandemError('tensor_invalid', `unknown dtype ${describeJsonValue(t.dtype)}`);
      checkedShape(t.dims, 'dims');
      const { dtype, dims } = tensor(t.dtype, t.dims, t.data);
      let text = `{"name":${JSON.stringify(name)},"shape":[${dims.join(',')}],"datatype":"${DATATYPE_OF_DTYPE[dtype]}"`;
      const asBinary = typeof binary === 'function' ? binary(name) : binary;
      const block = asBinary ? encodeBinaryTensorData(t) : undefined;
      const params = parametersText(t.parameters, label, block?.length ?? null);
      if (params !== undefined) text += `,"parameters":${params}`;
      if (block === undefined) text += `,"data":${kind === 'output' ? outputJson(t) : encodeJsonTensorData(t)}`;
      else blocks.push(block);
      return `${text}}`;
    });
  });
  return { texts, blocks };
}

/**
 * Parameters as JSON text, or undefined when there are none. For a tensor (`binaryDataSize` given, null
 * when it goes as JSON) the codec owns `binary_data_size`: a caller's value is dropped and the real one
 * written. Request- and response-level parameters and requested outputs' go out as they are.
 */
function parametersText(parameters: unknown, owner: string, binaryDataSize?: number | null): string | undefined {
  if (parameters !== undefined) requireObject(parameters, `${owner} parameters`);
  let wire = (parameters ?? {}) as OipParameters;
  if (binaryDataSize !== undefined) {
    // Spread and rest copy own properties as data properties, so a "__proto__" key stays a plain key.
    const { binary_data_size: _ignored, ...rest } = wire;
    wire = binaryDataSize === null ? rest : { ...rest, binary_data_size: binaryDataSize };
  }
  if (Object.keys(wire).length === 0) return undefined;
  let text: string | undefined;
  try {
    text = JSON.stringify(wire, (_key, value: unknown) => {
      if (typeof value === 'number' && !Number.isFinite(value)) {
        throw new TandemError('bad_request', `${owner} parameters hold ${value}, which JSON cannot carry`);
      }
      return value;
    });
  } catch (err) {
    if (err instanceof TandemError) throw err;
    throw new TandemError('bad_request', `${owner} parameters are not JSON-serializable`, { cause: err });
  }
  if (typeof text !== 'string') throw new TandemError('bad_request', `${owner} parameters are not JSON-serializable`);
  return text;
}

/** Binary data starts at a multiple of this (the largest element size), so decoders can view it in place. */
const BINARY_ALIGNMENT = 8;

function assemble(header: string, blocks: readonly Uint8Array[]): EncodedInferBody {
  if (blocks.length === 0) {
    return { body: encodeText(header), headers: { 'Content-Type': OIP_JSON_CONTENT_TYPE }, headerLength: null };
  }
  // Trailing spaces are JSON whitespace: every decoder skips them, and the blocks after them start aligned.
  const unpadded = encodeText(header).length;
  const headerBytes = encodeText(header.padEnd(header.length + ((BINARY_ALIGNMENT - (unpadded % BINARY_ALIGNMENT)) % BINARY_ALIGNMENT)));
  const body = new Uint8Array(blocks.reduce((sum, b) => sum + b.length, headerBytes.length));
  body.set(headerBytes);
  let position = headerBytes.length;
  for (const block of blocks) {
    body.set(block, position);
    position += block.length;
  }
  return {
    body,
    headers: { 'Content-Type': OIP_BINARY_CONTENT_TYPE, [INFERENCE_HEADER_CONTENT_LENGTH]: String(headerBytes.length) },
    headerLength: headerBytes.length,
  };
}

/**
 * Reads the `Inference-Header-Content-Length` header: null when absent (the body is all JSON).
 * @throws TandemError `bad_request` unless the value is a non-negative decimal integer.
 * @example
 * parseInferenceHeaderLength(request.headers.get('inference-header-content-length'));
 */
export function parseInferenceHeaderLength(value: string | null | undefined): number | null {
  if (value === null || value === undefined) return null;
  const match = typeof value === 'string' ? /^[ \t]*(\d{1,15})[ \t]*$/.exec(value) : null;
  if (!match) {
    throw new TandemError('bad_request', `${INFERENCE_HEADER_CONTENT_LENGTH} must be a non-negative integer, got ${describeJsonValue(value)}`);
  }
  return Number(match[1]);
}

/**
 * Decodes an infer request body. `headerLength` is the `Inference-Header-Content-Length` value, as a
 * number or as the raw header string; absent means the whole body is JSON. Binary numeric tensors are
 * views into `body` where alignment allows: they share its memory.
 * @throws TandemError `bad_request`, `tensor_invalid` or `payload_too_large` (see the module comment).
 * @example
 * const request = decodeInferRequest(new Uint8Array(await c.req.arrayBuffer()), c.req.header(INFERENCE_HEADER_CONTENT_LENGTH));
 */
export function decodeInferRequest(body: Uint8Array, headerLength?: number | string | null, limits: OipLimits = {}): InferRequest {
  const resolved = resolveLimits(limits);
  return guard(() => {
    const { header, reader } = splitBody(body, headerLength);
    const request: InferRequest = { inputs: [] };
    const id = boundedString(optionalString(header, 'id'), '"id"', resolved);
    if (id !== undefined) request.id = id;
    const parameters = optionalParameters(header, 'parameters', 'request parameters', resolved);
    if (parameters !== undefined) {
      const flag = parameters.binary_data_output;
      if (Object.hasOwn(parameters, 'binary_data_output') && typeof flag !== 'boolean') {
        throw new TandemError('bad_request', `parameters.binary_data_output must be a boolean, got ${describeJsonValue(flag)}`);
      }
      if (Object.keys(parameters).length > 0) request.parameters = parameters;
    }
    request.inputs = decodeTensors(requiredArray(header, 'inputs'), 'input', reader, resolved);
    if (Object.hasOwn(header, 'outputs')) request.outputs = decodeRequestedOutputs(requiredArray(header, 'outputs'), resolved);
    reader.finish();
    return request;
  });
}

/**
 * Decodes an infer response body; see `decodeInferRequest`.
 * @example
 * const res = await fetch(url, { method: 'POST', body, headers });
 * const response = decodeInferResponse(new Uint8Array(await res.arrayBuffer()), res.headers.get(INFERENCE_HEADER_CONTENT_LENGTH));
 */
export function decodeInferResponse(body: Uint8Array, headerLength?: number | string | null, limits: OipLimits = {}): InferResponse {
  const resolved = resolveLimits(limits);
  return guard(() => {
    const { header, reader } = splitBody(body, headerLength);
    const modelName = boundedString(optionalString(header, 'model_name'), '"model_name"', resolved);
    if (modelName === undefined) throw new TandemError('bad_request', 'the response has no "model_name"');
    const response: InferResponse = { modelName, outputs: [] };
    const modelVersion = boundedString(optionalString(header, 'model_version'), '"model_version"', resolved);
    if (modelVersion !== undefined) response.modelVersion = modelVersion;
    const id = boundedString(optionalString(header, 'id'), '"id"', resolved);
    if (id !== undefined) response.id = id;
    const parameters = optionalParameters(header, 'parameters', 'response parameters', resolved);
    if (parameters !== undefined && Object.keys(parameters).length > 0) response.parameters = parameters;
    response.outputs = decodeTensors(requiredArray(header, 'outputs'), 'output', reader, resolved);
    reader.finish();
    return response;
  });
}

type JsonObject = Record<string, unknown>;
type ResolvedLimits = Required<OipLimits>;

/** Hands out the binary section block by block, in order, and checks nothing is left over. */
interface BinaryReader {
  take(size: number, label: string): Uint8Array;
  finish(): void;
}

function splitBody(body: Uint8Array, headerLength: number | string | null | undefined): { header: JsonObject; reader: BinaryReader } {
  if (!ArrayBuffer.isView(body)) throw new TandemError('bad_request', 'the body must be bytes');
  const bytes = new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
  if (headerLength !== null && headerLength !== undefined && typeof headerLength !== 'number' && typeof headerLength !== 'string') {
    throw new TandemError('bad_request', `the header length must be a number or a string, got ${describeJsonValue(headerLength)}`);
  }
  const length = typeof headerLength === 'string' ? parseInferenceHeaderLength(headerLength) : (headerLength ?? null);
  if (length !== null && (!Number.isSafeInteger(length) || length < 0 || length > bytes.length)) {
    throw new TandemError('bad_request', `${INFERENCE_HEADER_CONTENT_LENGTH} is ${String(length)}, but the body is ${bytes.length} bytes`);
  }
  const text = decodeUtf8(length === null ? bytes : bytes.subarray(0, length), 'bad_request', 'the JSON header');
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (err) {
    const hint = length === null ? ' (a binary body needs the Inference-Header-Content-Length header)' : '';
    throw new TandemError('bad_request', `the JSON header is not valid JSON${hint}`, { cause: err });
  }
  if (!isObject(header)) throw new TandemError('bad_request', `the JSON header must be an object, got ${describeJsonValue(header)}`);
  const binary = length === null ? null : bytes.subarray(length);
  let position = 0;
  return {
    header,
    reader: {
      take(size, label) {
        if (binary === null) {
          throw new TandemError('bad_request', `${label} has parameters.binary_data_size, but there is no ${INFERENCE_HEADER_CONTENT_LENGTH} header`);
        }
        if (size > binary.length - position) {
          throw new TandemError('bad_request', `${label} has binary_data_size ${size}, but only ${binary.length - position} bytes of binary data remain`);
        }
        const block = binary.subarray(position, position + size);
        position += size;
        return block;
      },
      finish() {
        if (binary !== null && position !== binary.length) {
          throw new TandemError('bad_request', `${binary.length - position} bytes follow the last binary tensor (binary_data_size values do not add up)`);
        }
      },
    },
  };
}

function decodeTensors(raw: unknown[], kind: 'input' | 'output', reader: BinaryReader, limits: ResolvedLimits): NamedInferTensor[] {
  if (raw.length > limits.maxTensors) {
    throw new TandemError('payload_too_large', `${raw.length} ${kind}s exceed the limit of ${limits.maxTensors}`);
  }
  const names = new Set<string>();
  let total = 0;
  return raw.map((entry, i) => {
    if (!isObject(entry)) throw new TandemError('bad_request', `${kind}s[${i}] must be an object, got ${describeJsonValue(entry)}`);
    const name = boundedString(uniqueName(entry.name, names, `${kind}s[${i}]`), `${kind}s[${i}] name`, limits);
    const label = `${kind} ${describeJsonValue(name)}`;
    const parameters = optionalParameters(entry, 'parameters', `${label} parameters`, limits);
    const { dtype, shape, count } = withLabel(label, () => {
      if (Array.isArray(entry.shape) && entry.shape.length > limits.maxRank) {
        throw new TandemError('tensor_invalid', `shape has ${entry.shape.length} dimensions, over the limit of ${limits.maxRank}`);
      }
      return { dtype: dtypeOfDatatype(entry.datatype), ...checkedShape(entry.shape, 'shape') };
    });
    if (count > limits.maxElements) {
      throw new TandemError('payload_too_large', `${label} has ${count} elements, over the limit of ${limits.maxElements}`);
    }
    total += count;
    if (total > limits.maxTotalElements) {
      throw new TandemError('payload_too_large', `the ${kind}s have over ${limits.maxTotalElements} elements in all`);
    }
    let data: TensorData;
    if (parameters !== undefined && Object.hasOwn(parameters, 'binary_data_size')) {
      const size = parameters.binary_data_size;
      if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
        throw new TandemError('bad_request', `${label} binary_data_size must be a non-negative integer, got ${describeJsonValue(size)}`);
      }
      if (Object.hasOwn(entry, 'data')) throw new TandemError('bad_request', `${label} has both data and binary_data_size`);
      const expected = binaryByteLength(dtype, count);
      if (expected !== undefined && size !== expected) {
        throw new TandemError(
          'tensor_invalid',
          `${label} has binary_data_size ${size}, but shape [${shape.join(',')}] of ${DATATYPE_OF_DTYPE[dtype]} takes ${expected} bytes`,
        );
      }
      const block = reader.take(size, label);
      data = withLabel(label, () => decodeBinaryTensorData(dtype, count, block));
    } else {
      if (!Object.hasOwn(entry, 'data')) {
        throw new TandemError('bad_request', `${label} has neither data nor parameters.binary_data_size`);
      }
      data = withLabel(label, () => decodeJsonTensorData(dtype, shape, count, entry.data));
    }
    const decoded = { name, dtype, dims: [...shape], data } as NamedInferTensor;
    if (parameters !== undefined) {
      const { binary_data_size: _consumed, ...rest } = parameters;
      if (Object.keys(rest).length > 0) decoded.parameters = rest;
    }
    return decoded;
  });
}

function decodeRequestedOutputs(raw: unknown[], limits: ResolvedLimits): RequestedOutput[] {
  if (raw.length > limits.maxTensors) {
    throw new TandemError('payload_too_large', `${raw.length} requested outputs exceed the limit of ${limits.maxTensors}`);
  }
  const names = new Set<string>();
  return raw.map((entry, i) => {
    if (!isObject(entry)) throw new TandemError('bad_request', `outputs[${i}] must be an object, got ${describeJsonValue(entry)}`);
    const name = boundedString(uniqueName(entry.name, names, `outputs[${i}]`), `outputs[${i}] name`, limits);
    const output: RequestedOutput = { name };
    const parameters = optionalParameters(entry, 'parameters', `output ${describeJsonValue(name)} parameters`, limits);
    if (parameters !== undefined) {
      if (Object.hasOwn(parameters, 'binary_data') && typeof parameters.binary_data !== 'boolean') {
        throw new TandemError(
          'bad_request',
          `output ${describeJsonValue(name)} binary_data must be a boolean, got ${describeJsonValue(parameters.binary_data)}`,
        );
      }
      if (Object.keys(parameters).length > 0) output.parameters = parameters;
    }
    return output;
  });
}

/**
 * Asks for outputs as binary data: every output (`true`, the request-level `binary_data_output`), or the
 * named ones (per-output `binary_data`). Naming outputs adds them to `outputs` if missing, and a request
 * that lists `outputs` gets only those back: list every output you want. Returns a new request.
 * @example
 * encodeInferRequest(requestBinaryOutputs(request), { binary: true });
 */
export function requestBinaryOutputs(request: InferRequest, outputs: true | readonly string[] = true): InferRequest {
  if (outputs === true) return { ...request, parameters: { ...request.parameters, binary_data_output: true } };
  const requested = (request.outputs ?? []).map((o) => (outputs.includes(o.name) ? { ...o, parameters: { ...o.parameters, binary_data: true } } : o));
  for (const name of outputs) {
    if (!requested.some((o) => o.name === name)) requested.push({ name, parameters: { binary_data: true } });
  }
  return { ...request, outputs: requested };
}

/** An output's JSON data; a value JSON cannot carry names the request parameter that gets it as binary. */
function outputJson(t: Tensor): string {
  try {
    return encodeJsonTensorData(t);
  } catch (err) {
    if (err instanceof TandemError && err.code === 'tensor_invalid' && jsonCannotCarry(t)) {
      throw new TandemError('tensor_invalid', `${err.message} (ask for it with the output parameter binary_data: true, or binary_data_output: true)`);
    }
    throw err;
  }
}

/**
 * Whether a tensor holds values the JSON form cannot carry: NaN or ±Infinity in a float tensor, or a 64-bit
 * integer beyond ±(2^53 - 1). A server sends such an output as binary data even when asked for JSON:
 * the alternative is failing a request whose inference succeeded.
 * @example
 * const asked = binaryOutputSelector(request);
 * encodeInferResponse(response, { binary: (name) => asked(name) || jsonCannotCarry(outputs[name]) });
 */
export function jsonCannotCarry(t: Tensor): boolean {
  switch (t.dtype) {
    case 'float32':
    case 'float64': {
      const data = t.data as Float32Array | Float64Array;
      for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i]!)) return true;
      return false;
    }
    case 'float16': {
      const bits = t.data as Uint16Array; // An all-ones exponent is Infinity or NaN.
      for (let i = 0; i < bits.length; i++) if ((bits[i]! & 0x7c00) === 0x7c00) return true;
      return false;
    }
    case 'int64':
    case 'uint64': {
      const data = t.data as BigInt64Array | BigUint64Array;
      const limit = BigInt(Number.MAX_SAFE_INTEGER);
      for (let i = 0; i < data.length; i++) if (data[i]! > limit || data[i]! < -limit) return true;
      return false;
    }
    default:
      return false;
  }
}

/**
 * On a server: whether the client asked for output `name` as binary data. A per-output `binary_data`
 * overrides the request-level `binary_data_output`, as the extension specifies.
 * @example
 * encodeInferResponse(response, { binary: binaryOutputSelector(request) });
 */
export function binaryOutputSelector(request: InferRequest): (name: string) => boolean {
  const fallback = request.parameters?.binary_data_output === true;
  const perOutput = new Map<string, boolean>();
  for (const output of request.outputs ?? []) {
    const flag = output.parameters?.binary_data;
    if (typeof flag === 'boolean') perOutput.set(output.name, flag);
  }
  return (name) => perOutput.get(name) ?? fallback;
}

function resolveLimits(limits: OipLimits): ResolvedLimits {
  const maxElements = limits.maxElements ?? DEFAULT_OIP_LIMITS.maxElements;
  const resolved = {
    maxTensors: limits.maxTensors ?? DEFAULT_OIP_LIMITS.maxTensors,
    maxElements,
    maxTotalElements: limits.maxTotalElements ?? maxElements,
    maxRank: limits.maxRank ?? DEFAULT_OIP_LIMITS.maxRank,
    maxStringLength: limits.maxStringLength ?? DEFAULT_OIP_LIMITS.maxStringLength,
    maxParameterDepth: limits.maxParameterDepth ?? DEFAULT_OIP_LIMITS.maxParameterDepth,
    maxParameterEntries: limits.maxParameterEntries ?? DEFAULT_OIP_LIMITS.maxParameterEntries,
  };
  for (const [key, value] of Object.entries(resolved)) {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new TandemError('internal', `OIP limit ${key} must be a non-negative integer, got ${String(value)}`);
    }
  }
  return resolved;
}

/**
 * Runs an encoder or decoder; anything but a TandemError escaping it (a bug here, or an exception thrown by
 * a caller's `binary` callback) is reported as `internal`, with the original as `cause`.
 */
function guard<T>(run: () => T): T {
  try {
    return run();
  } catch (err) {
    if (err instanceof TandemError) throw err;
    throw new TandemError('internal', `OIP codec failed unexpectedly: ${err instanceof Error ? err.message : String(err)}`, {
      cause: err,
    });
  }
}

/** Prefixes a TandemError's message with the tensor it is about, keeping its code. */
function withLabel<T>(label: string, run: () => T): T {
  try {
    return run();
  } catch (err) {
    if (err instanceof TandemError) throw new TandemError(err.code, `${label}: ${err.message}`, { cause: err.cause });
    throw err;
  }
}

/**
 * Checks a shape and counts its elements. Dims are checked to be numbers first, because `elementCount`
 * formats a rejected dim with String(), which throws for an object such as `{"toString": null}`.
 */
function checkedShape(shape: unknown, what: string): { shape: number[]; count: number } {
  if (!Array.isArray(shape)) throw new TandemError('tensor_invalid', `${what} must be an array, got ${describeJsonValue(shape)}`);
  const at = shape.findIndex((dim) => typeof dim !== 'number');
  if (at >= 0) {
    throw new TandemError('tensor_invalid', `${what}[${at}] is ${describeJsonValue(shape[at])}, expected a non-negative integer`);
  }
  return { shape, count: elementCount(shape) };
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function requireObject(value: unknown, what: string): asserts value is JsonObject {
  if (!isObject(value)) throw new TandemError('bad_request', `${what} must be an object, got ${describeJsonValue(value)}`);
}

function requireArray<T>(value: readonly T[] | undefined, what: string): readonly T[] {
  if (!Array.isArray(value)) throw new TandemError('bad_request', `${what} must be an array, got ${describeJsonValue(value)}`);
  return value;
}

function requireString(value: unknown, what: string): string {
  if (typeof value !== 'string') throw new TandemError('bad_request', `${what} must be a string, got ${describeJsonValue(value)}`);
  return value;
}

function uniqueName(value: unknown, seen: Set<string>, what: string): string {
  if (typeof value !== 'string' || value === '') {
    throw new TandemError('bad_request', `${what} needs a non-empty string "name", got ${describeJsonValue(value)}`);
  }
  if (seen.has(value)) throw new TandemError('bad_request', `${what}: duplicate tensor name ${describeJsonValue(value)}`);
  seen.add(value);
  return value;
}

function optionalString(object: JsonObject, key: string): string | undefined {
  if (!Object.hasOwn(object, key)) return undefined;
  return requireString(object[key], `"${key}"`);
}

/**
 * Parameters as decoded, within the limits on depth, entries and string length. Their numbers must be
 * finite: JSON.parse reads a literal such as 1e999 as Infinity, which no encoder could send back
 * (JSON.stringify would write null).
 */
function optionalParameters(object: JsonObject, key: string, what: string, limits: ResolvedLimits): JsonObject | undefined {
  if (!Object.hasOwn(object, key)) return undefined;
  const value = object[key];
  requireObject(value, what);
  // An explicit stack, not recursion: nesting depth is the sender's choice (JSON.parse itself does not
  // recurse), and walking stops at the first bound passed, so a hostile object costs little to refuse.
  const pending: [unknown, number][] = [[value, 1]];
  let entries = 0;
  while (pending.length > 0) {
    const [next, depth] = pending.pop()!;
    if (typeof next === 'number' && !Number.isFinite(next)) {
      throw new TandemError('bad_request', `${what} hold a number too large for a double`);
    }
    if (typeof next === 'string' && next.length > limits.maxStringLength) {
      throw new TandemError('bad_request', `${what} hold a string of ${next.length} characters, over the limit of ${limits.maxStringLength}`);
    }
    if (typeof next !== 'object' || next === null) continue;
    if (depth > limits.maxParameterDepth) {
      throw new TandemError('bad_request', `${what} are nested deeper than ${limits.maxParameterDepth} levels`);
    }
    // Counted before walking, so a million-element array is refused without visiting it.
    const names = Array.isArray(next) ? undefined : Object.keys(next);
    entries += names ? names.length : (next as unknown[]).length;
    if (entries > limits.maxParameterEntries) {
      throw new TandemError('bad_request', `${what} hold over ${limits.maxParameterEntries} entries`);
    }
    if (names === undefined) {
      for (const child of next as unknown[]) pending.push([child, depth + 1]);
      continue;
    }
    for (const name of names) {
      if (name.length > limits.maxStringLength) {
        throw new TandemError('bad_request', `${what} hold a name of ${name.length} characters, over the limit of ${limits.maxStringLength}`);
      }
      pending.push([(next as JsonObject)[name], depth + 1]);
    }
  }
  return value;
}

/** A decoded id or name, refused past `maxStringLength`. */
function boundedString<T extends string | undefined>(value: T, what: string, limits: ResolvedLimits): T {
  if (value !== undefined && value.length > limits.maxStringLength) {
    throw new TandemError('bad_request', `${what} has ${value.length} characters, over the limit of ${limits.maxStringLength}`);
  }
  return value;
}

function requiredArray(object: JsonObject, key: string): unknown[] {
  const value = Object.hasOwn(object, key) ? object[key] : undefined;
  if (!Array.isArray(value)) throw new TandemError('bad_request', `"${key}" must be an array, got ${describeJsonValue(value)}`);
  return value;
}
