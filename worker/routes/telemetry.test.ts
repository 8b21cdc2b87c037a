/**
 * The telemetry route in workerd: who may send, what it refuses, what it counts and exposes, what it writes
 * to Analytics Engine; and the trace the edge continues from the SDK and forwards to the origin.
 */
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { DeviceRunRecord } from '../../protocol/device-telemetry.ts';
import { parseErrorBody } from '../../protocol/errors.ts';
import { parseTraceparent } from '../../protocol/traceparent.ts';
import { createApp } from '../app.ts';
import { hashApiKey } from '../auth/api-keys.ts';
import { apiKeysVar, fetchApp, KEYS, testEnv } from '../test-support.ts';

const lines: Record<string, unknown>[] = [];
const app = createApp({ log: { write: (line) => void lines.push(JSON.parse(line)) } });
let vars: Env;

const record = (change: Partial<DeviceRunRecord> = {}): DeviceRunRecord => ({
  model: 'tele-model',
  version: '1.0.0',
  variant: 'int8',
  backend: 'wasm',
  latency_ms: 4,
  outcome: 'ok',
  fallback: false,
  confidence_le: 0.9,
  ...change,
});

beforeAll(async () => {
  const keys = JSON.parse(await apiKeysVar()) as unknown[];
  keys.push({ name: 'only-other', sha256: await hashApiKey('key-only-other'), scopes: ['infer'], models: ['other-model'] });
  vars = testEnv({ API_KEYS: JSON.stringify(keys), ORIGINS: 'http://origin.test', ORIGIN_TOKEN: 't', TUNING: JSON.stringify({ readinessTtlMs: 1e9 }) });
});

afterEach(() => vi.restoreAllMocks());

function send(body: unknown, key: string = KEYS.infer, headers: Record<string, string> = {}, env: Env = vars): Promise<Response> {
  return fetchApp(
    app,
    '/v1/telemetry',
    {
      method: 'POST',
      body: typeof body === 'string' ? body : JSON.stringify(body),
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...headers },
    },
    env,
  );
}

async function metrics(key: string = KEYS.admin): Promise<Response> {
  return fetchApp(app, '/v1/edge/metrics', { headers: { authorization: `Bearer ${key}` } }, vars);
}

const code = async (res: Response) => parseErrorBody(res.status, await res.json(), res.headers).code;

describe('POST /v1/telemetry', () => {
  it('counts a batch and exposes it per model, version and variant as Prometheus text', async () => {
    const res = await send({
      records: [
        record(),
        record({ latency_ms: 40, confidence_le: 0.5 }),
        record({ outcome: 'inference_failed', fallback: true }),
        record({ variant: 'fp16', backend: 'webgpu' }),
      ],
      dropped: 3,
    });
    expect(res.status).toBe(204);
    expect(lines.at(-1)).toMatchObject({ route: '/v1/telemetry', status: 204, records: 4, counted: 4, dropped: 3 });
    const text = await (await metrics()).text();
    const labels = 'model="tele-model",version="1.0.0",variant="int8"';
    expect(text).toContain(`tandem_edge_device_runs_total{${labels},backend="wasm",outcome="ok",fallback="false"} 2`);
    expect(text).toContain(`tandem_edge_device_runs_total{${labels},backend="wasm",outcome="inference_failed",fallback="true"} 1`);
    expect(text).toContain('tandem_edge_device_runs_total{model="tele-model",version="1.0.0",variant="fp16",backend="webgpu",outcome="ok",fallback="false"} 1');
    expect(text).toContain(`tandem_edge_device_run_duration_seconds_bucket{${labels},backend="wasm",le="0.005"} 1`);
    expect(text).toContain(`tandem_edge_device_run_duration_seconds_bucket{${labels},backend="wasm",le="0.05"} 2`);
    expect(text).toContain(`tandem_edge_device_run_duration_seconds_count{${labels},backend="wasm"} 2`);
    expect(text).toContain(`tandem_edge_device_top_class_confidence_bucket{${labels},le="0.5"} 1`);
    expect(text).toContain(`tandem_edge_device_top_class_confidence_bucket{${labels},le="+Inf"} 2`);
    expect(text).toMatch(/^tandem_edge_device_telemetry_dropped_records_total [1-9]\d*$/m);
    expect(text).toContain('# TYPE tandem_edge_device_run_duration_seconds histogram');
  });

  it('writes one Analytics Engine data point per record when the dataset is bound', async () => {
    const points: AnalyticsEngineDataPoint[] = [];
    const env = { ...vars, DEVICE_TELEMETRY: { writeDataPoint: (p?: AnalyticsEngineDataPoint) => void points.push(p!) } } as Env;
    expect(
      (await send({ records: [record(), record({ outcome: 'aborted', confidence_le: undefined } as never)], dropped: 2 }, KEYS.infer, {}, env)).status,
    ).toBe(204);
    expect(points).toEqual([
      { indexes: ['tele-model'], blobs: ['tele-model', '1.0.0', 'int8', 'wasm', 'ok', 'false'], doubles: [0.004, 0.9] },
      { indexes: ['tele-model'], blobs: ['tele-model', '1.0.0', 'int8', 'wasm', 'aborted', 'false'], doubles: [0.004, -1] },
      { indexes: ['_dropped'], blobs: ['_dropped'], doubles: [2] },
    ]);
  });

  it('authenticates as inference does: a key, the infer scope, the models the key may use', async () => {
    const none = await fetchApp(app, '/v1/telemetry', { method: 'POST', body: '{"records":[]}', headers: { 'content-type': 'application/json' } }, vars);
    expect([none.status, await code(none)]).toEqual([401, 'unauthorized']);
    const catalog = await send({ records: [] }, KEYS.catalog);
    expect([catalog.status, await code(catalog)]).toEqual([403, 'forbidden']);
    const otherModel = await send({ records: [record()] }, 'key-only-other');
    expect([otherModel.status, await code(otherModel)]).toEqual([403, 'forbidden']);
    expect((await send({ records: [record({ model: 'other-model' })] }, 'key-only-other')).status).toBe(204);
    const notAdmin = await metrics(KEYS.infer);
    expect(notAdmin.status).toBe(403);
  });

  it("rate-limits with the key's bucket", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await send({ records: [] }, KEYS.slow)).status);
    expect(statuses.slice(0, 2)).toEqual([204, 204]);
    expect(statuses).toContain(429);
  });

  it('refuses what is not a well-formed batch, with typed errors', async () => {
    const cases: [Response, number, string][] = [
      [await send('{"records":', KEYS.infer), 400, 'bad_request'],
      [await send({ records: [record({ latency_ms: -1 })] }), 400, 'bad_request'],
      [await send({ records: [{ ...record(), inputs: [1, 2] }] }), 400, 'bad_request'],
      [await send({ records: [] }, KEYS.infer, { 'content-type': 'text/plain' }), 415, 'unsupported_media_type'],
      [await send({ records: Array(400).fill(record()) }), 413, 'payload_too_large'],
    ];
    for (const [res, status, c] of cases) expect([res.status, await code(res)]).toEqual([status, c]);
    const text = await (await send({ records: [record({ model: 'Evil"\nModel' })] })).text();
    expect(text).toContain('records[0].model');
    expect(text).not.toContain('Evil');
  });
});

describe('trace', () => {
  it("continues the SDK's trace with the edge's span, logs it and forwards it to the origin", async () => {
    const forwarded: Headers[] = [];
    vi.spyOn(globalThis, 'fetch').mockImplementation(async (_input, init) => {
      forwarded.push(new Headers(init?.headers));
      return new Response('{"model_name":"m","outputs":[]}', { status: 200, headers: { 'content-type': 'application/json' } });
    });
    const sdk = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const res = await fetchApp(
      app,
      '/v2/models/m/versions/1.0.0/infer',
      { method: 'POST', body: '{}', headers: { authorization: `Bearer ${KEYS.infer}`, traceparent: sdk, 'x-request-id': 'trace-req-1' } },
      vars,
    );
    expect(res.status).toBe(200);
    const toOrigin = forwarded.find((h) => h.get('x-request-id') === 'trace-req-1')!;
    const edgeSpan = parseTraceparent(toOrigin.get('traceparent'))!;
    expect(edgeSpan.traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(edgeSpan.spanId).not.toBe('00f067aa0ba902b7');
    expect(lines.find((l) => l.request_id === 'trace-req-1')).toMatchObject({
      trace_id: '4bf92f3577b34da6a3ce929d0e0e4736',
      span_id: edgeSpan.spanId,
      parent_span_id: '00f067aa0ba902b7',
    });
  });

  it('starts a trace when the caller sent none, or an invalid one', async () => {
    const res = await fetchApp(
      app,
      '/v1/edge/metrics',
      { headers: { authorization: `Bearer ${KEYS.admin}`, traceparent: 'nonsense', 'x-request-id': 'trace-req-2' } },
      vars,
    );
    expect(res.status).toBe(200);
    const line = lines.find((l) => l.request_id === 'trace-req-2')!;
    expect(line.trace_id).toMatch(/^[0-9a-f]{32}$/);
    expect(line.parent_span_id).toBeUndefined();
  });
});
