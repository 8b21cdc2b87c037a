/**
 * The signed rollout record at the edge, in workerd: the split follows the verified record (sticky per
 * install, the same on the manifest and inference routes), a canary gets no share while an origin is not
 * ready for it or after `zeroVersionWeight`, and a record that is older, wrongly signed or expired is
 * refused (the last good one stays; without one, the `CANARY` fallback applies). The status route shows it all.
 */
import { env } from 'cloudflare:workers';
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { generateSigningKey, type SigningKey } from '../../protocol/keys.ts';
import { rolloutKey } from '../../protocol/repository-layout.ts';
import { signRollout, type RolloutRecord } from '../../protocol/rollout/rollout-record.ts';
import { createApp } from '../app.ts';
import { resetRolloutRecords } from '../storage/rollout-records.ts';
import { apiKeysVar, fetchApp, KEYS, seedModel, testEnv, type Seeded } from '../test-support.ts';
import { resetPoolReadiness } from './origin-version-readiness.ts';
import { resetWeightOverrides, zeroVersionWeight } from './weight-overrides.ts';

const MODEL = 'r';
const app = createApp({ log: { write: () => undefined } });
let seeded: Seeded;
let vars: Env;
let stranger: SigningKey;

function record(changes: Partial<RolloutRecord> = {}): RolloutRecord {
  return {
    _type: 'rollout',
    model: MODEL,
    version: 1,
    expires: new Date(Date.now() + 86_400_000).toISOString(),
    stable: '1.0.0',
    weights: { '1.0.0': 90, '1.1.0': 10 },
    rollback: { maxErrorRate: 0.05, minMedianConfidence: 0, minSamples: 100 },
    ...changes,
  };
}

async function putRecord(changes: Partial<RolloutRecord> = {}, key: SigningKey = seeded.key): Promise<void> {
  await env.MODELS.put(rolloutKey(MODEL), JSON.stringify(await signRollout(record(changes), [key])));
}

/** Origins that answer readiness 200, except `missing` (origin -> versions it lacks), and inference 200. */
function origins(missing: Record<string, string[]> = {}): string[] {
  const paths: string[] = [];
  vi.spyOn(globalThis, 'fetch').mockImplementation(async (input) => {
    const url = new URL(String(input instanceof Request ? input.url : input));
    paths.push(`${url.host}${url.pathname}`);
    const ready = /^\/v2\/models\/[^/]+\/versions\/([^/]+)\/ready$/.exec(url.pathname);
    if (ready && missing[url.host]?.includes(ready[1]!)) {
      return new Response('{"error":"no"}', { status: 404, headers: { 'x-tandem-error-code': 'model_not_found' } });
    }
    return new Response('{}', { status: 200 });
  });
  return paths;
}

async function versionsOf(clients: number, prefix = 'install'): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (let i = 0; i < clients; i++) {
    const res = await fetchApp(app, `/v1/models/${MODEL}/manifest`, { headers: { 'x-client-id': `${prefix}-${i}` } }, vars);
    expect(res.status).toBe(200);
    out.set(`${prefix}-${i}`, res.headers.get('x-model-version')!);
  }
  return out;
}

async function status(): Promise<Record<string, unknown>> {
  const res = await fetchApp(app, `/v1/edge/rollout/${MODEL}`, { headers: { authorization: `Bearer ${KEYS.admin}` } }, vars);
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, unknown>;
}

beforeAll(async () => {
  seeded = await seedModel(MODEL, ['1.0.0', '1.1.0']);
  stranger = await generateSigningKey();
  vars = testEnv({
    TRUSTED_KEYS: JSON.stringify([seeded.key.publicKey]),
    ORIGINS: 'http://origin-a.test,http://origin-b.test',
    ORIGIN_TOKEN: 'origin-token',
    API_KEYS: await apiKeysVar(),
    // The fallback: in force only while no verified record is.
    CANARY: JSON.stringify({ [MODEL]: { '1.0.0': 50, '1.1.0': 50 } }),
    // Every request reads R2 and asks the origins afresh.
    TUNING: JSON.stringify({ trustTtlMs: 0, readinessTtlMs: 1 }),
  });
});

beforeEach(async () => {
  resetRolloutRecords();
  resetPoolReadiness();
  resetWeightOverrides();
  await env.MODELS.delete(rolloutKey(MODEL));
});

afterEach(() => {
  vi.restoreAllMocks();
});

describe('rollout record at the edge', () => {
  it('splits installs by the signed weights, sticky per install, and inference follows the manifest', async () => {
    origins();
    await putRecord();
    const versions = await versionsOf(200);
    const canaries = [...versions.values()].filter((v) => v === '1.1.0').length;
    // 10% of 200, within about three standard deviations.
    expect(canaries).toBeGreaterThan(8);
    expect(canaries).toBeLessThan(35);
    // Sticky: the same install asks again and gets the same version.
    const again = await versionsOf(30);
    for (const [client, version] of again) expect(version).toBe(versions.get(client));
    const paths = origins();
    for (const [client, version] of [...versions].slice(0, 20)) {
      const res = await fetchApp(
        app,
        `/v2/models/${MODEL}/infer`,
        { method: 'POST', body: '{}', headers: { authorization: `Bearer ${KEYS.infer}`, 'x-client-id': client } },
        vars,
      );
      expect(res.headers.get('x-model-version')).toBe(version);
    }
    expect(paths.filter((p) => p.endsWith('/infer')).every((p) => /\/versions\/1\.[01]\.0\/infer$/.test(p))).toBe(true);
    expect(await status()).toMatchObject({ source: 'record', record: { version: 1 }, effective: { '1.0.0': 90, '1.1.0': 10 }, zeroed: [], refused: null });
  }, 60_000);

  it('gives a canary no share while an origin of the pool is not ready for it, and says why', async () => {
    await putRecord();
    origins({ 'origin-b.test': ['1.1.0'] });
    expect(new Set((await versionsOf(100)).values())).toEqual(new Set(['1.0.0']));
    const view = await status();
    expect(view).toMatchObject({ effective: { '1.0.0': 100, '1.1.0': 0 }, configured: { '1.0.0': 90, '1.1.0': 10 } });
    expect(view.zeroed).toEqual([
      { version: '1.1.0', configured: 10, cause: 'not_ready', reason: expect.stringContaining('http://origin-b.test (404 model_not_found)') },
    ]);
    expect(view.stable_readiness).toEqual({
      ready: true,
      origins: [
        { origin: 'http://origin-a.test', ready: true },
        { origin: 'http://origin-b.test', ready: true },
      ],
    });
    // Once every origin holds it, it gets its share back.
    resetPoolReadiness();
    origins();
    expect(new Set((await versionsOf(100)).values())).toEqual(new Set(['1.0.0', '1.1.0']));
  }, 60_000);

  it('takes a share away through the rollback hook until a newer record', async () => {
    origins();
    await putRecord({ version: 4, weights: { '1.0.0': 50, '1.1.0': 50 } });
    expect(new Set((await versionsOf(40)).values())).toEqual(new Set(['1.0.0', '1.1.0']));
    zeroVersionWeight(MODEL, '1.1.0', 'error rate 0.2 > 0.05 over 300 runs', 4);
    expect(new Set((await versionsOf(40)).values())).toEqual(new Set(['1.0.0']));
    expect((await status()).zeroed).toEqual([{ version: '1.1.0', configured: 50, cause: 'rolled_back', reason: 'error rate 0.2 > 0.05 over 300 runs' }]);
    await putRecord({ version: 5, weights: { '1.0.0': 50, '1.1.0': 50 } });
    expect(new Set((await versionsOf(40)).values())).toEqual(new Set(['1.0.0', '1.1.0']));
  }, 60_000);

  it('refuses an older record than one seen (rollback) and keeps the newer one in force', async () => {
    origins();
    await putRecord({ version: 7, weights: { '1.0.0': 0, '1.1.0': 100 } });
    expect(new Set((await versionsOf(20)).values())).toEqual(new Set(['1.1.0']));
    await putRecord({ version: 6, weights: { '1.0.0': 100, '1.1.0': 0 } });
    expect(new Set((await versionsOf(20)).values())).toEqual(new Set(['1.1.0']));
    expect(await status()).toMatchObject({ record: { version: 7 }, refused: { code: 'rollback_detected' } });
  });

  it('refuses a record signed by a key that is not a release key, falling back to CANARY without a good one', async () => {
    origins();
    await putRecord({ weights: { '1.0.0': 0, '1.1.0': 100 } }, stranger);
    const versions = new Set((await versionsOf(60)).values());
    expect(versions).toEqual(new Set(['1.0.0', '1.1.0']));
    expect(await status()).toMatchObject({
      source: 'canary_var',
      record: null,
      effective: { '1.0.0': 50, '1.1.0': 50 },
      refused: { code: 'manifest_signature_invalid' },
    });
  });

  it('refuses an expired record and a tampered one', async () => {
    origins();
    await putRecord({ expires: new Date(Date.now() - 1000).toISOString() });
    expect(await status()).toMatchObject({ source: 'canary_var', refused: { code: 'metadata_expired' } });
    resetRolloutRecords();
    const envelope = await signRollout(record(), [seeded.key]);
    const payload = JSON.parse(atob(envelope.payload)) as RolloutRecord;
    payload.weights = { '1.0.0': 0, '1.1.0': 100 };
    await env.MODELS.put(rolloutKey(MODEL), JSON.stringify({ ...envelope, payload: btoa(JSON.stringify(payload)) }));
    expect(await status()).toMatchObject({ source: 'canary_var', refused: { code: 'manifest_signature_invalid' } });
  });

  it('lists every model with a record or a CANARY entry, to admins only', async () => {
    origins();
    await putRecord();
    expect((await fetchApp(app, '/v1/edge/rollout', {}, vars)).status).toBe(401);
    expect((await fetchApp(app, '/v1/edge/rollout', { headers: { authorization: `Bearer ${KEYS.infer}` } }, vars)).status).toBe(403);
    const res = await fetchApp(app, '/v1/edge/rollout', { headers: { authorization: `Bearer ${KEYS.admin}` } }, vars);
    const body = (await res.json()) as { models: { model: string; source: string }[] };
    expect(body.models).toEqual([expect.objectContaining({ model: MODEL, source: 'record' })]);
    expect((await fetchApp(app, '/v1/edge/rollout/NOPE', { headers: { authorization: `Bearer ${KEYS.admin}` } }, vars)).status).toBe(404);
  });
});
