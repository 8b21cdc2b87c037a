/**
 * `GET /v1/rollout/{model}` in workerd: the record the edge follows, as stored; the last good one while a
 * newer read is refused; 404 without one; the manifest route's key rule.
 */
import { env } from 'cloudflare:workers';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { generateSigningKey } from '../../protocol/keys.ts';
import { rolloutKey } from '../../protocol/repository-layout.ts';
import { signRollout, verifyRollout, type RolloutRecord } from '../../protocol/rollout/rollout-record.ts';
import { loadTrustedKeys } from '../../protocol/keys.ts';
import { createApp } from '../app.ts';
import { resetRolloutRecords } from '../storage/rollout-records.ts';
import { apiKeysVar, errorCode, fetchApp, KEYS, seedModel, testEnv, type Seeded } from '../test-support.ts';

const MODEL = 'rr';
const app = createApp({ log: { write: () => undefined } });
let seeded: Seeded;
let vars: Env;

const record = (version: number, weights: Record<string, number> = { '1.0.0': 100 }): RolloutRecord => ({
  _type: 'rollout',
  model: MODEL,
  version,
  expires: new Date(Date.now() + 86_400_000).toISOString(),
  stable: '1.0.0',
  weights,
  rollback: { maxErrorRate: 0.05, minMedianConfidence: 0, minSamples: 100 },
});

beforeAll(async () => {
  seeded = await seedModel(MODEL, ['1.0.0', '1.1.0']);
  vars = testEnv({ TRUSTED_KEYS: JSON.stringify([seeded.key.publicKey]), API_KEYS: await apiKeysVar(), TUNING: JSON.stringify({ trustTtlMs: 0 }) });
});

beforeEach(async () => {
  resetRolloutRecords();
  await env.MODELS.delete(rolloutKey(MODEL));
});

const get = (headers: Record<string, string> = {}, environment = vars) => fetchApp(app, `/v1/rollout/${MODEL}`, { headers }, environment);

describe('GET /v1/rollout/{model}', () => {
  it('serves the stored envelope of the record in force, which verifies with the release keys; 304 on its ETag', async () => {
    const text = JSON.stringify(await signRollout(record(3, { '1.0.0': 90, '1.1.0': 10 }), [seeded.key]));
    await env.MODELS.put(rolloutKey(MODEL), text);
    const res = await get();
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toMatch(/^public, max-age=\d+$/);
    const body = await res.text();
    expect(body).toBe(text);
    const { record: verified } = await verifyRollout(JSON.parse(body), await loadTrustedKeys([seeded.key.publicKey]), Date.now(), MODEL);
    expect(verified).toMatchObject({ version: 3, weights: { '1.1.0': 10 } });
    expect((await get({ 'if-none-match': res.headers.get('etag')! })).status).toBe(304);
  });

  it('404 not_found without a record; the last good record while a newer one is refused or deleted', async () => {
    const none = await get();
    expect(none.status).toBe(404);
    expect(await errorCode(none)).toBe('not_found');
    const good = JSON.stringify(await signRollout(record(1), [seeded.key]));
    await env.MODELS.put(rolloutKey(MODEL), good);
    expect(await (await get()).text()).toBe(good);
    // A newer record signed by a stranger is refused: the edge still serves the good one.
    await env.MODELS.put(rolloutKey(MODEL), JSON.stringify(await signRollout(record(2), [await generateSigningKey()])));
    expect(await (await get()).text()).toBe(good);
    await env.MODELS.delete(rolloutKey(MODEL));
    expect(await (await get()).text()).toBe(good);
  });

  it('takes the manifest route key rule: a key without the catalog scope is refused; with REQUIRE_KEY_FOR_CATALOG a key is needed', async () => {
    await env.MODELS.put(rolloutKey(MODEL), JSON.stringify(await signRollout(record(1), [seeded.key])));
    expect((await get({ authorization: `Bearer ${KEYS.catalog}` })).status).toBe(200);
    expect((await get({ authorization: `Bearer ${KEYS.admin}` })).status).toBe(403);
    const strict = testEnv({ TRUSTED_KEYS: JSON.stringify([seeded.key.publicKey]), API_KEYS: await apiKeysVar(), REQUIRE_KEY_FOR_CATALOG: 'true' });
    expect((await get({}, strict)).status).toBe(401);
    expect((await fetchApp(app, '/v1/rollout/..%2Fetc', {}, vars)).status).toBe(404);
  });
});
