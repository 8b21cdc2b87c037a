/**
 * The update framework's attacks against the edge, in workerd with a seeded R2 bucket: each test puts in
 * R2 what an attacker (or a stale deployment) would, and asserts the typed refusal and that nothing
 * refused was served (or served from a cache: refusals are `no-store`, the last good record stays).
 * Each scenario pins its own root keys, so each starts from an isolate state of its own.
 */
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import type { DsseEnvelope } from '../protocol/dsse.ts';
import { generateSigningKey, type SigningKey } from '../protocol/keys.ts';
import { envelopeKey, rootKey, TIMESTAMP_KEY, TRUST_PREFIX } from '../protocol/repository-layout.ts';
import { signManifest } from '../protocol/signed-manifest.ts';
import { DAY_MS, payloadDigest, roleKeys, signedRoot, signedTimestamp, type RoleKeys } from '../protocol/test-support/trust-fixture.ts';
import type { TimestampRecord } from '../protocol/trust/timestamp.ts';
import { createApp } from './app.ts';
import { apiKeysVar, KEYS, manifestFor, seedModel, testEnv } from './test-support.ts';

const app = createApp({ log: { write: () => undefined } });

async function call(path: string, environment: Env, init: RequestInit = {}): Promise<Response> {
  const ctx = createExecutionContext();
  const res = await app.fetch(new Request(`https://edge.test${path}`, init), environment, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

async function answer(
  path: string,
  environment: Env,
): Promise<{ status: number; code?: string; message?: string; cache: string | null; version: string | null; body: unknown }> {
  const res = await call(path, environment);
  const body: unknown = await res.json();
  const error = (body as { error?: { code: string; message: string } }).error;
  return {
    status: res.status,
    ...(error ? { code: error.code, message: error.message } : {}),
    cache: res.headers.get('cache-control'),
    version: res.headers.get('x-model-version'),
    body,
  };
}

interface Scenario {
  id: string;
  keys: RoleKeys;
  env: Env;
  envelopes: Map<string, DsseEnvelope>;
  /** Writes a record for this model: current, the live versions (real digests unless given), revocations. */
  record(
    version: number,
    current: string,
    live: string[],
    options?: { revoked?: string[]; expiresInMs?: number; digests?: Record<string, { sha256: string; bytes: number }> },
  ): Promise<DsseEnvelope>;
  /** Stores version `v` signed by `signer`, with `changes` to its manifest. */
  store(version: string, signer: SigningKey, changes?: Record<string, unknown>): Promise<void>;
}

let scenarios = 0;

/** Clears `_trust/` and seeds a model (1.0.0, 1.1.0 signed by the release key) with root version 1. */
async function scenario(tuning: Record<string, number> = {}): Promise<Scenario> {
  const listed = await env.MODELS.list({ prefix: `${TRUST_PREFIX}/` });
  for (const object of listed.objects) await env.MODELS.delete(object.key);
  const id = `trust-${++scenarios}`;
  const seeded = await seedModel(id, ['1.0.0', '1.1.0']);
  const keys: RoleKeys = { ...(await roleKeys()), release: [seeded.key] };
  await env.MODELS.put(rootKey(1), JSON.stringify(await signedRoot(keys, 1, Date.now() + 365 * DAY_MS)));
  const envelopes = new Map<string, DsseEnvelope>();
  for (const v of ['1.0.0', '1.1.0']) envelopes.set(v, JSON.parse(await (await env.MODELS.get(envelopeKey(id, v)))!.text()) as DsseEnvelope);
  const artifact = { sha256: seeded.artifactSha256, bytes: seeded.artifact.length };
  const s: Scenario = {
    id,
    keys,
    envelopes,
    env: testEnv({
      ROOT_KEYS: JSON.stringify({ keys: keys.root.map((k) => k.publicKey) }),
      TRUSTED_KEYS: '[]',
      API_KEYS: await apiKeysVar(),
      TUNING: JSON.stringify({ trustTtlMs: 0, trustReadTimeoutMs: 200, ...tuning }),
    }),
    async record(version, current, live, options = {}) {
      const versions: TimestampRecord['models'][string]['versions'] = {};
      for (const v of live) versions[v] = options.digests?.[v] ?? (await payloadDigest(envelopes.get(v)!));
      const expires = new Date(Date.now() + (options.expiresInMs ?? DAY_MS)).toISOString();
      const envelope = await signedTimestamp(keys, {
        version,
        expires,
        rootVersion: 1,
        models: { [id]: { current, versions, revoked: options.revoked ?? [] } },
      });
      await env.MODELS.put(TIMESTAMP_KEY, JSON.stringify(envelope));
      return envelope;
    },
    async store(version, signer, changes = {}) {
      const envelope = await signManifest({ ...manifestFor(id, version, artifact), ...changes }, [signer]);
      envelopes.set(version, envelope);
      await env.MODELS.put(envelopeKey(id, version), JSON.stringify(envelope));
    },
  };
  return s;
}

/** An OIP route's answer: the code is in `x-tandem-error-code`, the body is OIP's `{ "error": message }`. */
async function oipAnswer(path: string, environment: Env): Promise<{ status: number; code: string | null; version: string | null }> {
  const res = await call(path, environment);
  await res.body?.cancel();
  return { status: res.status, code: res.headers.get('x-tandem-error-code'), version: res.headers.get('x-model-version') };
}

const recordVersion = (body: unknown) => JSON.parse(atob((body as DsseEnvelope).payload)).version as number;
const until = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('edge trust routes', () => {
  it('serve the verified root (immutable) and record (short cache); "latest" is the record\'s current; status shows freshness', async () => {
    const s = await scenario();
    await s.record(1, '1.0.0', ['1.0.0', '1.1.0']);
    const root = await call('/v1/trust/root/1.json', s.env);
    expect(root.status).toBe(200);
    expect(root.headers.get('cache-control')).toMatch(/immutable/);
    expect(await root.text()).toBe(await (await env.MODELS.get(rootKey(1)))!.text());
    expect((await answer('/v1/trust/root/2.json', s.env)).status).toBe(404);
    const ts = await answer('/v1/trust/timestamp.json', s.env);
    expect(ts).toMatchObject({ status: 200, cache: 'public, max-age=60' });
    expect(recordVersion(ts.body)).toBe(1);
    // Storage's newest is 1.1.0; the record says 1.0.0 is current.
    expect((await answer(`/v1/models/${s.id}/manifest`, s.env)).version).toBe('1.0.0');
    expect((await answer('/v1/models', s.env)).body).toMatchObject({
      models: expect.arrayContaining([expect.objectContaining({ id: s.id, latest: '1.0.0', versions: ['1.0.0', '1.1.0'] })]),
    });
    const status = await call('/v1/edge/status', s.env, { headers: { authorization: `Bearer ${KEYS.admin}` } });
    expect(((await status.json()) as { trust: unknown }).trust).toMatchObject({
      root_keys: { keyids: [s.keys.root[0]!.keyid], threshold: 1 },
      root_version: 1,
      timestamp: { version: 1, age_seconds: expect.any(Number), expires: expect.any(String), expired: false },
      refused: null,
    });
  });

  it('are 404 on an edge without ROOT_KEYS, which serves manifests as before', async () => {
    const s = await scenario();
    const plain = { ...s.env, ROOT_KEYS: '[]', TRUSTED_KEYS: JSON.stringify([s.keys.release[0]!.publicKey]) } as Env;
    expect((await answer('/v1/trust/timestamp.json', plain)).status).toBe(404);
    expect((await answer(`/v1/models/${s.id}/manifest`, plain)).version).toBe('1.1.0');
  });
});

describe('edge attacks', () => {
  it('rollback: an older record than one seen is refused; the last good one is served while unexpired, then 503 rollback_detected', async () => {
    const s = await scenario();
    await s.record(5, '1.1.0', ['1.0.0', '1.1.0'], { expiresInMs: 1500 });
    expect(recordVersion((await answer('/v1/trust/timestamp.json', s.env)).body)).toBe(5);
    await s.record(4, '1.0.0', ['1.0.0', '1.1.0']); // validly signed, unexpired, but older
    const kept = await answer('/v1/trust/timestamp.json', s.env);
    expect(kept.status).toBe(200);
    expect(recordVersion(kept.body)).toBe(5);
    expect((await answer(`/v1/models/${s.id}/manifest`, s.env)).version).toBe('1.1.0');
    await until(1600);
    const refused = await answer('/v1/trust/timestamp.json', s.env);
    expect(refused).toMatchObject({ status: 503, code: 'rollback_detected', cache: 'no-store' });
    expect(refused.message).toMatch(/timestamp record 5 expired .*record version 4 is older than version 5/);
    expect((await answer(`/v1/models/${s.id}/manifest`, s.env)).code).toBe('rollback_detected');
  });

  it('rollback: an older manifest is never served as current, nor an older version the record dropped', async () => {
    const s = await scenario();
    await s.store('1.2.0', s.keys.release[0]!); // newest in storage, signed, but not released
    await s.record(1, '1.1.0', ['1.1.0']);
    expect((await answer(`/v1/models/${s.id}/manifest`, s.env)).version).toBe('1.1.0');
    expect(await answer(`/v1/models/${s.id}/manifest?version=1.2.0`, s.env)).toMatchObject({ status: 422, code: 'manifest_signature_invalid' });
    expect(await answer(`/v1/models/${s.id}/manifest?version=1.0.0`, s.env)).toMatchObject({ status: 409, code: 'rollback_detected' });
  });

  it('freeze: an expired record is refused (503 metadata_expired) and no manifest is served', async () => {
    const s = await scenario();
    await s.record(1, '1.1.0', ['1.0.0', '1.1.0'], { expiresInMs: -1000 });
    expect(await answer('/v1/trust/timestamp.json', s.env)).toMatchObject({ status: 503, code: 'metadata_expired', cache: 'no-store' });
    // The code in the header too, as on every error the edge answers.
    expect((await call('/v1/trust/timestamp.json', s.env)).headers.get('x-tandem-error-code')).toBe('metadata_expired');
    expect(await answer(`/v1/models/${s.id}/manifest`, s.env)).toMatchObject({ status: 422, code: 'metadata_expired' });
  });

  it('freeze: a manifest past its own expiry is refused even when the record names it', async () => {
    const s = await scenario();
    await s.store('1.2.0', s.keys.release[0]!, { expires: new Date(Date.now() - 1000).toISOString() });
    await s.record(1, '1.2.0', ['1.1.0', '1.2.0']);
    expect(await answer(`/v1/models/${s.id}/manifest`, s.env)).toMatchObject({ status: 422, code: 'metadata_expired' });
    expect(await answer(`/v1/models/${s.id}/manifest?version=1.1.0`, s.env)).toMatchObject({ status: 200, version: '1.1.0' });
  });

  it('mix-and-match: a manifest whose digest the record does not name is refused, and left out of the catalog', async () => {
    const s = await scenario();
    await s.record(1, '1.0.0', ['1.0.0', '1.1.0'], { digests: { '1.1.0': await payloadDigest(s.envelopes.get('1.0.0')!) } });
    const refused = await answer(`/v1/models/${s.id}/manifest?version=1.1.0`, s.env);
    expect(refused).toMatchObject({ status: 422, code: 'manifest_signature_invalid' });
    expect(refused.message).toMatch(/is not the manifest timestamp record 1 names/);
    expect((await answer('/v1/models', s.env)).body).toMatchObject({
      models: expect.arrayContaining([expect.objectContaining({ id: s.id, versions: ['1.0.0'] })]),
    });
  });

  it('untrusted key: a manifest signed outside the release role, or a root the pinned keys did not sign, is refused', async () => {
    const s = await scenario();
    await s.store('1.2.0', await generateSigningKey());
    await s.record(1, '1.2.0', ['1.1.0', '1.2.0']);
    expect(await answer(`/v1/models/${s.id}/manifest`, s.env)).toMatchObject({ status: 422, code: 'manifest_signature_invalid' });
    const other = await scenario();
    await env.MODELS.put(rootKey(1), JSON.stringify(await signedRoot(await roleKeys(), 1, Date.now() + DAY_MS)));
    await other.record(1, '1.1.0', ['1.1.0']);
    expect(await answer('/v1/trust/root/1.json', other.env)).toMatchObject({ status: 503, code: 'manifest_signature_invalid', cache: 'no-store' });
    expect(await answer(`/v1/models/${other.id}/manifest`, other.env)).toMatchObject({ status: 422, code: 'manifest_signature_invalid' });
  });

  it("OIP model metadata and readiness take the manifest route's trust, also beside TRUSTED_KEYS: no record in force, latest, revoked and unreleased versions", async () => {
    const s = await scenario();
    const both = { ...s.env, TRUSTED_KEYS: JSON.stringify([s.keys.release[0]!.publicKey]) } as Env;
    await s.store('1.2.0', s.keys.release[0]!); // newest in storage, signed by the release key, but not released
    const manifestRoute = await answer(`/v1/models/${s.id}/manifest`, both);
    expect(manifestRoute.status).toBeGreaterThanOrEqual(400);
    expect(await oipAnswer(`/v2/models/${s.id}`, both)).toMatchObject({ status: manifestRoute.status, code: manifestRoute.code });
    await s.record(1, '1.1.0', ['1.0.0', '1.1.0']);
    // The model has no origin variant, so it is not ready; which version the edge means is the point.
    expect(await oipAnswer(`/v2/models/${s.id}/ready`, both)).toMatchObject({ status: 503, version: '1.1.0' });
    expect(await oipAnswer(`/v2/models/${s.id}/versions/1.2.0/ready`, both)).toMatchObject({ status: 422, code: 'manifest_signature_invalid' });
    await s.record(2, '1.1.0', ['1.1.0'], { revoked: ['1.0.0'] });
    expect(await oipAnswer(`/v2/models/${s.id}/versions/1.0.0/ready`, both)).toMatchObject({ status: 410, code: 'version_revoked' });
    expect(await oipAnswer(`/v2/models/${s.id}/versions/1.1.0/ready`, both)).toMatchObject({ status: 503, version: '1.1.0' });
  });

  it('revocation: a revoked version is never served (410 version_revoked) and leaves the catalog', async () => {
    const s = await scenario();
    await s.record(1, '1.1.0', ['1.0.0', '1.1.0']);
    expect((await answer(`/v1/models/${s.id}/manifest?version=1.0.0`, s.env)).status).toBe(200);
    await s.record(2, '1.1.0', ['1.1.0'], { revoked: ['1.0.0'] });
    expect(await answer(`/v1/models/${s.id}/manifest?version=1.0.0`, s.env)).toMatchObject({ status: 410, code: 'version_revoked' });
    expect((await answer('/v1/models', s.env)).body).toMatchObject({
      models: expect.arrayContaining([expect.objectContaining({ id: s.id, versions: ['1.1.0'] })]),
    });
  });

  it('revoked key and rotation: root version 2 drops the release key (what it signed is refused) and names a new one, accepted with the same ROOT_KEYS', async () => {
    const s = await scenario();
    await s.record(1, '1.1.0', ['1.0.0', '1.1.0']);
    expect((await answer(`/v1/models/${s.id}/manifest`, s.env)).status).toBe(200);
    const rotated: RoleKeys = { ...s.keys, release: [await generateSigningKey()] };
    await env.MODELS.put(rootKey(2), JSON.stringify(await signedRoot(rotated, 2, Date.now() + 365 * DAY_MS)));
    expect(await answer(`/v1/models/${s.id}/manifest`, s.env)).toMatchObject({ status: 422, code: 'manifest_signature_invalid' });
    await s.store('1.2.0', rotated.release[0]!);
    await s.record(2, '1.2.0', ['1.1.0', '1.2.0']);
    expect(await answer(`/v1/models/${s.id}/manifest`, s.env)).toMatchObject({ status: 200, version: '1.2.0' });
    expect(await answer(`/v1/models/${s.id}/manifest?version=1.1.0`, s.env)).toMatchObject({ status: 422, code: 'manifest_signature_invalid' });
    expect((await call('/v1/trust/root/2.json', s.env)).status).toBe(200);
  });

  it('endless data: a record or a root over its bound is refused unread; the last good record stays', async () => {
    const s = await scenario();
    await env.MODELS.put(TIMESTAMP_KEY, ' '.repeat(2 * 1024 * 1024));
    const huge = await answer('/v1/trust/timestamp.json', s.env);
    expect(huge).toMatchObject({ status: 503, code: 'payload_too_large', cache: 'no-store' });
    expect(huge.message).toMatch(/timestamp record is 2097152 bytes, over the 1048576-byte bound: refused unread/);
    await s.record(3, '1.1.0', ['1.1.0']);
    expect(recordVersion((await answer('/v1/trust/timestamp.json', s.env)).body)).toBe(3);
    await env.MODELS.put(rootKey(2), `{"payload":"${'A'.repeat(100 * 1024)}"}`);
    const kept = await answer('/v1/trust/timestamp.json', s.env);
    expect(kept.status).toBe(200);
    expect(recordVersion(kept.body)).toBe(3);
    expect((await answer('/v1/trust/root/2.json', s.env)).status).toBe(404);
    const status = await call('/v1/edge/status', s.env, { headers: { authorization: `Bearer ${KEYS.admin}` } });
    expect(((await status.json()) as { trust: { refused: { code: string } } }).trust.refused.code).toBe('payload_too_large');
  });

  it('slow retrieval: an R2 read of metadata past its deadline is refused (deadline_exceeded); the last good record stays', async () => {
    const s = await scenario();
    await s.record(1, '1.1.0', ['1.1.0']);
    expect((await answer('/v1/trust/timestamp.json', s.env)).status).toBe(200);
    const hang =
      <T>(target: R2Bucket, name: 'get' | 'head') =>
      (key: string, ...rest: unknown[]): Promise<T> =>
        key.startsWith(`${TRUST_PREFIX}/`) ? new Promise<T>(() => undefined) : (target[name] as (...a: unknown[]) => Promise<T>).call(target, key, ...rest);
    const slowBucket = new Proxy(env.MODELS, {
      get: (target, prop) => (prop === 'get' || prop === 'head' ? hang(target, prop) : Reflect.get(target, prop, target)),
    });
    const slow = { ...s.env, MODELS: slowBucket } as Env;
    const kept = await answer('/v1/trust/timestamp.json', slow);
    expect(kept.status).toBe(200);
    expect(recordVersion(kept.body)).toBe(1);
    // An isolate with nothing verified yet (other pinned keys) has nothing to fall back on.
    const fresh = await scenario();
    const started = Date.now();
    const refused = await answer('/v1/trust/timestamp.json', { ...fresh.env, MODELS: slowBucket } as Env);
    expect(refused).toMatchObject({ status: 503, code: 'deadline_exceeded', cache: 'no-store' });
    expect(Date.now() - started).toBeLessThan(2000);
  });
});
