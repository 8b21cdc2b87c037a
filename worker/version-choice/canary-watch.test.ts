/**
 * Automatic rollback in workerd: device telemetry whose outcomes or confidences cross the signed
 * thresholds zeroes the canary's weight (status route, log line, metric), and every install then gets the
 * stable version from the manifest and inference routes; origin answers the edge proxied count too, and a
 * newer record judges the canary afresh.
 */
import { env } from 'cloudflare:workers';
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { DeviceRunRecord } from '../../protocol/device-telemetry.ts';
import { rolloutKey } from '../../protocol/repository-layout.ts';
import { signRollout, type RolloutRecord } from '../../protocol/rollout/rollout-record.ts';
import { createApp } from '../app.ts';
import { resetRolloutRecords } from '../storage/rollout-records.ts';
import { apiKeysVar, fetchApp, KEYS, seedModel, testEnv, type Seeded } from '../test-support.ts';
import { resetCanaryWatch } from './canary-watch.ts';
import { resetPoolReadiness } from './origin-version-readiness.ts';
import { resetWeightOverrides } from './weight-overrides.ts';

const app = createApp({ log: { write: () => undefined } });
const seeded = new Map<string, Seeded>();
let vars: Env;
const MODELS = ['arb-errors', 'arb-confidence', 'arb-origin'];

function record(model: string, changes: Partial<RolloutRecord> = {}): RolloutRecord {
  return {
    _type: 'rollout',
    model,
    version: 1,
    expires: new Date(Date.now() + 86_400_000).toISOString(),
    stable: '1.0.0',
    weights: { '1.0.0': 50, '1.1.0': 50 },
    rollback: { maxErrorRate: 0.05, minMedianConfidence: 0.5, minSamples: 50 },
    ...changes,
  };
}

async function putRecord(model: string, changes: Partial<RolloutRecord> = {}): Promise<void> {
  await env.MODELS.put(rolloutKey(model), JSON.stringify(await signRollout(record(model, changes), [seeded.get(model)!.key])));
}

/** Origins ready for every version; inference of `failing` versions answers 500 `inference_failed`. */
function origins(failing: string[] = []): void {
  vi.spyOn(globalThis, 'fetch').mockImplementation(async (input) => {
    const url = new URL(String(input instanceof Request ? input.url : input));
    const infer = /\/versions\/([^/]+)\/infer$/.exec(url.pathname);
    if (infer && failing.includes(infer[1]!)) {
      return new Response('{"error":"boom","code":"inference_failed"}', {
        status: 500,
        headers: { 'content-type': 'application/json', 'x-tandem-error-code': 'inference_failed' },
      });
    }
    return new Response('{}', { status: 200, headers: infer ? { 'x-model-version': infer[1]! } : {} });
  });
}

const run = (model: string, change: Partial<DeviceRunRecord> = {}): DeviceRunRecord => ({
  model,
  version: '1.1.0',
  variant: 'int8',
  backend: 'wasm',
  latency_ms: 4,
  outcome: 'ok',
  fallback: false,
  confidence_le: 0.9,
  ...change,
});

async function telemetry(records: DeviceRunRecord[]): Promise<void> {
  const res = await fetchApp(
    app,
    '/v1/telemetry',
    { method: 'POST', body: JSON.stringify({ records, dropped: 0 }), headers: { authorization: `Bearer ${KEYS.infer}`, 'content-type': 'application/json' } },
    vars,
  );
  expect(res.status).toBe(204);
}

async function manifestVersions(model: string, clients: number): Promise<Set<string>> {
  const out = new Set<string>();
  for (let i = 0; i < clients; i++) {
    const res = await fetchApp(app, `/v1/models/${model}/manifest`, { headers: { 'x-client-id': `install-${i}` } }, vars);
    expect(res.status).toBe(200);
    out.add(res.headers.get('x-model-version')!);
  }
  return out;
}

async function infer(model: string, client: string): Promise<Response> {
  return fetchApp(
    app,
    `/v2/models/${model}/infer`,
    { method: 'POST', body: '{}', headers: { authorization: `Bearer ${KEYS.infer}`, 'x-client-id': client } },
    vars,
  );
}

async function status(model: string): Promise<Record<string, any>> {
  const res = await fetchApp(app, `/v1/edge/rollout/${model}`, { headers: { authorization: `Bearer ${KEYS.admin}` } }, vars);
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, any>;
}

async function metricsText(): Promise<string> {
  return (await fetchApp(app, '/v1/edge/metrics', { headers: { authorization: `Bearer ${KEYS.admin}` } }, vars)).text();
}

beforeAll(async () => {
  for (const model of MODELS) seeded.set(model, await seedModel(model, ['1.0.0', '1.1.0']));
  vars = testEnv({
    TRUSTED_KEYS: JSON.stringify([...seeded.values()].map((s) => s.key.publicKey)),
    ORIGINS: 'http://origin-a.test,http://origin-b.test',
    ORIGIN_TOKEN: 'origin-token',
    API_KEYS: await apiKeysVar(),
    TUNING: JSON.stringify({ trustTtlMs: 0, readinessTtlMs: 1 }),
  });
});

beforeEach(() => {
  resetRolloutRecords();
  resetPoolReadiness();
  resetWeightOverrides();
  resetCanaryWatch();
});

afterEach(() => vi.restoreAllMocks());

describe('automatic rollback', () => {
  it('zeroes a canary whose device runs fail too often, and every install then gets the stable version', async () => {
    const model = 'arb-errors';
    origins();
    await putRecord(model);
    expect(await manifestVersions(model, 40)).toEqual(new Set(['1.0.0', '1.1.0']));
    const log = vi.spyOn(console, 'log');

    // 40 good runs: fewer than minSamples, still collecting.
    await telemetry(Array.from({ length: 40 }, () => run(model)));
    expect((await status(model)).canary_verdicts['1.1.0']).toMatchObject({ state: 'collecting', runs: { device: 40, origin: 0, total: 40 } });
    // Runs of the stable version and the caller's errors say nothing about the canary.
    await telemetry([
      ...Array.from({ length: 20 }, () => run(model, { version: '1.0.0', outcome: 'inference_failed' })),
      run(model, { outcome: 'input_shape_mismatch' }),
    ]);
    expect((await status(model)).zeroed).toEqual([]);
    expect(await manifestVersions(model, 40)).toEqual(new Set(['1.0.0', '1.1.0']));

    // 10 failures: 10 of 50 runs, 0.2 > 0.05.
    await telemetry(Array.from({ length: 10 }, () => run(model, { outcome: 'inference_failed', confidence_le: undefined })));
    const view = await status(model);
    const reason = 'error rate 0.2 > maxErrorRate 0.05 over 50 runs (device 50, origin 0)';
    expect(view.effective).toEqual({ '1.0.0': 100, '1.1.0': 0 });
    expect(view.zeroed).toEqual([{ version: '1.1.0', configured: 50, cause: 'rolled_back', reason }]);
    expect(view.canary_verdicts['1.1.0']).toMatchObject({ state: 'failing', errors: 10, errorRate: 0.2, reasons: [reason] });
    const logged = log.mock.calls.map((c) => JSON.parse(String(c[0]))).find((l) => l.event === 'rollout_weight_zeroed');
    expect(logged).toMatchObject({ model, version: '1.1.0', reason, record_version: 1 });
    expect(await metricsText()).toContain(`tandem_edge_rollout_rollbacks_total{model="${model}",version="1.1.0"} 1`);

    // The installs that were on the canary move on their next load: manifests and inference alike.
    expect(await manifestVersions(model, 40)).toEqual(new Set(['1.0.0']));
    const catalog = (await (await fetchApp(app, '/v1/models', {}, vars)).json()) as { models: { id: string; canary?: Record<string, number> }[] };
    expect(catalog.models.find((m) => m.id === model)?.canary).toEqual({ '1.0.0': 100, '1.1.0': 0 });
    for (let i = 0; i < 10; i++) expect((await infer(model, `install-${i}`)).headers.get('x-model-version')).toBe('1.0.0');
    // More bad news does not count a second rollback.
    await telemetry(Array.from({ length: 10 }, () => run(model, { outcome: 'internal' })));
    expect(await metricsText()).toContain(`tandem_edge_rollout_rollbacks_total{model="${model}",version="1.1.0"} 1`);
  }, 60_000);

  it('zeroes a canary whose median top-class confidence falls under the threshold', async () => {
    const model = 'arb-confidence';
    origins();
    await putRecord(model);
    await telemetry(Array.from({ length: 49 }, () => run(model, { confidence_le: 0.3 })));
    expect((await status(model)).zeroed).toEqual([]);
    await telemetry([run(model, { confidence_le: 0.3 })]);
    const view = await status(model);
    expect(view.zeroed).toEqual([
      { version: '1.1.0', configured: 50, cause: 'rolled_back', reason: 'median top-class confidence 0.25 < minMedianConfidence 0.5 over 50 runs' },
    ]);
    expect(await manifestVersions(model, 30)).toEqual(new Set(['1.0.0']));
  }, 60_000);

  it("counts the origin's failures of the canary on proxied requests, and a newer record judges afresh", async () => {
    const model = 'arb-origin';
    origins(['1.1.0']);
    await putRecord(model, { rollback: { maxErrorRate: 0.05, minMedianConfidence: 0, minSamples: 20 } });
    // Installs on the canary get 500s (each attempt on both origins counts); the stable ones get answers.
    for (let i = 0; i < 40 && (await status(model)).zeroed.length === 0; i++) await infer(model, `install-${i}`);
    const view = await status(model);
    expect(view.zeroed).toEqual([
      {
        version: '1.1.0',
        configured: 50,
        cause: 'rolled_back',
        reason: expect.stringMatching(/^error rate 1 > maxErrorRate 0.05 over \d+ runs \(device 0, origin \d+\)$/),
      },
    ]);
    expect(view.canary_verdicts['1.1.0'].runs.origin).toBeGreaterThanOrEqual(20);
    for (let i = 0; i < 20; i++) expect((await infer(model, `install-${i}`)).status).toBe(200);

    // The operator signs a newer record after fixing the canary: the runs that rolled it back are not held against it.
    origins();
    await putRecord(model, { version: 2, rollback: { maxErrorRate: 0.05, minMedianConfidence: 0, minSamples: 20 } });
    await telemetry([run(model)]);
    const again = await status(model);
    expect(again.zeroed).toEqual([]);
    expect(again.canary_verdicts['1.1.0']).toMatchObject({ state: 'collecting', runs: { device: 1, origin: 0 } });
    expect(await manifestVersions(model, 40)).toEqual(new Set(['1.0.0', '1.1.0']));
  }, 60_000);
});
