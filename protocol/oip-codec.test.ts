import fc from 'fast-check';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { codeOf } from './test-support/error-code.ts';
import { TandemError, type ErrorCode } from './errors.ts';
import {
  INFERENCE_HEADER_CONTENT_LENGTH,
  OIP_BINARY_CONTENT_TYPE,
  OIP_JSON_CONTENT_TYPE,
  binaryOutputSelector,
  decodeInferRequest,
  decodeInferResponse,
  encodeInferRequest,
  encodeInferResponse,
  parseInferenceHeaderLength,
  requestBinaryOutputs,
  type EncodedInferBody,
  type InferRequest,
  type InferResponse,
  type NamedInferTensor,
  type OipEncodeOptions,
  type OipLimits,
  type OipParameters,
  type RequestedOutput,
} from './oip-codec.ts';
import { TENSOR_DTYPES, type Tensor, type TensorData, type TensorDtype } from './tensor.ts';

// ---------------------------------------------------------------------------------------------------------
// Arbitraries

type Form = 'json' | 'binary';
const SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** Data any tensor of `dtype` may hold in `form`: JSON excludes what JSON cannot carry (NaN, infinities, 64-bit beyond 2^53). */
function dataArbitrary(dtype: TensorDtype, count: number, form: Form): fc.Arbitrary<TensorData> {
  const n = { minLength: count, maxLength: count };
  const json = form === 'json';
  switch (dtype) {
    case 'bool':
      return fc.uint8Array({ ...n, min: 0, max: 1 });
    case 'uint8':
      return fc.uint8Array(n);
    case 'int8':
      return fc.int8Array(n);
    case 'uint16':
      return fc.uint16Array(n);
    case 'int16':
      return fc.int16Array(n);
    case 'uint32':
      return fc.uint32Array(n);
    case 'int32':
      return fc.int32Array(n);
    case 'int64':
      return fc.bigInt64Array(json ? { ...n, min: -SAFE, max: SAFE } : n);
    case 'uint64':
      return fc.bigUint64Array(json ? { ...n, max: SAFE } : n);
    case 'float16': {
      // Raw bits: every value is an exact half. JSON leaves out exponent 31 (infinities and NaNs).
      const bits = fc.integer({ min: 0, max: 0xffff });
      return fc.array(json ? bits.filter((b) => (b & 0x7c00) !== 0x7c00) : bits, n).map((a) => Uint16Array.from(a));
    }
    case 'float32':
      return fc.float32Array({ ...n, noNaN: json, noDefaultInfinity: json });
    case 'float64':
      return fc.float64Array({ ...n, noNaN: json, noDefaultInfinity: json });
    case 'string':
      return fc.array(fc.string({ unit: 'binary', maxLength: 6 }), n);
  }
}

const nameArbitrary = fc.oneof(
  fc.string({ minLength: 1, maxLength: 8 }),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 4 }),
  fc.constantFrom('__proto__', 'constructor', 'binary_data_size', 'x"y\\z'),
);
const parametersArbitrary: fc.Arbitrary<OipParameters | undefined> = fc.option(
  fc.dictionary(
    fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom('__proto__', 'binary_data', 'content_type')).filter((k) => k !== 'binary_data_size'),
    fc.oneof(fc.string(), fc.integer(), fc.boolean()),
    { minKeys: 1, maxKeys: 3, noNullPrototype: true },
  ),
  { nil: undefined },
);

interface Generated {
  tensors: NamedInferTensor[];
  binaryNames: Set<string>;
}

function tensorsArbitrary(dtypes: readonly TensorDtype[], forms: readonly Form[], maxLength = 4): fc.Arbitrary<Generated> {
  const one = fc
    .record({
      name: nameArbitrary,
      dtype: fc.constantFrom(...dtypes),
      dims: fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 4 }),
      form: fc.constantFrom(...forms),
      parameters: parametersArbitrary,
    })
    .chain(({ name, dtype, dims, form, parameters }) =>
      dataArbitrary(
        dtype,
        dims.reduce((a, b) => a * b, 1),
        form,
      ).map((data) => {
        const tensor = { name, dtype, dims, data } as NamedInferTensor;
        if (parameters !== undefined) tensor.parameters = parameters;
        return { tensor, form };
      }),
    );
  return fc.uniqueArray(one, { selector: (g) => g.tensor.name, maxLength }).map((list) => ({
    tensors: list.map((g) => g.tensor),
    binaryNames: new Set(list.filter((g) => g.form === 'binary').map((g) => g.tensor.name)),
  }));
}

const requestedOutputsArbitrary: fc.Arbitrary<RequestedOutput[]> = fc.uniqueArray(
  fc.record({ name: nameArbitrary, parameters: fc.option(fc.record({ binary_data: fc.boolean() }), { nil: undefined }) }).map((o) => {
    const output: RequestedOutput = { name: o.name };
    if (o.parameters) output.parameters = o.parameters;
    return output;
  }),
  { selector: (o) => o.name, maxLength: 3 },
);

function requestArbitrary(dtypes: readonly TensorDtype[], forms: readonly Form[]): fc.Arbitrary<{ request: InferRequest; binaryNames: Set<string> }> {
  return fc
    .record({
      generated: tensorsArbitrary(dtypes, forms),
      id: fc.option(fc.string(), { nil: undefined }),
      parameters: parametersArbitrary,
      outputs: fc.option(requestedOutputsArbitrary, { nil: undefined }),
    })
    .map(({ generated, id, parameters, outputs }) => {
      const request: InferRequest = { inputs: generated.tensors };
      if (id !== undefined) request.id = id;
      if (parameters !== undefined) request.parameters = parameters;
      if (outputs !== undefined) request.outputs = outputs;
      return { request, binaryNames: generated.binaryNames };
    });
}

function responseArbitrary(dtypes: readonly TensorDtype[], forms: readonly Form[]): fc.Arbitrary<{ response: InferResponse; binaryNames: Set<string> }> {
  return fc
    .record({
      generated: tensorsArbitrary(dtypes, forms),
      modelName: fc.string(),
      modelVersion: fc.option(fc.string(), { nil: undefined }),
      id: fc.option(fc.string(), { nil: undefined }),
      parameters: parametersArbitrary,
    })
    .map(({ generated, modelName, modelVersion, id, parameters }) => {
      const response: InferResponse = { modelName, outputs: generated.tensors };
      if (modelVersion !== undefined) response.modelVersion = modelVersion;
      if (id !== undefined) response.id = id;
      if (parameters !== undefined) response.parameters = parameters;
      return { response, binaryNames: generated.binaryNames };
    });
}

// ---------------------------------------------------------------------------------------------------------
// Helpers

const utf8 = new TextEncoder();

/** Decodes (the header length taken from the encoder's own HTTP headers, as a server would). */
function roundTripRequest(request: InferRequest, options?: OipEncodeOptions): InferRequest {
  const { body, headers } = encodeInferRequest(request, options);
  return decodeInferRequest(body, headers[INFERENCE_HEADER_CONTENT_LENGTH] ?? null);
}

function roundTripResponse(response: InferResponse, options?: OipEncodeOptions): InferResponse {
  const { body, headers } = encodeInferResponse(response, options);
  return decodeInferResponse(body, headers[INFERENCE_HEADER_CONTENT_LENGTH] ?? null);
}

/** JSON text of objects nested `depth` deep: {"a":{"a":...1...}}. */
function nested(depth: number): string {
  return `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
}

function jsonBody(value: unknown): Uint8Array {
  return utf8.encode(typeof value === 'string' ? value : JSON.stringify(value));
}

/** A binary-extension body: the JSON header, then the blocks. Returns the body and the header length. */
function binaryBody(header: unknown, ...blocks: ArrayLike<number>[]): [Uint8Array, number] {
  const head = jsonBody(header);
  const body = new Uint8Array(head.length + blocks.reduce((s, b) => s + b.length, 0));
  body.set(head);
  let at = head.length;
  for (const block of blocks) {
    body.set(Array.from(block), at);
    at += block.length;
  }
  return [body, head.length];
}

const le32 = (n: number) => [n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, (n >>> 24) & 0xff];
const f32 = (...values: number[]) => [...new Uint8Array(Float32Array.from(values).buffer)];
/** An object that String() and template literals cannot print: a decoder must never try. */
const HOSTILE = { toString: null, valueOf: null };
const input = (over: object = {}) => ({ name: 'x', shape: [2], datatype: 'FP32', data: [1, 2], ...over });
const binaryInput = (over: object = {}) => ({ name: 'x', shape: [2], datatype: 'FP32', parameters: { binary_data_size: 8 }, ...over });

// ---------------------------------------------------------------------------------------------------------
// Round trips

describe.each(TENSOR_DTYPES)('round trip of %s tensors', (dtype) => {
  it.each<Form>(['json', 'binary'])('as %s, in requests', (form) => {
    fc.assert(
      fc.property(requestArbitrary([dtype], [form]), ({ request, binaryNames }) => {
        expect(roundTripRequest(request, { binary: (name) => binaryNames.has(name) })).toEqual(request);
      }),
      { numRuns: 60 },
    );
  });

  it.each<Form>(['json', 'binary'])('as %s, in responses', (form) => {
    fc.assert(
      fc.property(responseArbitrary([dtype], [form]), ({ response }) => {
        expect(roundTripResponse(response, { binary: form === 'binary' })).toEqual(response);
      }),
      { numRuns: 60 },
    );
  });
});

describe('round trips of mixed messages', () => {
  it('mixes binary and JSON tensors of every dtype in one request', () => {
    fc.assert(
      fc.property(requestArbitrary(TENSOR_DTYPES, ['json', 'binary']), ({ request, binaryNames }) => {
        const encoded = encodeInferRequest(request, { binary: (name) => binaryNames.has(name) });
        expect(encoded.headerLength === null).toBe(binaryNames.size === 0);
        expect(encoded.headers['Content-Type']).toBe(binaryNames.size === 0 ? OIP_JSON_CONTENT_TYPE : OIP_BINARY_CONTENT_TYPE);
        expect(decodeInferRequest(encoded.body, encoded.headerLength)).toEqual(request);
      }),
      { numRuns: 300 },
    );
  });

  it('mixes binary and JSON tensors of every dtype in one response', () => {
    fc.assert(
      fc.property(responseArbitrary(TENSOR_DTYPES, ['json', 'binary']), ({ response, binaryNames }) => {
        const encoded = encodeInferResponse(response, { binary: (name) => binaryNames.has(name) });
        expect(decodeInferResponse(encoded.body, encoded.headerLength)).toEqual(response);
      }),
      { numRuns: 300 },
    );
  });

  it('writes binary blocks in tensor order with per-tensor binary_data_size', () => {
    const request: InferRequest = {
      inputs: [
        { name: 'a', dtype: 'uint8', dims: [3], data: Uint8Array.from([1, 2, 3]) },
        { name: 'b', dtype: 'int32', dims: [1], data: Int32Array.from([7]) },
        { name: 'c', dtype: 'string', dims: [1], data: ['hi'] },
      ],
    };
    const { body, headerLength } = encodeInferRequest(request, { binary: (name) => name !== 'b' });
    const header = JSON.parse(new TextDecoder().decode(body.subarray(0, headerLength!)));
    expect(header.inputs.map((i: { parameters?: object; data?: unknown }) => [i.parameters, i.data])).toEqual([
      [{ binary_data_size: 3 }, undefined],
      [undefined, [7]],
      [{ binary_data_size: 6 }, undefined],
    ]);
    expect([...body.subarray(headerLength!)]).toEqual([1, 2, 3, ...le32(2), 0x68, 0x69]);
  });

  it('round-trips NaN, infinities and 64-bit extremes in binary and refuses them in JSON', () => {
    const inputs: NamedInferTensor[] = [
      { name: 'f32', dtype: 'float32', dims: [3], data: Float32Array.from([NaN, Infinity, -Infinity]) },
      { name: 'f64', dtype: 'float64', dims: [2], data: Float64Array.from([NaN, -Infinity]) },
      { name: 'f16', dtype: 'float16', dims: [3], data: Uint16Array.from([0x7e00, 0x7c00, 0xfc00]) },
      { name: 'i64', dtype: 'int64', dims: [2], data: BigInt64Array.from([-(2n ** 63n), 2n ** 63n - 1n]) },
      { name: 'u64', dtype: 'uint64', dims: [1], data: BigUint64Array.from([2n ** 64n - 1n]) },
    ];
    expect(roundTripRequest({ inputs }, { binary: true })).toEqual({ inputs });
    for (const t of inputs) {
      expect(codeOf(() => encodeInferRequest({ inputs: [t] }))).toBe('tensor_invalid');
      expect(() => encodeInferRequest({ inputs: [t] })).toThrowError(/binary data/);
    }
  });

  it('round-trips an empty request and a response without outputs', () => {
    expect(roundTripRequest({ inputs: [] })).toEqual({ inputs: [] });
    expect(roundTripResponse({ modelName: 'm', outputs: [] }, { binary: true })).toEqual({ modelName: 'm', outputs: [] });
  });

  it('drops empty parameters and never shows binary_data_size', () => {
    const request: InferRequest = {
      parameters: {},
      inputs: [{ name: 'x', dtype: 'uint8', dims: [1], data: Uint8Array.from([5]), parameters: { binary_data_size: 99 } }],
    };
    const { body, headerLength } = encodeInferRequest(request, { binary: true });
    expect(new TextDecoder().decode(body.subarray(0, headerLength!)).trimEnd()).toBe(
      '{"inputs":[{"name":"x","shape":[1],"datatype":"UINT8","parameters":{"binary_data_size":1}}]}',
    );
    expect(decodeInferRequest(body, headerLength)).toEqual({
      inputs: [{ name: 'x', dtype: 'uint8', dims: [1], data: Uint8Array.from([5]) }],
    });
  });
});

// ---------------------------------------------------------------------------------------------------------
// Known answers

describe('known answers', () => {
  it('decodes a KServe v2 style JSON request', () => {
    const body = jsonBody(`{
      "id" : "42",
      "inputs" : [
        { "name" : "input0", "shape" : [ 2, 2 ], "datatype" : "UINT32", "data" : [ 1, 2, 3, 4 ] },
        { "name" : "input1", "shape" : [ 3 ], "datatype" : "BOOL", "data" : [ true, false, true ] },
        { "name" : "input2", "shape" : [ 2, 2 ], "datatype" : "FP32", "data" : [ [ 1.5, 2.5 ], [ -3, 0.1 ] ] },
        { "name" : "input3", "shape" : [ 1 ], "datatype" : "BYTES", "data" : [ "hello world" ],
          "parameters" : { "content_type" : "str" } }
      ],
      "outputs" : [ { "name" : "output0" } ]
    }`);
    expect(decodeInferRequest(body)).toEqual({
      id: '42',
      inputs: [
        { name: 'input0', dtype: 'uint32', dims: [2, 2], data: Uint32Array.from([1, 2, 3, 4]) },
        { name: 'input1', dtype: 'bool', dims: [3], data: Uint8Array.from([1, 0, 1]) },
        { name: 'input2', dtype: 'float32', dims: [2, 2], data: Float32Array.from([1.5, 2.5, -3, 0.1]) },
        { name: 'input3', dtype: 'string', dims: [1], data: ['hello world'], parameters: { content_type: 'str' } },
      ],
      outputs: [{ name: 'output0' }],
    });
  });

  it('decodes a KServe v2 style JSON response', () => {
    const body = jsonBody(`{
      "model_name" : "mymodel", "model_version" : "1", "id" : "42",
      "outputs" : [ { "name" : "output0", "shape" : [ 3, 2 ], "datatype" : "FP32", "data" : [ 1.0, 1.1, 2.0, 2.1, 3.0, 3.1 ] } ]
    }`);
    expect(decodeInferResponse(body)).toEqual({
      modelName: 'mymodel',
      modelVersion: '1',
      id: '42',
      outputs: [{ name: 'output0', dtype: 'float32', dims: [3, 2], data: Float32Array.from([1, 1.1, 2, 2.1, 3, 3.1]) }],
    });
  });

  it("decodes the binary extension's example request (UINT32 [2,2] then BOOL [3])", () => {
    const header = {
      model_name: 'mymodel',
      inputs: [
        { name: 'input0', shape: [2, 2], datatype: 'UINT32', parameters: { binary_data_size: 16 } },
        { name: 'input1', shape: [3], datatype: 'BOOL', parameters: { binary_data_size: 3 } },
      ],
      outputs: [{ name: 'output0', parameters: { binary_data: true } }],
    };
    const [body, length] = binaryBody(header, [...le32(1), ...le32(2), ...le32(3), ...le32(0xfffffffe)], [1, 0, 1]);
    const request = decodeInferRequest(body, String(length));
    expect(request).toEqual({
      inputs: [
        { name: 'input0', dtype: 'uint32', dims: [2, 2], data: Uint32Array.from([1, 2, 3, 0xfffffffe]) },
        { name: 'input1', dtype: 'bool', dims: [3], data: Uint8Array.from([1, 0, 1]) },
      ],
      outputs: [{ name: 'output0', parameters: { binary_data: true } }],
    });
    expect(binaryOutputSelector(request)('output0')).toBe(true);
  });

  it('decodes a hand-built binary response of little-endian floats', () => {
    const header = { model_name: 'm', outputs: [{ name: 'output0', shape: [3, 2], datatype: 'FP32', parameters: { binary_data_size: 24 } }] };
    // 1.0f = 00 00 80 3f, 1.5f = 00 00 c0 3f, -2.0f = 00 00 00 c0, 0.25f = 00 00 80 3e, 0 and -0.
    const floats = [0, 0, 0x80, 0x3f, 0, 0, 0xc0, 0x3f, 0, 0, 0, 0xc0, 0, 0, 0x80, 0x3e, 0, 0, 0, 0, 0, 0, 0, 0x80];
    const [body, length] = binaryBody(header, floats);
    expect(decodeInferResponse(body, length).outputs[0]!.data).toEqual(Float32Array.from([1, 1.5, -2, 0.25, 0, -0]));
  });

  it('decodes FP16 known values from JSON and binary alike', () => {
    const values = [1, -2, 65504, 2 ** -24, 0.5];
    const bits = [0x3c00, 0xc000, 0x7bff, 0x0001, 0x3800];
    const fromJson = decodeInferRequest(jsonBody({ inputs: [{ name: 'h', shape: [5], datatype: 'FP16', data: values }] }));
    expect(fromJson.inputs[0]!.data).toEqual(Uint16Array.from(bits));
    const [body, length] = binaryBody(
      { inputs: [{ name: 'h', shape: [5], datatype: 'FP16', parameters: { binary_data_size: 10 } }] },
      bits.flatMap((b) => [b & 0xff, b >> 8]),
    );
    expect(decodeInferRequest(body, length).inputs[0]!.data).toEqual(Uint16Array.from(bits));
    const encoded = encodeInferRequest(fromJson);
    expect(new TextDecoder().decode(encoded.body)).toBe('{"inputs":[{"name":"h","shape":[5],"datatype":"FP16","data":[1,-2,65504,5.960464477539063e-8,0.5]}]}');
  });

  it('encodes the exact JSON and binary bodies', () => {
    const request: InferRequest = {
      id: 'r1',
      parameters: { binary_data_output: true },
      inputs: [{ name: 'x', dtype: 'float32', dims: [2], data: Float32Array.from([1, -0.5]) }],
      outputs: [{ name: 'y' }],
    };
    const json = encodeInferRequest(request);
    expect(json.headers).toEqual({ 'Content-Type': 'application/json' });
    expect(json.headerLength).toBeNull();
    expect(new TextDecoder().decode(json.body)).toBe(
      '{"id":"r1","parameters":{"binary_data_output":true},"inputs":[{"name":"x","shape":[2],"datatype":"FP32","data":[1,-0.5]}],"outputs":[{"name":"y"}]}',
    );
    const binary = encodeInferRequest(request, { binary: true });
    // 167 bytes of JSON, padded with a space to 168 so the floats start 8-byte aligned.
    const header =
      '{"id":"r1","parameters":{"binary_data_output":true},"inputs":[{"name":"x","shape":[2],"datatype":"FP32","parameters":{"binary_data_size":8}}],"outputs":[{"name":"y"}]}';
    expect(header.length).toBe(167);
    expect(binary.headers).toEqual({ 'Content-Type': 'application/octet-stream', 'Inference-Header-Content-Length': '168' });
    expect([...binary.body]).toEqual([...utf8.encode(`${header} `), ...f32(1, -0.5)]);
  });

  it('encodes the exact response', () => {
    const response: InferResponse = {
      modelName: 'iris',
      modelVersion: '1.0.0',
      outputs: [{ name: 'label', dtype: 'int64', dims: [1], data: BigInt64Array.from([2n]) }],
    };
    expect(new TextDecoder().decode(encodeInferResponse(response).body)).toBe(
      '{"model_name":"iris","model_version":"1.0.0","outputs":[{"name":"label","shape":[1],"datatype":"INT64","data":[2]}]}',
    );
  });
});

// ---------------------------------------------------------------------------------------------------------
// Zero copy

describe('zero copy', () => {
  it('pads the header so encoded binary data decodes in place, multi-byte UTF-8 included', () => {
    const wide = fc
      .constantFrom<TensorDtype>('float64', 'int64', 'float32', 'uint16')
      .chain((dtype) => dataArbitrary(dtype, 3, 'binary').map((data) => ({ name: 'x', dtype, dims: [3], data }) as NamedInferTensor));
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 20 }), wide, (id, tensor) => {
        const request: InferRequest = { id, inputs: [tensor] };
        const { body, headerLength } = encodeInferRequest(request, { binary: true });
        expect(headerLength! % 8).toBe(0);
        const decoded = decodeInferRequest(body, headerLength);
        expect((decoded.inputs[0]!.data as Float64Array).buffer).toBe(body.buffer);
        expect(decoded).toEqual(request);
      }),
    );
  });

  it('views aligned binary tensors in the body and copies unaligned ones', () => {
    // Pad the header with spaces so the FP32 block starts at a multiple of 4, then at an odd offset.
    for (const pad of [0, 1, 2, 3]) {
      const header = `${JSON.stringify({ inputs: [binaryInput()] })}${' '.repeat(pad)}`;
      const [body, length] = binaryBody(header, f32(1, 2));
      const data = decodeInferRequest(body, length).inputs[0]!.data as Float32Array;
      expect([...data]).toEqual([1, 2]);
      expect(data.buffer === body.buffer).toBe(length % 4 === 0);
    }
  });

  it('accepts a body that is a view into a larger buffer, at any offset', () => {
    const [inner, length] = binaryBody({ inputs: [binaryInput()] }, f32(3, 4));
    const outer = new Uint8Array(inner.length + 3);
    outer.set(inner, 3);
    expect(decodeInferRequest(outer.subarray(3), length).inputs[0]!.data).toEqual(Float32Array.from([3, 4]));
  });
});

// ---------------------------------------------------------------------------------------------------------
// Binary outputs

describe('binary outputs', () => {
  const base: InferRequest = { inputs: [] };

  it('asks for all outputs with binary_data_output', () => {
    const request = requestBinaryOutputs(base);
    expect(request.parameters).toEqual({ binary_data_output: true });
    const select = binaryOutputSelector(roundTripRequest(request));
    expect(select('anything')).toBe(true);
  });

  it('asks for named outputs with binary_data, adding them to outputs', () => {
    const request = requestBinaryOutputs({ ...base, outputs: [{ name: 'a' }, { name: 'b', parameters: { k: 1 } }] }, ['b', 'c']);
    expect(request.outputs).toEqual([{ name: 'a' }, { name: 'b', parameters: { k: 1, binary_data: true } }, { name: 'c', parameters: { binary_data: true } }]);
    const select = binaryOutputSelector(roundTripRequest(request));
    expect([select('a'), select('b'), select('c')]).toEqual([false, true, true]);
  });

  it('lets a per-output binary_data override binary_data_output', () => {
    const select = binaryOutputSelector({
      inputs: [],
      parameters: { binary_data_output: true },
      outputs: [{ name: 'json', parameters: { binary_data: false } }, { name: 'other' }],
    });
    expect([select('json'), select('other'), select('unlisted')]).toEqual([false, true, true]);
  });

  it('defaults to JSON', () => {
    expect(binaryOutputSelector(base)('y')).toBe(false);
  });

  it('does not modify the request it is given', () => {
    const request: InferRequest = { inputs: [], outputs: [{ name: 'a' }] };
    requestBinaryOutputs(request, ['a']);
    requestBinaryOutputs(request);
    expect(request).toEqual({ inputs: [], outputs: [{ name: 'a' }] });
  });

  it('serves what the client asked for, end to end', () => {
    const request = decodeInferRequest(encodeInferRequest(requestBinaryOutputs({ inputs: [], outputs: [{ name: 'p' }, { name: 'q' }] }, ['q'])).body);
    const response: InferResponse = {
      modelName: 'm',
      outputs: [
        { name: 'p', dtype: 'float32', dims: [1], data: Float32Array.from([1]) },
        { name: 'q', dtype: 'float32', dims: [1], data: Float32Array.from([NaN]) },
      ],
    };
    const encoded = encodeInferResponse(response, { binary: binaryOutputSelector(request) });
    expect(encoded.headerLength).not.toBeNull();
    expect(decodeInferResponse(encoded.body, encoded.headers[INFERENCE_HEADER_CONTENT_LENGTH])).toEqual(response);
  });
});

// ---------------------------------------------------------------------------------------------------------
// Malformed input

describe('parseInferenceHeaderLength', () => {
  it.each([
    [null, null],
    [undefined, null],
    ['0', 0],
    ['123', 123],
    [' 42\t', 42],
    ['007', 7],
  ])('reads %j as %j', (value, length) => {
    expect(parseInferenceHeaderLength(value)).toBe(length);
  });

  it.each(['', ' ', '-1', '1.5', '1e3', '0x10', 'abc', '12 34', '1,1', '9999999999999999', 'NaN', '+5'])('rejects %j', (value) => {
    expect(codeOf(() => parseInferenceHeaderLength(value))).toBe('bad_request');
  });
});

describe('malformed requests', () => {
  const x = binaryInput;
  const cases: [string, Uint8Array, number | string | null, ErrorCode, OipLimits?][] = [
    // The envelope.
    ['empty body', new Uint8Array(0), null, 'bad_request'],
    ['invalid JSON', jsonBody('{"inputs": ['), null, 'bad_request'],
    ['JSON with a trailing comma', jsonBody('{"inputs": [],}'), null, 'bad_request'],
    ['Python-style NaN', jsonBody('{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[NaN]}]}'), null, 'bad_request'],
    ['a JSON array', jsonBody([]), null, 'bad_request'],
    ['JSON null', jsonBody('null'), null, 'bad_request'],
    ['a JSON string', jsonBody('"inputs"'), null, 'bad_request'],
    ['invalid UTF-8 in the header', Uint8Array.from([0x7b, 0xff, 0x7d]), null, 'bad_request'],
    ['no inputs', jsonBody({}), null, 'bad_request'],
    ['inputs not an array', jsonBody({ inputs: { 0: input() } }), null, 'bad_request'],
    ['an input that is not an object', jsonBody({ inputs: [1] }), null, 'bad_request'],
    ['an input that is null', jsonBody({ inputs: [null] }), null, 'bad_request'],
    ['an input without a name', jsonBody({ inputs: [{ ...input(), name: undefined }] }), null, 'bad_request'],
    ['an input named by an object', jsonBody({ inputs: [input({ name: HOSTILE })] }), null, 'bad_request'],
    ['an input named by a number', jsonBody({ inputs: [input({ name: 7 })] }), null, 'bad_request'],
    ['an input with an empty name', jsonBody({ inputs: [input({ name: '' })] }), null, 'bad_request'],
    ['duplicate input names', jsonBody({ inputs: [input(), input()] }), null, 'bad_request'],
    ['id that is a number', jsonBody({ id: 42, inputs: [] }), null, 'bad_request'],
    ['parameters that are an array', jsonBody({ parameters: [], inputs: [] }), null, 'bad_request'],
    ['parameters that are null', jsonBody({ parameters: null, inputs: [] }), null, 'bad_request'],
    ['a parameter that overflows to Infinity', jsonBody('{"parameters":{"n":1e999},"inputs":[]}'), null, 'bad_request'],
    [
      'a nested tensor parameter that overflows',
      jsonBody('{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1],"parameters":{"a":[{"b":-2e400}]}}]}'),
      null,
      'bad_request',
    ],
    ['tensor parameters that are a string', jsonBody({ inputs: [input({ parameters: 'x' })] }), null, 'bad_request'],
    ['binary_data_output that is not a boolean', jsonBody({ parameters: { binary_data_output: 1 }, inputs: [] }), null, 'bad_request'],
    ['outputs that are not an array', jsonBody({ inputs: [], outputs: 'y' }), null, 'bad_request'],
    ['a requested output without a name', jsonBody({ inputs: [], outputs: [{}] }), null, 'bad_request'],
    ['duplicate requested outputs', jsonBody({ inputs: [], outputs: [{ name: 'y' }, { name: 'y' }] }), null, 'bad_request'],
    ['binary_data that is a string', jsonBody({ inputs: [], outputs: [{ name: 'y', parameters: { binary_data: 'yes' } }] }), null, 'bad_request'],
    ['an input with neither data nor binary_data_size', jsonBody({ inputs: [input({ data: undefined })] }), null, 'bad_request'],
    // Tensors.
    ['an unknown datatype', jsonBody({ inputs: [input({ datatype: 'FP8' })] }), null, 'tensor_invalid'],
    ['BF16, which ORT web cannot hold', jsonBody({ inputs: [input({ datatype: 'BF16' })] }), null, 'tensor_invalid'],
    ['a lower-case datatype', jsonBody({ inputs: [input({ datatype: 'fp32' })] }), null, 'tensor_invalid'],
    ['datatype "__proto__"', jsonBody({ inputs: [input({ datatype: '__proto__' })] }), null, 'tensor_invalid'],
    ['no datatype', jsonBody({ inputs: [input({ datatype: undefined })] }), null, 'tensor_invalid'],
    ['no shape', jsonBody({ inputs: [input({ shape: undefined })] }), null, 'tensor_invalid'],
    ['a shape that is a number', jsonBody({ inputs: [input({ shape: 2 })] }), null, 'tensor_invalid'],
    ['a negative dimension', jsonBody({ inputs: [input({ shape: [-2], data: [] })] }), null, 'tensor_invalid'],
    ['a fractional dimension', jsonBody({ inputs: [input({ shape: [1.5] })] }), null, 'tensor_invalid'],
    ['a dimension that is a string', jsonBody({ inputs: [input({ shape: ['2'] })] }), null, 'tensor_invalid'],
    ['a nested dimension', jsonBody({ inputs: [input({ shape: [[2]] })] }), null, 'tensor_invalid'],
    ['a dimension that cannot be printed', jsonBody({ inputs: [input({ shape: [HOSTILE] })] }), null, 'tensor_invalid'],
    ['a datatype that cannot be printed', jsonBody({ inputs: [input({ datatype: HOSTILE })] }), null, 'tensor_invalid'],
    ['a value that cannot be printed', jsonBody({ inputs: [input({ data: [1, HOSTILE] })] }), null, 'tensor_invalid'],
    ['a row that cannot be printed', jsonBody({ inputs: [input({ shape: [1, 2], data: [HOSTILE] })] }), null, 'tensor_invalid'],
    ['a binary_data_size that cannot be printed', ...binaryBody({ inputs: [x({ parameters: { binary_data_size: HOSTILE } })] }, f32(1, 2)), 'bad_request'],
    ['fewer values than the shape needs', jsonBody({ inputs: [input({ shape: [3] })] }), null, 'tensor_invalid'],
    ['more values than the shape needs', jsonBody({ inputs: [input({ shape: [1] })] }), null, 'tensor_invalid'],
    ['ragged nested data', jsonBody({ inputs: [input({ shape: [2, 2], data: [[1, 2], [3]] })] }), null, 'tensor_invalid'],
    ['data that is not an array', jsonBody({ inputs: [input({ shape: [], data: 1 })] }), null, 'tensor_invalid'],
    ['a string in FP32 data', jsonBody({ inputs: [input({ data: [1, '2'] })] }), null, 'tensor_invalid'],
    ['a number in BOOL data', jsonBody({ inputs: [input({ datatype: 'BOOL', data: [1, 0] })] }), null, 'tensor_invalid'],
    ['a number in BYTES data', jsonBody({ inputs: [input({ datatype: 'BYTES', data: ['a', 1] })] }), null, 'tensor_invalid'],
    ['256 in UINT8 data', jsonBody({ inputs: [input({ datatype: 'UINT8', data: [1, 256] })] }), null, 'tensor_invalid'],
    ['2^53 in INT64 data', jsonBody({ inputs: [input({ datatype: 'INT64', data: [1, 2 ** 53] })] }), null, 'tensor_invalid'],
    ['a huge INT64 literal', jsonBody('{"inputs":[{"name":"x","shape":[1],"datatype":"INT64","data":[12345678901234567890]}]}'), null, 'tensor_invalid'],
    ['1e400 in FP64 data', jsonBody('{"inputs":[{"name":"x","shape":[1],"datatype":"FP64","data":[1e400]}]}'), null, 'tensor_invalid'],
    ['1e39 in FP32 data', jsonBody({ inputs: [input({ data: [1, 1e39] })] }), null, 'tensor_invalid'],
    ['70000 in FP16 data', jsonBody({ inputs: [input({ datatype: 'FP16', data: [1, 70000] })] }), null, 'tensor_invalid'],
    ['a lone surrogate in BYTES data', jsonBody('{"inputs":[{"name":"x","shape":[1],"datatype":"BYTES","data":["\\ud800"]}]}'), null, 'tensor_invalid'],
    // The header length.
    ['a header length that is not a number', binaryBody({ inputs: [x()] }, f32(1, 2))[0], 'ten', 'bad_request'],
    ['a negative header length', binaryBody({ inputs: [x()] }, f32(1, 2))[0], -1, 'bad_request'],
    ['a fractional header length', binaryBody({ inputs: [x()] }, f32(1, 2))[0], 1.5, 'bad_request'],
    ['a NaN header length', binaryBody({ inputs: [x()] }, f32(1, 2))[0], NaN, 'bad_request'],
    ['a header length past the body', jsonBody({ inputs: [] }), 100, 'bad_request'],
    ['a header length that cuts the JSON', jsonBody({ inputs: [] }), 5, 'bad_request'],
    ['a header length that cuts a UTF-8 sequence', jsonBody({ id: 'é', inputs: [] }), 8, 'bad_request'],
    // Binary framing.
    ['binary_data_size without a header length', jsonBody({ inputs: [x({ parameters: { binary_data_size: 0 }, shape: [0] })] }), null, 'bad_request'],
    ['a binary body without a header length', binaryBody({ inputs: [x()] }, f32(1, 2))[0], null, 'bad_request'],
    ['binary_data_size that is a string', ...binaryBody({ inputs: [x({ parameters: { binary_data_size: '8' } })] }, f32(1, 2)), 'bad_request'],
    ['a negative binary_data_size', ...binaryBody({ inputs: [x({ parameters: { binary_data_size: -8 } })] }, f32(1, 2)), 'bad_request'],
    ['both data and binary_data_size', ...binaryBody({ inputs: [x({ data: [1, 2] })] }, f32(1, 2)), 'bad_request'],
    ['binary_data_size past the end of the body', ...binaryBody({ inputs: [x()] }, f32(1)), 'bad_request'],
    ['bytes after the last binary tensor', ...binaryBody({ inputs: [x()] }, f32(1, 2), [0]), 'bad_request'],
    ['bytes after a JSON-only header', ...binaryBody({ inputs: [input()] }, [0]), 'bad_request'],
    ['binary_data_size too small for the dtype', ...binaryBody({ inputs: [x({ parameters: { binary_data_size: 4 } })] }, f32(1)), 'tensor_invalid'],
    ['binary_data_size too large for the dtype', ...binaryBody({ inputs: [x({ parameters: { binary_data_size: 12 } })] }, f32(1, 2, 3)), 'tensor_invalid'],
    ['a BOOL byte that is 2', ...binaryBody({ inputs: [x({ datatype: 'BOOL', parameters: { binary_data_size: 2 } })] }, [1, 2]), 'tensor_invalid'],
    [
      'a truncated BYTES length',
      ...binaryBody({ inputs: [x({ datatype: 'BYTES', shape: [1], parameters: { binary_data_size: 2 } })] }, [1, 0]),
      'tensor_invalid',
    ],
    [
      'a truncated BYTES element',
      ...binaryBody({ inputs: [x({ datatype: 'BYTES', shape: [1], parameters: { binary_data_size: 6 } })] }, [...le32(3), 0x61, 0x62]),
      'tensor_invalid',
    ],
    [
      'bytes after the last BYTES element',
      ...binaryBody({ inputs: [x({ datatype: 'BYTES', shape: [1], parameters: { binary_data_size: 6 } })] }, [...le32(1), 0x61, 0x62]),
      'tensor_invalid',
    ],
    [
      'invalid UTF-8 in a BYTES element',
      ...binaryBody({ inputs: [x({ datatype: 'BYTES', shape: [1], parameters: { binary_data_size: 5 } })] }, [...le32(1), 0xff]),
      'tensor_invalid',
    ],
    // Limits.
    ['more tensors than maxTensors', jsonBody({ inputs: [input({ name: 'a' }), input({ name: 'b' })] }), null, 'payload_too_large', { maxTensors: 1 }],
    ['more requested outputs than maxTensors', jsonBody({ inputs: [], outputs: [{ name: 'a' }, { name: 'b' }] }), null, 'payload_too_large', { maxTensors: 1 }],
    ['a tensor over maxElements', jsonBody({ inputs: [input({ shape: [3], data: [1, 2, 3] })] }), null, 'payload_too_large', { maxElements: 2 }],
    ['tensors over maxTotalElements', jsonBody({ inputs: [input({ name: 'a' }), input({ name: 'b' })] }), null, 'payload_too_large', { maxTotalElements: 3 }],
    ['tensors over maxElements in all', jsonBody({ inputs: [input({ name: 'a' }), input({ name: 'b' })] }), null, 'payload_too_large', { maxElements: 3 }],
    ['a shape of 2^30 elements (default limit)', jsonBody({ inputs: [input({ shape: [2 ** 30], data: [] })] }), null, 'payload_too_large'],
    ['a shape whose product overflows', jsonBody({ inputs: [input({ shape: [2 ** 40, 2 ** 40], data: [] })] }), null, 'payload_too_large'],
    // Bounds on structure (issue 18: tensor parameters nested 5 000 deep crashed the origin's worker post).
    [
      'tensor parameters nested 5 000 deep',
      jsonBody(`{"inputs":[{"name":"x","shape":[2],"datatype":"FP32","data":[1,2],"parameters":${nested(5000)}}]}`),
      null,
      'bad_request',
    ],
    ['request parameters nested 5 000 deep', jsonBody(`{"parameters":${nested(5000)},"inputs":[]}`), null, 'bad_request'],
    ['requested output parameters nested 5 000 deep', jsonBody(`{"inputs":[],"outputs":[{"name":"y","parameters":${nested(5000)}}]}`), null, 'bad_request'],
    ['parameters one level past maxParameterDepth', jsonBody({ parameters: { a: { b: [1] } }, inputs: [] }), null, 'bad_request', { maxParameterDepth: 2 }],
    [
      'parameters with more entries than maxParameterEntries',
      jsonBody({ parameters: { a: 1, b: { c: 2 } }, inputs: [] }),
      null,
      'bad_request',
      { maxParameterEntries: 2 },
    ],
    [
      'a parameter array of a million entries',
      jsonBody(`{"inputs":[{"name":"y","shape":[1],"datatype":"FP32","data":[1],"parameters":{"a":[${new Array(1_000_000).fill(0).join(',')}]}}]}`),
      null,
      'bad_request',
    ],
    ['a parameter string over maxStringLength', jsonBody({ inputs: [input({ parameters: { a: 'x'.repeat(1025) } })] }), null, 'bad_request'],
    ['a parameter name over maxStringLength', jsonBody({ inputs: [input({ parameters: { ['k'.repeat(1025)]: 1 } })] }), null, 'bad_request'],
    ['an id over maxStringLength', jsonBody({ id: 'i'.repeat(1025), inputs: [] }), null, 'bad_request'],
    ['an input name over maxStringLength', jsonBody({ inputs: [input({ name: 'n'.repeat(1025) })] }), null, 'bad_request'],
    ['a requested output name over maxStringLength', jsonBody({ inputs: [], outputs: [{ name: 'n'.repeat(1025) }] }), null, 'bad_request'],
    ['a shape of 33 dimensions', jsonBody({ inputs: [input({ shape: new Array(33).fill(1), data: [1] })] }), null, 'tensor_invalid'],
  ];

  it.each(cases)('%s', (_what, body, headerLength, code, limits) => {
    expect(codeOf(() => decodeInferRequest(body, headerLength, limits))).toBe(code);
  });

  it('names the tensor in the message', () => {
    expect(() => decodeInferRequest(jsonBody({ inputs: [input({ name: 'pixels', data: [1, 'x'] })] }))).toThrowError(
      /input "pixels": element 1 is "x", expected a number/,
    );
  });

  it('accepts the limits exactly', () => {
    const body = jsonBody({ inputs: [input({ name: 'a' }), input({ name: 'b' })] });
    expect(decodeInferRequest(body, null, { maxTensors: 2, maxElements: 2, maxTotalElements: 4 }).inputs).toHaveLength(2);
  });

  it('accepts the bounds on structure exactly', () => {
    const parameters = { a: { b: { c: { d: 's'.repeat(1024) } } } }; // 4 levels, 4 entries, a 1024-character string
    const request = decodeInferRequest(
      jsonBody({
        id: 'i'.repeat(1024),
        parameters,
        inputs: [input({ name: 'n'.repeat(1024), shape: new Array(32).fill(1), data: [1], parameters })],
        outputs: [{ name: 'o'.repeat(1024), parameters }],
      }),
    );
    expect(request.inputs[0]!.dims).toHaveLength(32);
    expect(request.inputs[0]!.parameters).toEqual(parameters);
    expect(codeOf(() => decodeInferRequest(jsonBody({ parameters, inputs: [] }), null, { maxParameterEntries: 3 }))).toBe('bad_request');
  });

  it('bounds what a decoded response holds too', () => {
    expect(codeOf(() => decodeInferResponse(jsonBody(`{"model_name":"m","parameters":${nested(5000)},"outputs":[]}`)))).toBe('bad_request');
    expect(codeOf(() => decodeInferResponse(jsonBody({ model_name: 'm'.repeat(1025), outputs: [] })))).toBe('bad_request');
  });

  it('leaves nothing in a decoded request that structured clone cannot copy', () => {
    const body = jsonBody(`{"id":"a","parameters":{"p":1},"inputs":[{"name":"x","shape":[2],"datatype":"FP32","data":[1,2],"parameters":{"q":[1,{"r":2}]}}]}`);
    expect(() => structuredClone(decodeInferRequest(body))).not.toThrow();
    expect(() => structuredClone(JSON.parse(nested(5000)))).toThrow(RangeError); // what the bound keeps out
  });

  it('refuses bad limits as a configuration error', () => {
    expect(codeOf(() => decodeInferRequest(jsonBody({ inputs: [] }), null, { maxElements: -1 }))).toBe('internal');
    expect(codeOf(() => decodeInferRequest(jsonBody({ inputs: [] }), null, { maxTensors: Infinity }))).toBe('internal');
  });

  it('refuses a header length of the wrong type', () => {
    expect(codeOf(() => decodeInferRequest(jsonBody({ inputs: [] }), HOSTILE as unknown as number))).toBe('bad_request');
  });
});

describe('malformed responses', () => {
  it.each<[string, unknown]>([
    ['no model_name', { outputs: [] }],
    ['a model_name that is a number', { model_name: 1, outputs: [] }],
    ['a model_version that is a number', { model_name: 'm', model_version: 1, outputs: [] }],
    ['no outputs', { model_name: 'm' }],
    ['outputs that are an object', { model_name: 'm', outputs: {} }],
    ['duplicate outputs', { model_name: 'm', outputs: [input(), input()] }],
  ])('%s', (_what, body) => {
    expect(codeOf(() => decodeInferResponse(jsonBody(body)))).toBe('bad_request');
  });

  it('checks output tensors like inputs', () => {
    expect(codeOf(() => decodeInferResponse(jsonBody({ model_name: 'm', outputs: [input({ data: [1] })] })))).toBe('tensor_invalid');
  });
});

describe('malformed messages to encode', () => {
  const t = (over: object = {}) => ({ name: 'x', dtype: 'float32', dims: [2], data: new Float32Array(2), ...over }) as NamedInferTensor;
  it.each<[string, unknown, ErrorCode]>([
    ['data shorter than dims', { inputs: [t({ dims: [3] })] }, 'tensor_invalid'],
    ['data of the wrong array type', { inputs: [t({ data: new Float64Array(2) })] }, 'tensor_invalid'],
    ['an unknown dtype', { inputs: [t({ dtype: 'bfloat16' })] }, 'tensor_invalid'],
    ['dims that are not an array', { inputs: [t({ dims: 2 })] }, 'tensor_invalid'],
    ['a negative dim', { inputs: [t({ dims: [-2] })] }, 'tensor_invalid'],
    ['a dim that cannot be printed', { inputs: [t({ dims: [HOSTILE, 2] })] }, 'tensor_invalid'],
    ['a dtype that cannot be printed', { inputs: [t({ dtype: HOSTILE })] }, 'tensor_invalid'],
    ['an id that cannot be printed', { id: HOSTILE, inputs: [] }, 'bad_request'],
    ['duplicate names', { inputs: [t(), t()] }, 'bad_request'],
    ['an empty name', { inputs: [t({ name: '' })] }, 'bad_request'],
    ['inputs that are not an array', { inputs: 'x' }, 'bad_request'],
    ['parameters with a BigInt', { inputs: [], parameters: { n: 1n } }, 'bad_request'],
    ['parameters with NaN', { inputs: [], parameters: { n: NaN } }, 'bad_request'],
    ['tensor parameters with Infinity', { inputs: [t({ parameters: { deep: [Infinity] } })] }, 'bad_request'],
    [
      'cyclic parameters',
      {
        inputs: [],
        parameters: (() => {
          const p: Record<string, unknown> = {};
          p.self = p;
          return p;
        })(),
      },
      'bad_request',
    ],
    ['parameters that are an array', { inputs: [t({ parameters: [] })] }, 'bad_request'],
    ['an id that is a number', { id: 1, inputs: [] }, 'bad_request'],
    ['duplicate requested outputs', { inputs: [], outputs: [{ name: 'y' }, { name: 'y' }] }, 'bad_request'],
  ])('refuses a request with %s', (_what, request, code) => {
    expect(codeOf(() => encodeInferRequest(request as InferRequest))).toBe(code);
  });

  it('refuses a response without a model name', () => {
    expect(codeOf(() => encodeInferResponse({ outputs: [] } as unknown as InferResponse))).toBe('bad_request');
  });

  it("reports a throwing binary selector as internal, keeping the selector's error as cause", () => {
    const boom = new Error('boom');
    let caught: unknown;
    try {
      encodeInferRequest(
        { inputs: [t()] },
        {
          binary: () => {
            throw boom;
          },
        },
      );
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(TandemError);
    expect((caught as TandemError).code).toBe('internal');
    expect((caught as TandemError).cause).toBe(boom);
  });
});

describe('prototype pollution', () => {
  it('keeps "__proto__" keys as plain data and leaves prototypes alone', () => {
    const body = jsonBody(
      '{"__proto__":{"inputs":"polluted"},"parameters":{"__proto__":{"polluted":true}},' +
        '"inputs":[{"name":"__proto__","shape":[1],"datatype":"FP32","data":[1],"parameters":{"__proto__":{"polluted":true},"constructor":1}}]}',
    );
    const request = decodeInferRequest(body);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(request)).toBe(Object.prototype);
    expect(Object.getPrototypeOf(request.parameters)).toBe(Object.prototype);
    expect(Object.keys(request.parameters!)).toEqual(['__proto__']);
    const tensor = request.inputs[0]!;
    expect(tensor.name).toBe('__proto__');
    expect(Object.getPrototypeOf(tensor.parameters)).toBe(Object.prototype);
    expect(Object.keys(tensor.parameters!)).toEqual(['__proto__', 'constructor']);
    // And it survives encoding again, in both forms.
    expect(roundTripRequest(request)).toEqual(request);
    expect(roundTripRequest(request, { binary: true })).toEqual(request);
  });
});

// ---------------------------------------------------------------------------------------------------------
// Fuzzing: whatever the bytes, decoding either succeeds or throws a TandemError with a client-error code.

const CLIENT_CODES: readonly ErrorCode[] = ['bad_request', 'tensor_invalid', 'payload_too_large'];

/** Decodes `body`; on success, re-encodes everything as binary and checks it decodes to the same. */
function decodeOrRefuse(body: Uint8Array, headerLength: number | string | null): void {
  for (const kind of ['request', 'response'] as const) {
    let decoded: InferRequest | InferResponse;
    try {
      decoded = kind === 'request' ? decodeInferRequest(body, headerLength) : decodeInferResponse(body, headerLength);
    } catch (err) {
      if (!(err instanceof TandemError)) throw new Error(`decoding threw a non-TandemError: ${String(err)}`, { cause: err });
      if (!CLIENT_CODES.includes(err.code)) throw new Error(`decoding threw ${err.code}: ${err.message}`, { cause: err });
      continue;
    }
    const again: EncodedInferBody =
      kind === 'request' ? encodeInferRequest(decoded as InferRequest, { binary: true }) : encodeInferResponse(decoded as InferResponse, { binary: true });
    const redecoded = kind === 'request' ? decodeInferRequest(again.body, again.headerLength) : decodeInferResponse(again.body, again.headerLength);
    expect(JSON.stringify(redecoded, jsonSafe)).toBe(JSON.stringify(decoded, jsonSafe));
  }
}

/**
 * For comparing decoded messages as text: tensor data spelled out exactly (BigInt, NaN, infinities and -0
 * as strings). Elsewhere numbers compare as JSON writes them: a parameter decoded from "-0" goes back as 0,
 * and free-form metadata is not worth a custom JSON writer.
 */
function jsonSafe(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return `${value}n`;
  if (ArrayBuffer.isView(value)) {
    return Array.from(value as unknown as ArrayLike<number | bigint>, (v) =>
      typeof v === 'bigint' ? `${v}n` : Object.is(v, -0) || !Number.isFinite(v) ? String(Object.is(v, -0) ? '-0' : v) : v,
    );
  }
  return value;
}

const validBody = fc
  .oneof(
    requestArbitrary(TENSOR_DTYPES, ['json', 'binary']).map(({ request, binaryNames }) =>
      encodeInferRequest(request, { binary: (name) => binaryNames.has(name) }),
    ),
    responseArbitrary(TENSOR_DTYPES, ['json', 'binary']).map(({ response, binaryNames }) =>
      encodeInferResponse(response, { binary: (name) => binaryNames.has(name) }),
    ),
  )
  .filter((encoded) => encoded.body.length > 0);

describe('fuzzing', () => {
  it('refuses random bytes with a TandemError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.option(fc.integer({ min: -2, max: 310 }), { nil: null }), (body, length) => {
        decodeOrRefuse(body, length);
      }),
      { numRuns: 1000 },
    );
  });

  it('refuses random JSON with a TandemError', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.uint8Array({ maxLength: 40 }), (value, tail) => {
        const [body, length] = binaryBody(JSON.stringify(value ?? null), tail);
        decodeOrRefuse(body, length);
        decodeOrRefuse(body.subarray(0, length), null);
      }),
      { numRuns: 1000 },
    );
  });

  it('refuses byte-level mutations of valid bodies with a TandemError', () => {
    const mutation = fc.record({
      at: fc.nat(),
      byte: fc.integer({ min: 0, max: 255 }),
      op: fc.constantFrom('set', 'insert', 'delete', 'truncate'),
    });
    fc.assert(
      fc.property(validBody, fc.array(mutation, { minLength: 1, maxLength: 4 }), fc.integer({ min: -3, max: 3 }), (encoded, mutations, shift) => {
        let bytes = [...encoded.body];
        for (const { at, byte, op } of mutations) {
          const i = at % Math.max(bytes.length, 1);
          if (op === 'set') bytes[i] = byte;
          else if (op === 'insert') bytes.splice(i, 0, byte);
          else if (op === 'delete') bytes.splice(i, 1);
          else bytes = bytes.slice(0, i);
        }
        const body = Uint8Array.from(bytes);
        decodeOrRefuse(body, encoded.headerLength === null ? null : encoded.headerLength + shift);
        decodeOrRefuse(body, encoded.headerLength);
      }),
      { numRuns: 1000 },
    );
  });

  it('refuses structural mutations of valid headers with a TandemError', () => {
    fc.assert(
      fc.property(
        validBody,
        fc.nat(),
        fc.option(fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constant(HOSTILE)), { nil: undefined }),
        (encoded, pick, replacement) => {
          const split = encoded.headerLength ?? encoded.body.length;
          const header = JSON.parse(new TextDecoder().decode(encoded.body.subarray(0, split))) as unknown;
          // Every place in the header tree; replace (or delete) one.
          const places: [Record<string, unknown> | unknown[], string | number][] = [];
          const walk = (node: unknown): void => {
            if (Array.isArray(node)) node.forEach((child, i) => (places.push([node, i]), walk(child)));
            else if (node !== null && typeof node === 'object') {
              for (const [key, child] of Object.entries(node)) {
                places.push([node as Record<string, unknown>, key]);
                walk(child);
              }
            }
          };
          walk(header);
          fc.pre(places.length > 0);
          const [parent, key] = places[pick % places.length]!;
          if (replacement === undefined) {
            if (Array.isArray(parent)) parent.splice(key as number, 1);
            else delete parent[key as string];
          } else if (Array.isArray(parent)) parent[key as number] = replacement;
          else Object.defineProperty(parent, key, { value: replacement, enumerable: true, writable: true, configurable: true });
          const [body, length] = binaryBody(header, encoded.body.subarray(split));
          decodeOrRefuse(body, encoded.headerLength === null ? null : length);
        },
      ),
      { numRuns: 1000 },
    );
  });

  // How fast is the decoder's business in bench/, not a timed test's; here: no crash, no stack overflow,
  // no non-Tandem error, on inputs built to make a naive decoder recurse, allocate or loop.
  it('refuses or decodes adversarial inputs with a typed error, never a crash', () => {
    const deep = 50_000;
    const cases: [Uint8Array, number | null][] = [
      // Nesting far deeper than any shape.
      [jsonBody(`{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":${'['.repeat(deep)}1${']'.repeat(deep)}}]}`), null],
      // ...and as deep as a (silly) shape of 50 000 ones.
      [
        jsonBody(`{"inputs":[{"name":"x","shape":[${new Array(deep).fill(1).join(',')}],"datatype":"FP32","data":${'['.repeat(deep)}1${']'.repeat(deep)}}]}`),
        null,
      ],
      // A BYTES tensor claiming 2^26 elements in 8 bytes.
      binaryBody({ inputs: [{ name: 'x', shape: [2 ** 26], datatype: 'BYTES', parameters: { binary_data_size: 8 } }] }, new Uint8Array(8)),
      // Parameters holding a million-element array (walked for non-finite numbers without spreading it).
      [jsonBody(`{"parameters":{"a":[${new Array(1_000_000).fill(0).join(',')}]},"inputs":[]}`), null],
      // A huge zero-size tensor.
      [jsonBody({ inputs: [{ name: 'x', shape: [0, 2 ** 50], datatype: 'FP64', data: [] }] }), null],
    ];
    for (const [body, length] of cases) expect(() => decodeOrRefuse(body, length)).not.toThrow();
  });
});

// ---------------------------------------------------------------------------------------------------------
// The public API's types

describe('types', () => {
  it('fit the public API', () => {
    expectTypeOf(decodeInferRequest).returns.toEqualTypeOf<InferRequest>();
    expectTypeOf(decodeInferResponse).returns.toEqualTypeOf<InferResponse>();
    expectTypeOf(encodeInferRequest).returns.toEqualTypeOf<EncodedInferBody>();
    expectTypeOf(decodeInferRequest).parameter(1).toEqualTypeOf<number | string | null | undefined>();
    expectTypeOf<EncodedInferBody['body']>().toEqualTypeOf<Uint8Array<ArrayBuffer>>();
    expectTypeOf<NamedInferTensor>().toExtend<Tensor>();
    expectTypeOf<NamedInferTensor<'float32'>['data']>().toEqualTypeOf<Float32Array>();
    expectTypeOf<OipEncodeOptions['binary']>().toEqualTypeOf<boolean | ((name: string) => boolean) | undefined>();
    const tensor: NamedInferTensor = { name: 'x', dtype: 'int64', dims: [1], data: new BigInt64Array(1) };
    // @ts-expect-error: dtype must be an ORT dtype name, not an OIP datatype
    const wrong: NamedInferTensor = { name: 'x', dtype: 'FP32', dims: [1], data: new Float32Array(1) };
    expect([tensor, wrong]).toHaveLength(2);
  });
});
