/**
 * The telemetry route in workerd: who may send, what it refuses, what it counts (only versions the edge
 * serves) and exposes, what it writes to Analytics Engine; that junk names cannot keep a failing canary from
 * its rollback; and the trace the edge continues from the SDK and forwards to the origin.
 */
import { env } from 'cloudflare:workers';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { TELEMETRY_LIMITS, type DeviceRunRecord } from '../../protocol/device-telemetry.ts';
import { parseErrorBody } from '../../protocol/errors.ts';
import { rolloutKey } from '../../protocol/repository-layout.ts';
import { signRollout } from '../../protocol/rollout/rollout-record.ts';
import { parseTraceparent } from '../../protocol/traceparent.ts';
import { createApp } from '../app.ts';
import { hashApiKey } from '../auth/api-keys.ts';
import { servedVersions } from '../telemetry/served-versions.ts';
import { apiKeysVar, fetchApp, KEYS, seedModel, testEnv, type Seeded } from '../test-support.ts';

const lines: Record<string, unknown>[] = [];
const app = createApp({ log: { write: (line) => void lines.push(JSON.parse(line)) } });
let vars: Env;
/** A model with a canary (1.1.0) in a signed rollout record. */
const CANARY = 'tele-canary';
let canary: Seeded;

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
  // Telemetry counts the versions R2 stores.
  await seedModel('tele-model', ['1.0.0']);
  await seedModel('other-model', ['1.0.0']);
  canary = await seedModel(CANARY, ['1.0.0', '1.1.0']);
  servedVersions.reset();
  vars = testEnv({
    API_KEYS: JSON.stringify(keys),
    ORIGINS: 'http://origin.test',
    ORIGIN_TOKEN: 't',
    TRUSTED_KEYS: JSON.stringify([canary.key.publicKey]),
    TUNING: JSON.stringify({ readinessTtlMs: 1e9 }),
  });
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

/** A counter's value in the metrics text. */
async function counterValue(name: string): Promise<number> {
  const match = new RegExp(`^${name} (\\d+)$`, 'm').exec(await (await metrics()).text());
  if (!match) throw new Error(`no ${name} in the metrics`);
  return Number(match[1]);
}

/** The test bucket, counting its `list` calls. */
function countingBucket(): { bucket: R2Bucket; lists: () => number } {
  let lists = 0;
  const bucket = new Proxy(env.MODELS, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        if (prop === 'list') lists++;
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { bucket, lists: () => lists };
}

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

  it('writes one Analytics Engine data point per record of a served version when the dataset is bound', async () => {
    const points: AnalyticsEngineDataPoint[] = [];
    const aeEnv = { ...vars, DEVICE_TELEMETRY: { writeDataPoint: (p?: AnalyticsEngineDataPoint) => void points.push(p!) } } as Env;
    expect(
      (
        await send(
          { records: [record(), record({ outcome: 'aborted', confidence_le: undefined } as never), record({ model: 'nobody-serves' })], dropped: 2 },
          KEYS.infer,
          {},
          aeEnv,
        )
      ).status,
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
      [await send({ records: [], dropped: Number.MAX_SAFE_INTEGER }), 400, 'bad_request'],
    ];
    for (const [res, status, c] of cases) expect([res.status, await code(res)]).toEqual([status, c]);
    // A dropped count no SDK sends would make the running total inexact: refused, naming the field.
    expect(await (await send({ records: [], dropped: TELEMETRY_LIMITS.maxDropped + 1 })).text()).toContain('dropped');
    const text = await (await send({ records: [record({ model: 'Evil"\nModel' })] })).text();
    expect(text).toContain('records[0].model');
    expect(text).not.toContain('Evil');
  });
});

describe('what is counted', () => {
  it('counts records of a model or version the edge does not serve as unknown only, in the metrics and the log line', async () => {
    const before = await counterValue('tandem_edge_device_telemetry_unknown_records_total');
    const res = await send({ records: [record(), record({ version: '9.9.9' }), record({ model: 'nobody-serves' })] });
    expect(res.status).toBe(204);
    expect(lines.at(-1)).toMatchObject({ route: '/v1/telemetry', status: 204, records: 3, counted: 1, unknown: 2 });
    expect(await counterValue('tandem_edge_device_telemetry_unknown_records_total')).toBe(before + 2);
    const text = await (await metrics()).text();
    expect(text).not.toContain('nobody-serves');
    expect(text).not.toContain('9.9.9');
  });

  it('lists the stored versions once per TTL, however many names the batches bring', async () => {
    const { bucket, lists } = countingBucket();
    servedVersions.reset();
    for (let i = 0; i < 4; i++) {
      const res = await send(
        { records: [record(), record({ model: `unlisted-${i}` }), record({ version: `0.0.${i}` })] },
        KEYS.infer,
        {},
        { ...vars, MODELS: bucket },
      );
      expect(res.status).toBe(204);
      expect(lines.at(-1)).toMatchObject({ counted: 1, unknown: 2 });
    }
    expect(lists()).toBe(1); // trustTtlMs is 5 s by default
  });

  it('junk names cannot take the series bound from a failing canary: it is still rolled back by its device runs', async () => {
    vi.spyOn(globalThis, 'fetch').mockRejectedValue(new Error('no origin here')); // readiness checks of the canary
    vi.spyOn(console, 'log').mockImplementation(() => undefined); // rollout_weight_zeroed
    const rollout = {
      _type: 'rollout' as const,
      model: CANARY,
      version: 1,
      expires: new Date(Date.now() + 86_400_000).toISOString(),
      stable: '1.0.0',
      weights: { '1.0.0': 90, '1.1.0': 10 },
      rollback: { maxErrorRate: 0.05, minMedianConfidence: 0, minSamples: 100 },
    };
    await env.MODELS.put(rolloutKey(CANARY), JSON.stringify(await signRollout(rollout, [canary.key])));
    // What anyone holding the (public) browser key can send: 100 variant names of the canary itself (with a
    // caller's error, which the judge ignores), then 600 made-up model versions.
    const junkVariants = Array.from({ length: 100 }, (_, i) =>
      record({ model: CANARY, version: '1.1.0', variant: `junk-${i}`, outcome: 'input_shape_mismatch' }),
    );
    expect((await send({ records: junkVariants })).status).toBe(204);
    for (let n = 0; n < 6; n++) {
      const junk = Array.from({ length: 100 }, (_, i) => record({ model: `junk-${n}`, version: `0.0.${i}`, variant: 'v' }));
      expect((await send({ records: junk })).status).toBe(204);
      expect(lines.at(-1)).toMatchObject({ records: 100, counted: 0, unknown: 100 });
    }
    const failures = Array.from({ length: 100 }, () => record({ model: CANARY, version: '1.1.0', outcome: 'inference_failed', confidence_le: undefined }));
    expect((await send({ records: failures })).status).toBe(204);
    expect(lines.at(-1)).toMatchObject({ records: 100, counted: 100, unknown: 0 });
    const text = await (await metrics()).text();
    expect(text).toContain(`tandem_edge_rollout_rollbacks_total{model="${CANARY}",version="1.1.0"} 1`);
    // The canary's own variant came past its bound of variant names: counted under _other.
    expect(text).toContain(
      `tandem_edge_device_runs_total{model="${CANARY}",version="1.1.0",variant="_other",backend="wasm",outcome="inference_failed",fallback="false"} 100`,
    );
    const status = await fetchApp(app, `/v1/edge/rollout/${CANARY}`, { headers: { authorization: `Bearer ${KEYS.admin}` } }, vars);
    expect(((await status.json()) as { effective: Record<string, number> }).effective).toEqual({ '1.0.0': 100, '1.1.0': 0 });
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
