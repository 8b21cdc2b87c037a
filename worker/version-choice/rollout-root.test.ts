/**
 * Rollout records under a root of trust (`ROOT_KEYS`), in workerd: they verify with the root's release
 * role (a record signed by another role's key is refused), the split they state is checked against the
 * timestamp record like any per-client pick, and a record over its size bound is refused unread.
 */
import { env } from 'cloudflare:workers';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { DsseEnvelope } from '../../protocol/dsse.ts';
import type { SigningKey } from '../../protocol/keys.ts';
import { envelopeKey, rolloutKey, rootKey, TIMESTAMP_KEY } from '../../protocol/repository-layout.ts';
import { signRollout, type RolloutRecord } from '../../protocol/rollout/rollout-record.ts';
import { DAY_MS, payloadDigest, roleKeys, signedRoot, signedTimestamp, type RoleKeys } from '../../protocol/test-support/trust-fixture.ts';
import { createApp } from '../app.ts';
import { resetRolloutRecords } from '../storage/rollout-records.ts';
import { apiKeysVar, fetchApp, KEYS, seedModel, testEnv } from '../test-support.ts';

const MODEL = 'rooted';
const app = createApp({ log: { write: () => undefined } });
let keys: RoleKeys;
let vars: Env;

async function putRecord(signer: SigningKey, weights: Record<string, number>, version: number): Promise<void> {
  const record: RolloutRecord = {
    _type: 'rollout',
    model: MODEL,
    version,
    expires: new Date(Date.now() + DAY_MS).toISOString(),
    stable: '1.0.0',
    weights,
    rollback: { maxErrorRate: 0.05, minMedianConfidence: 0, minSamples: 100 },
  };
  await env.MODELS.put(rolloutKey(MODEL), JSON.stringify(await signRollout(record, [signer])));
}

async function versions(n: number): Promise<Set<string>> {
  const out = new Set<string>();
  for (let i = 0; i < n; i++) {
    const res = await fetchApp(app, `/v1/models/${MODEL}/manifest`, { headers: { 'x-client-id': `c${i}` } }, vars);
    expect(res.status).toBe(200);
    out.add(res.headers.get('x-model-version')!);
  }
  return out;
}

async function refused(): Promise<unknown> {
  const res = await fetchApp(app, `/v1/edge/rollout/${MODEL}`, { headers: { authorization: `Bearer ${KEYS.admin}` } }, vars);
  return ((await res.json()) as { refused: unknown }).refused;
}

beforeAll(async () => {
  const seeded = await seedModel(MODEL, ['1.0.0', '1.1.0']);
  keys = { ...(await roleKeys()), release: [seeded.key] };
  await env.MODELS.put(rootKey(1), JSON.stringify(await signedRoot(keys, 1, Date.now() + 365 * DAY_MS)));
  const live: Record<string, { sha256: string; bytes: number }> = {};
  for (const v of ['1.0.0', '1.1.0']) live[v] = await payloadDigest(JSON.parse(await (await env.MODELS.get(envelopeKey(MODEL, v)))!.text()) as DsseEnvelope);
  const record = await signedTimestamp(keys, {
    version: 1,
    expires: new Date(Date.now() + DAY_MS).toISOString(),
    rootVersion: 1,
    models: { [MODEL]: { current: '1.0.0', versions: live, revoked: [] } },
  });
  await env.MODELS.put(TIMESTAMP_KEY, JSON.stringify(record));
  vars = testEnv({
    ROOT_KEYS: JSON.stringify({ keys: keys.root.map((k) => k.publicKey) }),
    TRUSTED_KEYS: '[]',
    ORIGINS: 'http://origin-a.test',
    API_KEYS: await apiKeysVar(),
    TUNING: JSON.stringify({ trustTtlMs: 0, readinessTtlMs: 1 }),
  });
  vi.spyOn(globalThis, 'fetch').mockImplementation(async () => new Response('{}', { status: 200 }));
});

afterEach(() => resetRolloutRecords());

describe('rollout record under a root of trust', () => {
  it("follows a record signed by the root's release role", async () => {
    expect(await versions(5)).toEqual(new Set(['1.0.0']));
    await putRecord(keys.release[0]!, { '1.0.0': 0, '1.1.0': 100 }, 1);
    expect(await versions(20)).toEqual(new Set(['1.1.0']));
    expect(await refused()).toBeNull();
  });

  it("refuses a record signed by the timestamp role's key, and serves the record's current version", async () => {
    await putRecord(keys.timestamp[0]!, { '1.0.0': 0, '1.1.0': 100 }, 2);
    expect(await versions(20)).toEqual(new Set(['1.0.0']));
    expect(await refused()).toMatchObject({ code: 'manifest_signature_invalid' });
  });

  it('refuses a record over 16 KiB unread', async () => {
    await env.MODELS.put(rolloutKey(MODEL), 'x'.repeat(17 * 1024));
    expect(await versions(3)).toEqual(new Set(['1.0.0']));
    expect(await refused()).toMatchObject({ code: 'payload_too_large' });
  });
});
