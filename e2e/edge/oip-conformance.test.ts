/**
 * Conformance with the Open Inference Protocol's HTTP/REST API, as its specification defines it
 * (github.com/kserve/open-inference-protocol, specification/protocol/inference_rest.md and
 * open_inference_rest.yaml), and with the binary tensor data extension both tiers announce (Triton's
 * docs/protocol/extension_binary_data.md, which KServe adopts): every route, its verb, status codes,
 * and the JSON shapes of health, server and model metadata, model readiness, inference requests and
 * responses (JSON and binary tensors) and errors. The same checks run against a real origin (a child
 * process) and the real edge (`wrangler dev`) in front of it. The spec's shapes are encoded below as zod
 * schemas, each citing its section; requests are written by hand from the spec, not by Tandem's codec,
 * so a codec bug cannot agree with itself.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { INFER_TOKEN, signedRepository, type TestRepository } from '../../origin/test-support.ts';
import { startEdge, type RunningEdge } from '../../stack/edge-process.ts';
import { spawnOrigin, type ChildOrigin } from './support.ts';

const MODEL = 'mlp-classifier';
const VERSION = '1.0.0';
const EDGE_KEY = 'conformance-key';

// ---- The spec's shapes ----------------------------------------------------------------------------

/** "Tensor Data Types": the datatypes a tensor may have. */
const datatype = z.enum(['BOOL', 'UINT8', 'UINT16', 'UINT32', 'UINT64', 'INT8', 'INT16', 'INT32', 'INT64', 'FP16', 'FP32', 'FP64', 'BYTES']);
/** "Parameters": `$parameter = $string : $string | $number | $boolean`. */
const parameters = z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]));
/** "Tensor Data": a JSON array, flat or nested, of numbers, strings or booleans. */
type TensorData = (number | string | boolean | TensorData)[];
const tensorData: z.ZodType<TensorData> = z.lazy(() => z.array(z.union([z.number(), z.string(), z.boolean(), tensorData])));
/** "Request Input" / "Response Output": each dimension an unsigned 64-bit integer. */
const dims = z.array(z.number().int().nonnegative());

/** "Server Live Response JSON Objet". */
const liveServerResponse = z.object({ live: z.boolean() });
/**
 * "Server Ready Response JSON Object". The text shows `"live"` there, a copy of the live object; the
 * field a ready probe answers is `ready` (as KServe's and Triton's servers write it), checked here.
 */
const readyServerResponse = z.object({ ready: z.boolean() });
/** "Server Metadata Response JSON Object" (the OpenAPI text requires all three). */
const metadataServerResponse = z.object({ name: z.string(), version: z.string(), extensions: z.array(z.string()) });
/** "Model Metadata Response JSON Object", `$metadata_tensor`: variable-size dimensions are -1. */
const metadataTensor = z.object({ name: z.string(), datatype, shape: z.array(z.number().int().min(-1)) });
/** "Model Metadata Response JSON Object"; "Platforms": names use the format `<project>_<format>`. */
const metadataModelResponse = z.object({
  name: z.string(),
  versions: z.array(z.string()).optional(),
  platform: z.string().regex(/^[a-z0-9]+_[a-z0-9]+$/),
  inputs: z.array(metadataTensor),
  outputs: z.array(metadataTensor),
});
/** "Model Ready Response JSON Object". */
const readyModelResponse = z.object({ name: z.string(), ready: z.boolean() });
/** "Response Output". */
const responseOutput = z.object({ name: z.string(), shape: dims, datatype, parameters: parameters.optional(), data: tensorData });
/** "Inference Response JSON Object". */
const inferenceResponse = z.object({
  model_name: z.string(),
  model_version: z.string().optional(),
  id: z.string().optional(),
  parameters: parameters.optional(),
  outputs: z.array(responseOutput),
});
/**
 * The binary extension's "Binary Tensor Response": an output sent as binary data has
 * `parameters.binary_data_size` and no `data`.
 */
const binaryResponseOutput = z.object({
  name: z.string(),
  shape: dims,
  datatype,
  parameters: parameters.and(z.object({ binary_data_size: z.number().int().nonnegative() })),
  data: z.undefined().optional(),
});
/**
 * "Server Metadata Response JSON Error Object", "Model Metadata Response JSON Error Object", "Inference
 * Response JSON Error Object": `{ "error": <message string> }`. Tandem adds its stable `code` and the
 * `request_id` beside it (README, "Errors"); the spec's clients read `error`.
 */
const errorResponse = z.object({ error: z.string().min(1), code: z.string(), request_id: z.string() });

// ---- The servers ----------------------------------------------------------------------------------

interface Target {
  url: string;
  /** What the target's inference routes need (the origin's token, the edge's API key). */
  auth: Record<string, string>;
}

let repo: TestRepository;
let origin: ChildOrigin;
let edge: RunningEdge;
const targets = new Map<string, Target>();

beforeAll(async () => {
  repo = await signedRepository([MODEL]);
  origin = await spawnOrigin(repo);
  targets.set('origin', { url: origin.url, auth: { authorization: `Bearer ${INFER_TOKEN}` } });
  edge = await startEdge({
    origins: [origin.url],
    repository: repo.repository,
    trustedKeys: repo.trustedKeys,
    originToken: INFER_TOKEN,
    apiKeys: [{ name: 'conformance', key: EDGE_KEY, scopes: ['infer', 'catalog'], ratePerSecond: 10_000, burst: 10_000 }],
    logLevel: 'warn',
  });
  targets.set('edge', { url: edge.url, auth: { authorization: `Bearer ${EDGE_KEY}` } });
});

afterAll(async () => {
  await edge?.stop();
  await origin?.kill();
  await repo?.cleanup();
});

/** Two rows of deterministic inputs, flat, for `[2, 256]`. */
function rows(): number[] {
  return Array.from({ length: 512 }, (_, i) => Math.round(Math.sin(i * 0.37) * 1000) / 1000);
}

/** A tensor's data, flat (row-major, as "Tensor Data" orders it). */
function flatten(data: TensorData): number[] {
  return data.flatMap((v) => (Array.isArray(v) ? flatten(v) : [Number(v)]));
}

/** The body of an error answer, checked against the spec's error object; returns it. */
async function expectError(res: Response, status: number | 'client'): Promise<z.infer<typeof errorResponse>> {
  if (status === 'client') {
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
  } else {
    expect(res.status).toBe(status);
  }
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  const body = errorResponse.parse(await res.json());
  expect(res.headers.get('x-tandem-error-code')).toBe(body.code);
  return body;
}

describe.each(['origin', 'edge'])('OIP REST conformance: %s', (name) => {
  const target = () => targets.get(name)!;
  const get = (path: string, init: RequestInit = {}) => fetch(`${target().url}${path}`, init);
  const infer = (path: string, body: BodyInit, headers: Record<string, string> = { 'content-type': 'application/json' }) =>
    fetch(`${target().url}${path}`, { method: 'POST', body, headers: { ...headers, ...target().auth } });

  // "HTTP/REST", the API table: verb and path of each route.
  describe('health (API table: Server Live, Server Ready; "Health/Readiness/Liveness Probes")', () => {
    it('GET v2/health/live answers 200 with $live_server_response', async () => {
      const res = await get('/v2/health/live');
      expect(res.status).toBe(200);
      expect(liveServerResponse.parse(await res.json())).toMatchObject({ live: true });
    });

    it('GET v2/health/ready answers 200 with a ready body while it serves', async () => {
      const res = await get('/v2/health/ready');
      expect(res.status).toBe(200);
      expect(readyServerResponse.parse(await res.json())).toMatchObject({ ready: true });
    });
  });

  describe('Server Metadata', () => {
    it("GET v2 (and the OpenAPI text's /v2/) answers 200 with $metadata_server_response", async () => {
      for (const path of ['/v2', '/v2/']) {
        const res = await get(path);
        expect([path, res.status]).toEqual([path, 200]);
        const body = metadataServerResponse.parse(await res.json());
        // Binary Tensor Data Extension: a server that supports it reports "binary_tensor_data".
        expect(body.extensions).toContain('binary_tensor_data');
      }
    });
  });

  describe('Model Metadata', () => {
    it('GET v2/models/<name>[/versions/<version>] answers 200 with $metadata_model_response', async () => {
      for (const path of [`/v2/models/${MODEL}`, `/v2/models/${MODEL}/versions/${VERSION}`]) {
        const res = await get(path);
        expect([path, res.status]).toEqual([path, 200]);
        const body = metadataModelResponse.parse(await res.json());
        expect(body.name).toBe(MODEL);
        // "versions": the model versions that may be explicitly requested via the versioned path.
        expect(body.versions).toContain(VERSION);
        expect(body.inputs).toEqual([{ name: 'x', datatype: 'FP32', shape: [-1, 256] }]);
        expect(body.outputs.map((o) => o.name).sort()).toEqual(['logits', 'probabilities']);
        for (const output of body.outputs) expect(output.shape[0], output.name).toBe(-1); // "Variable-size dimensions are specified as -1."
      }
    });

    it('a failed model metadata request has an HTTP error status and $metadata_model_error_response', async () => {
      await expectError(await get('/v2/models/no-such-model'), 'client');
      await expectError(await get(`/v2/models/${MODEL}/versions/9.9.9`), 'client');
    });
  });

  describe('Model Ready', () => {
    it('GET v2/models/<name>[/versions/<version>]/ready answers 200 with $ready_model_response', async () => {
      for (const path of [`/v2/models/${MODEL}/ready`, `/v2/models/${MODEL}/versions/${VERSION}/ready`]) {
        const res = await get(path);
        expect([path, res.status]).toEqual([path, 200]);
        expect(readyModelResponse.parse(await res.json())).toMatchObject({ name: MODEL, ready: true });
      }
    });

    it('a model the server does not have is not ready: an error status', async () => {
      await expectError(await get('/v2/models/no-such-model/ready'), 'client');
    });
  });

  describe('verbs (API table): a route asked with another verb is refused with an error object', () => {
    const gets = [
      '/v2',
      '/v2/health/live',
      '/v2/health/ready',
      `/v2/models/${MODEL}`,
      `/v2/models/${MODEL}/versions/${VERSION}`,
      `/v2/models/${MODEL}/ready`,
      `/v2/models/${MODEL}/versions/${VERSION}/ready`,
    ];
    it.each(gets)('POST %s', async (path) => {
      const res = await fetch(`${target().url}${path}`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json', ...target().auth } });
      expect(res.headers.get('allow')).toMatch(/\bGET\b/);
      await expectError(res, 405);
    });
    it.each([`/v2/models/${MODEL}/infer`, `/v2/models/${MODEL}/versions/${VERSION}/infer`])('GET %s', async (path) => {
      const res = await get(path, { headers: target().auth });
      expect(res.headers.get('allow')).toBe('POST');
      await expectError(res, 405);
    });
  });

  describe('Inference (JSON)', () => {
    // "Inference Request JSON Object", "Request Input", "Request Output", "Parameters".
    const request = (extra: Record<string, unknown> = {}, data: unknown = rows()) =>
      JSON.stringify({
        id: '42',
        parameters: { note: 'conformance', level: 3, strict: true },
        inputs: [{ name: 'x', shape: [2, 256], datatype: 'FP32', data }],
        ...extra,
      });

    it('POST v2/models/<name>/infer answers 200 with $inference_response: the id echoed, only the requested outputs', async () => {
      const res = await infer(`/v2/models/${MODEL}/infer`, request({ outputs: [{ name: 'probabilities' }] }));
      expect(res.status).toBe(200);
      const body = inferenceResponse.parse(await res.json());
      expect(body.model_name).toBe(MODEL);
      // "id": if specified, this identifier must be returned in the response.
      expect(body.id).toBe('42');
      expect(body.outputs.map((o) => o.name)).toEqual(['probabilities']);
      const [probabilities] = body.outputs;
      expect(probabilities).toMatchObject({ shape: [2, 10], datatype: 'FP32' });
      expect(flatten(probabilities!.data)).toHaveLength(20);
    });

    it('without "outputs", returns every output; the versioned path names its model_version', async () => {
      const res = await infer(`/v2/models/${MODEL}/versions/${VERSION}/infer`, request());
      expect(res.status).toBe(200);
      const body = inferenceResponse.parse(await res.json());
      expect(body.model_version).toBe(VERSION);
      expect(body.outputs.map((o) => o.name).sort()).toEqual(['logits', 'probabilities']);
      for (const output of body.outputs) expect(flatten(output.data)).toHaveLength(output.shape.reduce((a, b) => a * b, 1));
    });

    it('"Tensor Data": nested data (the natural form) answers as the flat form does', async () => {
      const flat = rows();
      const nested = [flat.slice(0, 256), flat.slice(256)];
      const [a, b] = await Promise.all(
        [flat, nested].map(async (data) => {
          const res = await infer(`/v2/models/${MODEL}/versions/${VERSION}/infer`, request({ outputs: [{ name: 'logits' }] }, data));
          expect(res.status).toBe(200);
          return flatten(inferenceResponse.parse(await res.json()).outputs[0]!.data);
        }),
      );
      expect(b).toEqual(a);
    });

    it('a failed inference request has an HTTP error status and $inference_error_response', async () => {
      const path = `/v2/models/${MODEL}/infer`;
      await expectError(await infer(path, '{"inputs": ['), 400); // not JSON
      await expectError(await infer(path, JSON.stringify({ inputs: [{ name: 'x', shape: [2, 3], datatype: 'FP32', data: [1, 2, 3, 4, 5, 6] }] })), 400);
      await expectError(await infer(path, JSON.stringify({ inputs: [{ name: 'x', shape: [1, 256], datatype: 'FP32', data: [1] }] })), 400);
      await expectError(await infer(path, request({ outputs: [{ name: 'no-such-output' }] })), 400);
      const unknown = await expectError(await infer('/v2/models/no-such-model/infer', request()), 404);
      expect(unknown.code).toBe('model_not_found');
    });
  });

  describe('Binary Tensor Data Extension', () => {
    /** A request with `x` as binary data after the JSON object ("Binary Tensor Request"). */
    function binaryRequest(
      outputs: unknown[] | undefined,
      requestParameters: Record<string, unknown> = {},
    ): { body: Uint8Array<ArrayBuffer>; headers: Record<string, string> } {
      const values = new Float32Array(rows());
      const json = new TextEncoder().encode(
        JSON.stringify({
          id: 'bin-1',
          parameters: requestParameters,
          inputs: [{ name: 'x', shape: [2, 256], datatype: 'FP32', parameters: { binary_data_size: values.byteLength } }],
          ...(outputs ? { outputs } : {}),
        }),
      );
      const body = new Uint8Array(json.length + values.byteLength);
      body.set(json);
      // Little-endian, row major, no padding.
      const view = new DataView(body.buffer, json.length);
      values.forEach((v, i) => view.setFloat32(i * 4, v, true));
      return { body, headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(json.length) } };
    }

    /** Splits a response into its JSON object and its outputs' values, binary or JSON. */
    async function readResponse(res: Response): Promise<{ json: unknown; values: Map<string, number[]>; binary: Set<string> }> {
      const bytes = new Uint8Array(await res.arrayBuffer());
      const header = res.headers.get('inference-header-content-length');
      const length = header === null ? bytes.length : Number(header);
      expect(Number.isInteger(length) && length <= bytes.length).toBe(true);
      const json = JSON.parse(new TextDecoder().decode(bytes.subarray(0, length))) as {
        outputs: { name: string; data?: unknown[]; parameters?: { binary_data_size?: number } }[];
      };
      const values = new Map<string, number[]>();
      const binary = new Set<string>();
      let offset = length;
      for (const output of json.outputs) {
        const size = output.parameters?.binary_data_size;
        if (size === undefined) {
          values.set(output.name, flatten(responseOutput.parse(output).data));
          continue;
        }
        binaryResponseOutput.parse(output);
        binary.add(output.name);
        const view = new DataView(bytes.buffer, bytes.byteOffset + offset, size);
        values.set(
          output.name,
          Array.from({ length: size / 4 }, (_, i) => view.getFloat32(i * 4, true)),
        );
        offset += size;
      }
      // The binary data of the outputs, in order, fill the rest of the body exactly.
      expect(offset).toBe(bytes.length);
      return { json, values, binary };
    }

    it('takes binary inputs and, with binary_data_output, answers every output as binary data after the JSON object', async () => {
      const { body, headers } = binaryRequest(undefined, { binary_data_output: true });
      const res = await infer(`/v2/models/${MODEL}/versions/${VERSION}/infer`, body, headers);
      expect(res.status).toBe(200);
      // "Inference-Header-Content-Length" gives the JSON object's size; binary data follows it.
      expect(res.headers.get('inference-header-content-length')).toMatch(/^\d+$/);
      const { json, values, binary } = await readResponse(res);
      expect(json).toMatchObject({ model_name: MODEL, id: 'bin-1' });
      expect([...binary].sort()).toEqual(['logits', 'probabilities']);
      expect(values.get('probabilities')).toHaveLength(20);

      // The same numbers as the JSON answer for the same inputs.
      const plain = await infer(
        `/v2/models/${MODEL}/versions/${VERSION}/infer`,
        JSON.stringify({ inputs: [{ name: 'x', shape: [2, 256], datatype: 'FP32', data: Array.from(new Float32Array(rows())) }] }),
      );
      const fromJson = flatten(inferenceResponse.parse(await plain.json()).outputs.find((o) => o.name === 'probabilities')!.data);
      values.get('probabilities')!.forEach((v, i) => expect(v).toBeCloseTo(fromJson[i]!, 6));
    });

    it('answers as binary only the outputs asked for with binary_data: true', async () => {
      const { body, headers } = binaryRequest([{ name: 'probabilities', parameters: { binary_data: true } }, { name: 'logits' }]);
      const res = await infer(`/v2/models/${MODEL}/infer`, body, headers);
      expect(res.status).toBe(200);
      const { values, binary } = await readResponse(res);
      expect([...binary]).toEqual(['probabilities']);
      expect(values.get('logits')).toHaveLength(20);
    });

    it('answers JSON when no output asks for binary data, with no Inference-Header-Content-Length', async () => {
      const { body, headers } = binaryRequest(undefined);
      const res = await infer(`/v2/models/${MODEL}/infer`, body, headers);
      expect(res.status).toBe(200);
      expect(res.headers.get('inference-header-content-length')).toBeNull();
      inferenceResponse.parse(await res.json());
    });

    it('refuses binary data that disagrees with its binary_data_size, with an error object', async () => {
      const { body, headers } = binaryRequest(undefined);
      await expectError(await infer(`/v2/models/${MODEL}/infer`, body.subarray(0, body.length - 4), headers), 400);
      await expectError(await infer(`/v2/models/${MODEL}/infer`, body, { ...headers, 'inference-header-content-length': String(body.length + 1) }), 400);
    });
  });
});
