/**
 * The origin's HTTP surface against the attacks of issue 18, each kept as it was found: a real origin on
 * a real socket, serving mlp-classifier, and after every attack still serving.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InferRequest } from '../protocol/oip-codec.ts';
import { createOriginApp } from './app.ts';
import { createOriginMetrics } from './metrics.ts';
import type { RunningOrigin } from './server.ts';
import {
  ADMIN_TOKEN,
  collectingLogger,
  copyVersion,
  INFER_TOKEN,
  infer,
  randomFloats,
  signedRepository,
  startTestOrigin,
  testConfig,
  type TestRepository,
} from './test-support.ts';

const MODEL = 'mlp-classifier';
const good = (rows = 1): InferRequest => ({ inputs: [{ name: 'x', dtype: 'float32', dims: [rows, 256], data: randomFloats(rows * 256, rows) }] });
const zeros = (rows: number) => `[${new Array(rows * 256).fill(0).join(',')}]`;

describe('origin under attack', () => {
  let repo: TestRepository;
  let origin: RunningOrigin;
  let lines: Record<string, unknown>[];

  beforeAll(async () => {
    repo = await signedRepository([MODEL]);
    ({ origin, lines } = await startTestOrigin(repo, {
      batching: { maxBatchSize: 32, maxQueueDelayMs: 2, maxQueueRows: 64, concurrency: 1, dispatch: 'eager' },
    }));
  });
  afterAll(async () => {
    await origin?.shutdown();
    await repo?.cleanup();
  });

  const post = (path: string, body: string, token = INFER_TOKEN) =>
    fetch(`${origin.url}${path}`, { method: 'POST', body, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' } });
  const stillServes = async () => expect((await infer(origin.url, MODEL, good())).ok).toBe(true);

  it('refuses tensor parameters nested 5 000 deep with 400, and keeps serving', async () => {
    // Found: the post to the session thread overflowed its stack; the caller got 500 `internal` and the
    // session kept a pending entry (and ~315 KiB) per request.
    const deep = `${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}`;
    for (let i = 0; i < 3; i++) {
      const res = await post(
        `/v2/models/${MODEL}/infer`,
        `{"inputs":[{"name":"x","shape":[1,256],"datatype":"FP32","data":${zeros(1)},"parameters":${deep}}]}`,
      );
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ code: 'bad_request', error: expect.stringContaining('nested deeper') });
    }
    await stillServes();
  });

  it('serves tensors whose parameters are within bounds, without passing them to onnxruntime', async () => {
    const res = await post(
      `/v2/models/${MODEL}/infer`,
      `{"inputs":[{"name":"x","shape":[1,256],"datatype":"FP32","data":${zeros(1)},"parameters":{"a":{"b":[1,2,{"c":"d"}]}}}]}`,
    );
    expect(res.status).toBe(200);
  });

  it('answers a version that is not a semantic version with 404 model_not_found, never echoing it', async () => {
    for (const version of ['1.0.0%0Ax-evil:%201', '1.0.0%00', '..%2F..%2Fetc', '1.0.0%0D%0A', 'latest']) {
      for (const [method, path] of [
        ['GET', `/v2/models/${MODEL}/versions/${version}`],
        ['GET', `/v2/models/${MODEL}/versions/${version}/ready`],
        ['POST', `/v2/models/${MODEL}/versions/${version}/infer`],
      ] as const) {
        const res = await fetch(`${origin.url}${path}`, {
          method,
          headers: { authorization: `Bearer ${INFER_TOKEN}` },
          ...(method === 'POST' ? { body: '{}' } : {}),
        });
        const text = await res.text();
        expect(res.status, `${method} ${path}`).toBe(404);
        expect(JSON.parse(text).code).toBe('model_not_found');
        expect(text).not.toMatch(/evil|\\u0000|\\n|\\r|etc|latest/);
        expect(res.headers.get('x-model-version')).toBeNull();
      }
    }
    const name = await fetch(`${origin.url}/v2/models/MLP%0Aclassifier`);
    expect(name.status).toBe(404);
    expect(await name.text()).not.toContain('MLP');
  });

  it('refuses repository loads of anything but a version folder of the repository, and shows no absolute path', async () => {
    // Found: `load` read paths outside the repository, answered 500 with absolute paths, and the public
    // readiness page then listed them.
    const load = (name: string, body: unknown) => post(`/v2/repository/models/${name}/load`, JSON.stringify(body), ADMIN_TOKEN);
    const attacks: [string, unknown][] = [
      [MODEL, { version: '../../../../etc' }],
      [MODEL, { version: '/etc/passwd' }],
      [MODEL, { version: '9.9.9' }], // well-formed, but no such folder
      ['..%2F..%2Ftmp', { version: '1.0.0' }], // a bare ".." segment never gets here: URLs are normalized first
      ['nope', { version: '1.0.0' }],
      [MODEL, { parameters: { version: '1.0.0\n' } }],
    ];
    for (const [name, body] of attacks) {
      const res = await load(name, body);
      const text = await res.text();
      expect(res.status, `${name} ${JSON.stringify(body)}`).toBe(404);
      expect(JSON.parse(text).code).toBe('model_not_found');
      expect(text).not.toContain(repo.repository);
      expect(text).not.toMatch(/"\/|\s\/[a-z]/);
    }
    // A real version folder whose artifact is missing: refused with its reason, relative to the repository.
    await copyVersion(repo, MODEL, '1.0.0', '1.2.0');
    await writeFile(join(repo.repository, MODEL, '1.2.0', 'fp32.onnx'), 'not the model');
    const refused = await load(MODEL, { version: '1.2.0' });
    const refusedText = await refused.text();
    expect(refused.status).toBe(422);
    expect(refusedText).toContain(`${MODEL}/1.2.0/fp32.onnx`);
    expect(refusedText).not.toContain(repo.repository);

    const ready = await (await fetch(`${origin.url}/v2/health/ready`)).text();
    const index = await (await post('/v2/repository/index', '', ADMIN_TOKEN)).text();
    for (const page of [ready, index]) {
      expect(page).not.toContain(repo.repository);
      expect(page).not.toMatch(/etc|passwd|9\.9\.9|\.\./);
    }
    expect(JSON.parse(ready).refused).toEqual([expect.objectContaining({ name: MODEL, version: '1.2.0', code: 'artifact_hash_mismatch' })]);
    await stillServes();
  });

  it('hides the details of internal errors and any absolute path in error messages', async () => {
    await mkdir(join(repo.repository, MODEL, '1.3.0'));
    await writeFile(join(repo.repository, MODEL, '1.3.0', 'manifest.dsse.json'), '{not json');
    const res = await post(`/v2/repository/models/${MODEL}/load`, '{"version":"1.3.0"}', ADMIN_TOKEN);
    const text = await res.text();
    expect(res.status).toBe(400);
    expect(JSON.parse(text).error).toBe(`${MODEL}/1.3.0/manifest.dsse.json is not valid JSON`);

    // A bug (anything not a TandemError) is logged in full and answered without its details.
    const { logger, lines } = collectingLogger();
    const registry = {
      resolve: () => {
        throw new Error(`ENOENT: no such file or directory, open '${repo.repository}/secret'`);
      },
    } as unknown as RunningOrigin['registry'];
    const app = createOriginApp({
      config: testConfig(repo),
      registry,
      metrics: createOriginMetrics({ processMetrics: false }),
      logger,
      state: { draining: false },
    });
    const bug = await app.request(`/v2/models/${MODEL}`, { headers: { 'x-request-id': 'trace-bug' } });
    expect(bug.status).toBe(500);
    expect(await bug.json()).toEqual({ error: 'internal error', code: 'internal', request_id: 'trace-bug' });
    expect(lines).toContainEqual(expect.objectContaining({ request_id: 'trace-bug', code: 'internal', err: expect.stringContaining('ENOENT') }));
  });

  it('requires a token for server and model metadata when observability is closed', async () => {
    // Found: metadata answered without a token even with TANDEM_OPEN_OBSERVABILITY=false.
    const config = { ...testConfig(repo), openObservability: false };
    const app = createOriginApp({
      config,
      registry: origin.registry,
      metrics: createOriginMetrics({ processMetrics: false }),
      logger: collectingLogger().logger,
      state: { draining: false },
    });
    for (const path of ['/v2', `/v2/models/${MODEL}`, `/v2/models/${MODEL}/versions/1.0.0`, `/v2/models/${MODEL}/ready`, '/v2/health/ready', '/metrics']) {
      expect((await app.request(path)).status, path).toBe(401);
      expect((await app.request(path, { headers: { authorization: `Bearer ${INFER_TOKEN}` } })).status, path).toBe(200);
    }
  });

  it('returns x-request-id on 404s, as on every other answer', async () => {
    // Found: origin 404s lacked x-request-id.
    const res = await fetch(`${origin.url}/nowhere`, { headers: { 'x-request-id': 'trace-404' } });
    expect(res.status).toBe(404);
    expect(res.headers.get('x-request-id')).toBe('trace-404');
    expect(await res.json()).toMatchObject({ code: 'not_found', request_id: 'trace-404' });
  });

  it('answers a wrong method with 405 method_not_allowed and Allow', async () => {
    // Found: a wrong method got 404 `not_found`, as if the path did not exist.
    const cases: [string, string, string][] = [
      ['GET', `/v2/models/${MODEL}/infer`, 'POST'],
      ['PUT', `/v2/models/${MODEL}/versions/1.0.0/infer`, 'POST'],
      ['DELETE', '/v2/health/ready', 'GET, HEAD'],
      ['POST', `/v2/models/${MODEL}`, 'GET, HEAD'],
      ['GET', '/v2/repository/index', 'POST'],
    ];
    for (const [method, path, allow] of cases) {
      const res = await fetch(`${origin.url}${path}`, { method, headers: { 'x-request-id': 'trace-405' } });
      expect(res.status, `${method} ${path}`).toBe(405);
      expect(res.headers.get('allow')).toBe(allow);
      expect(await res.json()).toMatchObject({ code: 'method_not_allowed', request_id: 'trace-405' });
    }
    expect((await fetch(`${origin.url}/v2/health/live`, { method: 'HEAD' })).status).toBe(200);
  });

  it('answers malformed HTTP with the documented error body, not an empty 400 or 431', async () => {
    // Found: Node's parser and @hono/node-server answered these with an empty 400 (or 431).
    const requests = [
      'GET /v2/health/live HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n', // a header without a colon
      'GET /v2/health/live HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n', // two lengths
      `GET /v2/health/live HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, // headers over 16 KiB
      'GET /v2/health/live HTTP/1.1\r\n\r\n', // no Host header
      'GET /v2\\health HTTP/1.1\r\nHost: x\r\n\r\n', // a backslash in the path
      'GET /v2/health/live HTTP/1.1\r\nHost: a b\r\n\r\n', // an invalid Host
    ];
    for (const request of requests) {
      const answer = await rawExchange(origin.port, request);
      const [head, body] = answer.split('\r\n\r\n', 2) as [string, string];
      expect(head, JSON.stringify(request.slice(0, 60))).toMatch(/^HTTP\/1\.1 400 /);
      expect(head.toLowerCase()).toContain('content-type: application/json');
      const requestId = /x-request-id: ([\w-]+)/i.exec(head)?.[1];
      expect(requestId).toBeDefined();
      expect(JSON.parse(body)).toMatchObject({ code: 'bad_request', request_id: requestId, error: expect.any(String) });
    }
    await stillServes();
  });

  it('answers an Expect it cannot meet with 417 expectation_failed and the documented body, not a bare 417', async () => {
    // Found: Node answered `Expect: 200-ok` itself, with an empty body, no code header and no request id.
    const answer = await rawExchange(origin.port, 'GET /v2/health/live HTTP/1.1\r\nHost: x\r\nExpect: 200-ok\r\nx-request-id: trace-417\r\n\r\n');
    const [head, body] = answer.split('\r\n\r\n', 2) as [string, string];
    expect(head).toMatch(/^HTTP\/1\.1 417 /);
    expect(head.toLowerCase()).toContain('x-tandem-error-code: expectation_failed');
    expect(head.toLowerCase()).toContain('x-request-id: trace-417');
    expect(JSON.parse(body)).toEqual({ error: expect.stringContaining('100-continue'), code: 'expectation_failed', request_id: 'trace-417' });
    // 100-continue is still met as Node meets it.
    const met = await rawExchange(origin.port, 'GET /v2/health/live HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n');
    expect(met).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 /);
    await stillServes();
  });

  it('counts a client that disconnects during its upload as aborted, not as an internal failure', async () => {
    // Found: Node's `aborted` stream error became 500 `internal`, logged at error level and counted as one.
    const socket = connect(origin.port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write(
      `POST /v2/models/${MODEL}/infer HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${INFER_TOKEN}\r\n` +
        'Content-Type: application/json\r\nContent-Length: 1000\r\nx-request-id: trace-gone\r\n\r\n{"inputs":',
    );
    await new Promise((resolve) => setTimeout(resolve, 50));
    socket.destroy();
    await expect.poll(() => lines.find((line) => line.request_id === 'trace-gone' && 'status' in line)).toMatchObject({ status: 499, code: 'aborted' });
    expect(lines.filter((line) => line.request_id === 'trace-gone' && Number(line.level) >= 50)).toEqual([]);
    const metrics = await (await fetch(`${origin.url}/metrics`)).text();
    expect(metrics).toMatch(/tandem_origin_requests_total\{[^}]*model="mlp-classifier"[^}]*status="499",code="aborted"\} 1/);
    expect(metrics).not.toMatch(/tandem_origin_requests_total\{[^}]*code="internal"/);
    await stillServes();
  });

  it('answers an output asked for with classification = k with its top k classes, labelled, as Triton does', async () => {
    // Found: the parameter was accepted and ignored, and the raw logits came back.
    const request = { ...good(2), outputs: [{ name: 'logits', parameters: { classification: 3 } }, { name: 'probabilities' }] };
    const raw = await infer(origin.url, MODEL, { ...good(2), outputs: [{ name: 'logits' }] });
    for (const binary of [false, true]) {
      const result = await infer(origin.url, MODEL, request, { binary });
      if (!result.ok || !raw.ok) throw new Error('inference failed');
      const [classes, probabilities] = result.response.outputs;
      expect(classes).toMatchObject({ name: 'logits', dtype: 'string', dims: [2, 3] });
      expect(probabilities).toMatchObject({ name: 'probabilities', dtype: 'float32', dims: [2, 10] });
      const logits = raw.response.outputs[0]!.data as Float32Array;
      for (let row = 0; row < 2; row++) {
        const scores = Array.from(logits.subarray(row * 10, row * 10 + 10));
        const top = scores
          .map((v, i) => [v, i] as const)
          .sort((a, b) => b[0] - a[0])
          .slice(0, 3);
        expect((classes!.data as string[]).slice(row * 3, row * 3 + 3)).toEqual(top.map(([v, i]) => `${v.toFixed(6)}:${i}:class-${i}`));
      }
    }
    const res = await post(
      `/v2/models/${MODEL}/infer`,
      JSON.stringify({
        inputs: [{ name: 'x', shape: [1, 256], datatype: 'FP32', data: JSON.parse(zeros(1)) }],
        outputs: [{ name: 'logits', parameters: { classification: 0 } }],
      }),
    );
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ code: 'bad_request', error: expect.stringContaining('parameters.classification') });
  });

  it('refuses more rows than maxQueueRows with a 413 that is the same whether or not the queue is busy', async () => {
    // Found: such a request ran when the queue happened to be empty and got a retryable 503 otherwise.
    const lone = await infer(origin.url, MODEL, good(65));
    const busy = await Promise.all([...Array.from({ length: 8 }, () => infer(origin.url, MODEL, good(8))), infer(origin.url, MODEL, good(65))]);
    for (const result of [lone, busy.at(-1)!]) {
      expect(result.res.status).toBe(413);
      expect(result.ok ? '' : result.error.code).toBe('payload_too_large');
      expect(result.res.headers.get('retry-after')).toBeNull();
    }
    expect((await infer(origin.url, MODEL, good(64))).ok).toBe(true);
  });
});

/** Writes raw bytes to the server and reads its whole answer (it closes the connection after an error). */
function rawExchange(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (answer += chunk));
    socket.on('end', () => resolve(answer));
    socket.on('error', reject);
    socket.setTimeout(5000, () => socket.destroy(new Error(`no answer; got ${JSON.stringify(answer)}`)));
    socket.write(request);
  });
}
