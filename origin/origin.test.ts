/**
 * The origin against its real neighbours: models built by models/, onnxruntime-node, real sockets.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeInferRequest, INFERENCE_HEADER_CONTENT_LENGTH, type InferRequest } from '../protocol/oip-codec.ts';
import type { Manifest } from '../protocol/manifest.ts';
import { ADMIN_TOKEN, copyVersion, INFER_TOKEN, infer, randomFloats, signedRepository, startTestOrigin, type TestRepository } from './test-support.ts';
import type { RunningOrigin } from './server.ts';

const MODELS = ['mlp-classifier', 'shapes-cnn', 'large-classifier'];

function inputFor(manifest: Manifest, rows: number, seed: number): InferRequest {
  const variant = manifest.variants.find((v) => v.tier === 'origin')!;
  return {
    inputs: variant.inputs.map((spec) => {
      const dims = spec.shape.map((d) => (typeof d === 'number' ? d : rows));
      return {
        name: spec.name,
        dtype: 'float32' as const,
        dims,
        data: randomFloats(
          dims.reduce((a, b) => a * b, 1),
          seed,
        ),
      };
    }),
  };
}

async function directRun(repo: TestRepository, manifest: Manifest, request: InferRequest): Promise<Float32Array> {
  const variant = manifest.variants.find((v) => v.tier === 'origin')!;
  const session = await ort.InferenceSession.create(join(repo.repository, manifest.id, manifest.version, variant.artifact.path));
  try {
    const feeds: Record<string, ort.Tensor> = {};
    for (const t of request.inputs) feeds[t.name] = new ort.Tensor('float32', t.data as Float32Array, t.dims);
    const out = await session.run(feeds);
    return out[variant.outputs[0]!.name]!.data as Float32Array;
  } finally {
    await session.release();
  }
}

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance = 1e-4): void {
  expect(actual.length).toBe(expected.length);
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    worst = Math.max(worst, Math.abs(actual[i]! - expected[i]!) / Math.max(1, Math.abs(expected[i]!)));
  }
  expect(worst).toBeLessThanOrEqual(tolerance);
}

async function manifestOf(origin: RunningOrigin, id: string): Promise<Manifest> {
  return origin.registry.resolve(id).manifest;
}

async function metricsText(origin: RunningOrigin): Promise<string> {
  return (await fetch(`${origin.url}/metrics`)).text();
}

describe('origin serving real models', () => {
  let repo: TestRepository;
  let origin: RunningOrigin;
  let lines: Record<string, unknown>[];

  beforeAll(async () => {
    repo = await signedRepository(MODELS);
    ({ origin, lines } = await startTestOrigin(repo, {
      maxBodyBytes: 8 * 1024 * 1024,
      batching: { maxBatchSize: 32, maxQueueDelayMs: 5, maxQueueRows: 1024, concurrency: 1, dispatch: 'eager' },
    }));
  });
  afterAll(async () => {
    await origin?.shutdown();
    await repo?.cleanup();
  });

  it('is live and ready, and describes itself and its models in OIP v2 form', async () => {
    expect(await (await fetch(`${origin.url}/v2/health/live`)).json()).toEqual({ live: true });
    const ready: any = await (await fetch(`${origin.url}/v2/health/ready`)).json();
    expect(ready).toMatchObject({ ready: true, refused: [] });
    expect(ready.models.map((m: { name: string }) => m.name).sort()).toEqual([...MODELS].sort());
    expect(await (await fetch(`${origin.url}/v2`)).json()).toMatchObject({ name: 'tandem-origin', extensions: expect.arrayContaining(['binary_tensor_data']) });
    const meta = await (await fetch(`${origin.url}/v2/models/mlp-classifier`)).json();
    expect(meta).toMatchObject({
      name: 'mlp-classifier',
      versions: ['1.0.0'],
      platform: 'onnxruntime_onnx',
      inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 256] }],
    });
    expect((await fetch(`${origin.url}/v2/models/mlp-classifier/versions/1.0.0/ready`)).status).toBe(200);
    expect((await fetch(`${origin.url}/v2/models/nope/ready`)).status).toBe(404);
  });

  it.each(
    MODELS.flatMap((m) => [
      [m, 'JSON'],
      [m, 'binary'],
    ]),
  )('%s over %s matches onnxruntime-node run directly', async (id, form) => {
    const manifest = await manifestOf(origin, id);
    const request = inputFor(manifest, 3, 7);
    const result = await infer(origin.url, id, request, { binary: form === 'binary' });
    if (!result.ok) throw result.error;
    expect(result.response).toMatchObject({ modelName: id, modelVersion: '1.0.0' });
    expect(result.res.headers.get(INFERENCE_HEADER_CONTENT_LENGTH) !== null).toBe(form === 'binary');
    const logits = result.response.outputs[0]!;
    expect(logits.dims[0]).toBe(3);
    expectClose(logits.data as Float32Array, await directRun(repo, manifest, request));
  });

  it('merges concurrent requests into batches > 1 and gives each caller its own rows', async () => {
    // Its own origin, whose batches wait for the 48 rows (or 10 s): however slowly a loaded machine sends
    // the requests, they meet in batches, so the count below does not depend on timing.
    const { origin: batching } = await startTestOrigin(repo, {
      batching: { maxBatchSize: 48, maxQueueDelayMs: 10_000, maxQueueRows: 1024, concurrency: 1, dispatch: 'delay' },
    });
    try {
      const manifest = await manifestOf(batching, 'mlp-classifier');
      const before = batchCounts(await metricsText(batching), 'mlp-classifier');
      const requests = Array.from({ length: 48 }, (_, i) => inputFor(manifest, 1, 100 + i));
      const results = await Promise.all(requests.map((r) => infer(batching.url, 'mlp-classifier', r, { binary: true })));
      const expected = await directRun(repo, manifest, {
        inputs: [{ name: 'x', dtype: 'float32', dims: [48, 256], data: Float32Array.from(requests.flatMap((r) => [...(r.inputs[0]!.data as Float32Array)])) }],
      });
      results.forEach((result, i) => {
        if (!result.ok) throw result.error;
        expectClose(result.response.outputs[0]!.data as Float32Array, expected.subarray(i * 10, (i + 1) * 10));
      });
      const after = batchCounts(await metricsText(batching), 'mlp-classifier');
      const batches = after.count - before.count;
      expect(after.sum - before.sum).toBe(48);
      expect(batches).toBe(1); // one batch of all 48 requests, each caller given its own row
    } finally {
      await batching.shutdown();
    }
  });

  describe('bad input gets its code and the server keeps serving', () => {
    const good = (): InferRequest => ({ inputs: [{ name: 'x', dtype: 'float32', dims: [1, 256], data: randomFloats(256, 1) }] });
    const raw = (body: string | Uint8Array, headers: Record<string, string> = {}) =>
      fetch(`${origin.url}/v2/models/mlp-classifier/infer`, {
        method: 'POST',
        body,
        headers: { authorization: `Bearer ${INFER_TOKEN}`, 'content-type': 'application/json', ...headers },
      });
    const cases: [string, () => Promise<Response>, number, string][] = [
      ['malformed JSON', () => raw('{"inputs": ['), 400, 'bad_request'],
      ['a header length past the body', () => raw('{"inputs":[]}', { [INFERENCE_HEADER_CONTENT_LENGTH]: '999' }), 400, 'bad_request'],
      ['a non-numeric header length', () => raw('{"inputs":[]}', { [INFERENCE_HEADER_CONTENT_LENGTH]: 'ten' }), 400, 'bad_request'],
      ['data not matching the shape', () => raw('{"inputs":[{"name":"x","shape":[1,256],"datatype":"FP32","data":[1,2]}]}'), 400, 'tensor_invalid'],
      [
        'the wrong dtype',
        () => raw(JSON.stringify({ inputs: [{ name: 'x', shape: [1, 256], datatype: 'FP64', data: new Array(256).fill(0) }] })),
        400,
        'input_dtype_mismatch',
      ],
      [
        'the wrong shape',
        () => raw(JSON.stringify({ inputs: [{ name: 'x', shape: [1, 255], datatype: 'FP32', data: new Array(255).fill(0) }] })),
        400,
        'input_shape_mismatch',
      ],
      [
        'an unknown input',
        () => raw(JSON.stringify({ inputs: [{ name: 'y', shape: [1, 256], datatype: 'FP32', data: new Array(256).fill(0) }] })),
        400,
        'input_unknown',
      ],
      ['no inputs', () => raw('{"inputs":[]}'), 400, 'input_missing'],
      ['an unknown requested output', () => raw(JSON.stringify({ ...jsonOf(good()), outputs: [{ name: 'probs' }] })), 400, 'output_unknown'],
      [
        'a NaN input',
        () => {
          const bad = good();
          (bad.inputs[0]!.data as Float32Array)[5] = Number.NaN;
          const encoded = encodeInferRequest(bad, { binary: true });
          return raw(encoded.body, encoded.headers);
        },
        400,
        'input_not_finite',
      ],
      ['a body over the size limit', () => raw(new Uint8Array(9 * 1024 * 1024)), 413, 'payload_too_large'],
      ['a bad timeout header', () => raw(JSON.stringify(jsonOf(good())), { 'x-request-timeout-ms': 'soon' }), 400, 'bad_request'],
      [
        'an unknown model',
        () => fetch(`${origin.url}/v2/models/nope/infer`, { method: 'POST', body: '{}', headers: { authorization: `Bearer ${INFER_TOKEN}` } }),
        404,
        'model_not_found',
      ],
      [
        'an unknown version',
        () =>
          fetch(`${origin.url}/v2/models/mlp-classifier/versions/9.9.9/infer`, {
            method: 'POST',
            body: '{}',
            headers: { authorization: `Bearer ${INFER_TOKEN}` },
          }),
        404,
        'model_not_found',
      ],
    ];
    it.each(cases)('%s', async (_, send, status, code) => {
      const res = await send();
      expect(res.status).toBe(status);
      const body: any = await res.json();
      // OIP's error body: the message string, with Tandem's code beside it and in a header.
      expect(body).toMatchObject({ code, request_id: res.headers.get('x-request-id') });
      expect(res.headers.get('x-tandem-error-code')).toBe(code);
      expect(body.error.length).toBeGreaterThan(0);
      const after = await infer(origin.url, 'mlp-classifier', good());
      expect(after.ok).toBe(true);
    });
  });

  it('requires the inference token, and keeps admin routes to the admin token', async () => {
    const request: InferRequest = { inputs: [{ name: 'x', dtype: 'float32', dims: [1, 256], data: randomFloats(256, 3) }] };
    const missing = await fetch(`${origin.url}/v2/models/mlp-classifier/infer`, { method: 'POST', body: JSON.stringify(jsonOf(request)) });
    expect(missing.status).toBe(401);
    const wrong = await infer(origin.url, 'mlp-classifier', request, { token: 'not-the-token' });
    expect(wrong.ok ? 200 : wrong.error.code).toBe('unauthorized');
    const forbidden = await fetch(`${origin.url}/v2/repository/index`, { method: 'POST', headers: { authorization: `Bearer ${INFER_TOKEN}` } });
    expect(forbidden.status).toBe(403);
    const index = await fetch(`${origin.url}/v2/repository/index`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(index.status).toBe(200);
  });

  it('logs one JSON line per request with its id, model, batch and timings, and never the inputs', async () => {
    const request: InferRequest = { inputs: [{ name: 'x', dtype: 'float32', dims: [1, 256], data: Float32Array.from({ length: 256 }, () => 0.123456) }] };
    const result = await infer(origin.url, 'mlp-classifier', request, { headers: { 'x-request-id': 'trace-abc-1' } });
    expect(result.res.headers.get('x-request-id')).toBe('trace-abc-1');
    const line = lines.find((l) => l.request_id === 'trace-abc-1');
    expect(line).toMatchObject({
      model: 'mlp-classifier',
      version: '1.0.0',
      status: 200,
      batch_size: expect.any(Number),
      queue_ms: expect.any(Number),
      compute_ms: expect.any(Number),
      total_ms: expect.any(Number),
    });
    expect(JSON.stringify(lines)).not.toContain('0.123456');
  });

  it('exports Prometheus metrics, including model-quality signals', async () => {
    const text = await metricsText(origin);
    for (const name of [
      'tandem_origin_requests_total{model="mlp-classifier",version="1.0.0",variant="fp32",status="200",code="ok"}',
      'tandem_origin_request_duration_seconds_bucket',
      'tandem_origin_queue_wait_seconds_bucket',
      'tandem_origin_compute_seconds_bucket',
      'tandem_origin_batch_size_rows_bucket',
      'tandem_origin_queue_depth_rows',
      'tandem_origin_in_flight_requests',
      'tandem_origin_model_load_seconds{model="large-classifier",version="1.0.0"}',
      'tandem_origin_top_class_confidence_bucket',
      'tandem_origin_input_drift{model="mlp-classifier",version="1.0.0",variant="fp32",input="x"}',
    ]) {
      expect(text).toContain(name);
    }
    expect(text).toMatch(
      /tandem_origin_requests_total\{model="mlp-classifier",version="1.0.0",variant="fp32",status="400",code="input_shape_mismatch"\} [1-9]/,
    );
  });
});

describe('origin refuses tampered models at load', () => {
  let repo: TestRepository;
  let origin: RunningOrigin;
  beforeAll(async () => {
    repo = await signedRepository(['mlp-classifier', 'shapes-cnn']);
    const artifact = join(repo.repository, 'mlp-classifier', '1.0.0', 'fp32.onnx');
    const bytes = await readFile(artifact);
    bytes[bytes.length - 5]! ^= 0x01;
    await writeFile(artifact, bytes);
    const envelopePath = join(repo.repository, 'shapes-cnn', '1.0.0', 'manifest.dsse.json');
    const envelope = JSON.parse(await readFile(envelopePath, 'utf8'));
    const manifest = JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8'));
    manifest.description = 'swapped after signing';
    envelope.payload = Buffer.from(JSON.stringify(manifest)).toString('base64');
    await writeFile(envelopePath, JSON.stringify(envelope));
    ({ origin } = await startTestOrigin(repo));
  });
  afterAll(async () => {
    await origin?.shutdown();
    await repo?.cleanup();
  });

  it('reports each refusal with its reason in readiness and never serves it', async () => {
    const res = await fetch(`${origin.url}/v2/health/ready`);
    const body: any = await res.json();
    expect(body.models).toEqual([]);
    expect(body.refused).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: 'mlp-classifier', version: '1.0.0', code: 'artifact_hash_mismatch' }),
        expect.objectContaining({ name: 'shapes-cnn', version: '1.0.0', code: 'manifest_signature_invalid' }),
      ]),
    );
    expect(res.status).toBe(503);
    const result = await infer(origin.url, 'mlp-classifier', { inputs: [{ name: 'x', dtype: 'float32', dims: [1, 256], data: new Float32Array(256) }] });
    expect(result.ok ? 200 : result.error.code).toBe('model_not_ready');
  });
});

describe('origin under overload', () => {
  let repo: TestRepository;
  let origin: RunningOrigin;
  beforeAll(async () => {
    repo = await signedRepository(['mlp-classifier']);
    // Batches wait 200 ms to fill (they never fill: 64 rows), so the queue bound, not compute speed, decides.
    ({ origin } = await startTestOrigin(repo, { batching: { maxBatchSize: 64, maxQueueDelayMs: 200, maxQueueRows: 8, concurrency: 1, dispatch: 'delay' } }));
  });
  afterAll(async () => {
    await origin?.shutdown();
    await repo?.cleanup();
  });

  it('sheds load past the queue bound with 503 + Retry-After, and every admitted request succeeds', async () => {
    const request = (i: number): InferRequest => ({ inputs: [{ name: 'x', dtype: 'float32', dims: [1, 256], data: randomFloats(256, i) }] });
    const results = await Promise.all(Array.from({ length: 64 }, (_, i) => infer(origin.url, 'mlp-classifier', request(i), { binary: true })));
    const shed = results.filter((r) => !r.ok);
    const served = results.filter((r) => r.ok);
    expect(served.length).toBeGreaterThanOrEqual(8);
    expect(shed.length).toBeGreaterThan(0);
    expect(served.length + shed.length).toBe(64);
    for (const r of shed) {
      expect(r.res.status).toBe(503);
      expect(r.ok ? '' : r.error.code).toBe('overloaded');
      expect(r.res.headers.get('retry-after')).toBe('1');
    }
  });
  it('drops the queued work of a client that disconnects, before it costs compute', async () => {
    const rowsBefore = batchCounts(await metricsText(origin), 'mlp-classifier').sum;
    const controller = new AbortController();
    const request: InferRequest = { inputs: [{ name: 'x', dtype: 'float32', dims: [1, 256], data: randomFloats(256, 77) }] };
    const pending = infer(origin.url, 'mlp-classifier', request, { signal: controller.signal }).catch((err: Error) => err);
    await new Promise((resolve) => setTimeout(resolve, 15)); // queued: the batch waits 200 ms to fill
    controller.abort();
    expect(await pending).toBeInstanceOf(Error);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const text = await metricsText(origin);
    expect(text).toMatch(/tandem_origin_requests_total\{model="mlp-classifier",version="1.0.0",variant="fp32",status="499",code="aborted"\} 1/);
    expect(batchCounts(text, 'mlp-classifier').sum).toBe(rowsBefore);
  });
});

describe('origin hot swap', () => {
  let repo: TestRepository;
  let origin: RunningOrigin;
  beforeAll(async () => {
    repo = await signedRepository(['mlp-classifier']);
    ({ origin } = await startTestOrigin(repo, { batching: { maxBatchSize: 16, maxQueueDelayMs: 2, maxQueueRows: 1024, concurrency: 1, dispatch: 'eager' } }));
    // Version 1.1.0 appears in the repository after start, as a deploy would put it there.
    await copyVersion(repo, 'mlp-classifier', '1.0.0', '1.1.0');
  });
  afterAll(async () => {
    await origin?.shutdown();
    await repo?.cleanup();
  });

  it('swaps versions under continuous load with zero failed requests, then retires the old one', async () => {
    const request: InferRequest = { inputs: [{ name: 'x', dtype: 'float32', dims: [2, 256], data: randomFloats(512, 9) }] };
    const versions: string[] = [];
    const failures: string[] = [];
    let running = true;
    const worker = async () => {
      while (running) {
        const result = await infer(origin.url, 'mlp-classifier', request, { binary: true });
        if (result.ok) versions.push(result.response.modelVersion ?? '?');
        else failures.push(`${result.error.code}: ${result.error.message}`);
      }
    };
    const workers = Array.from({ length: 6 }, worker);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const swap = await fetch(`${origin.url}/v2/repository/models/mlp-classifier/load`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ version: '1.1.0' }),
    });
    expect(await swap.json()).toEqual({ name: 'mlp-classifier', version: '1.1.0', previous: '1.0.0' });
    await new Promise((resolve) => setTimeout(resolve, 300));
    running = false;
    await Promise.all(workers);

    expect(failures).toEqual([]);
    expect(versions).toContain('1.0.0');
    expect(versions.at(-1)).toBe('1.1.0');
    const firstNew = versions.indexOf('1.1.0');
    // Once answers come from the new version, none come from the old one (give in-flight ones a little slack).
    expect(versions.slice(firstNew + 12).every((v) => v === '1.1.0')).toBe(true);
    expect((await fetch(`${origin.url}/v2/models/mlp-classifier/versions/1.0.0`)).status).toBe(404);
    const meta: any = await (await fetch(`${origin.url}/v2/models/mlp-classifier`)).json();
    expect(meta.versions).toEqual(['1.1.0']);
  });
});

function jsonOf(request: InferRequest): Record<string, unknown> {
  return JSON.parse(new TextDecoder().decode(encodeInferRequest(request).body));
}

/** Sum and count of the batch-size histogram for a model, from Prometheus text. */
function batchCounts(text: string, model: string): { sum: number; count: number } {
  const read = (suffix: string) => {
    const line = text.split('\n').find((l) => l.startsWith(`tandem_origin_batch_size_rows_${suffix}{model="${model}"`));
    return line ? Number(line.split(' ').at(-1)) : 0;
  };
  return { sum: read('sum'), count: read('count') };
}
