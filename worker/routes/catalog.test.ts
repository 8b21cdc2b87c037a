/**
 * The manifest route under attack: a bad newest upload must not take a model offline (issue 18, item 3),
 * and odd model ids and versions are refused at the route, never echoed (item 6).
 */
import { env } from 'cloudflare:workers';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { signManifest } from '../../protocol/signed-manifest.ts';
import { envelopeKey } from '../../protocol/repository-layout.ts';
import { createApp } from '../app.ts';
import { hashApiKey } from '../auth/api-keys.ts';
import { apiKeysVar, errorCode, fetchApp, KEYS, manifestFor, seedModel, tamperStoredEnvelope, testEnv, type Seeded } from '../test-support.ts';

const app = createApp({ log: { write: () => undefined } });
let seeded: Seeded;
let vars: Env;
const get = (path: string, headers: Record<string, string> = {}, environment = vars) => fetchApp(app, path, { headers }, environment);

beforeAll(async () => {
  seeded = await seedModel('fallback', ['1.0.0', '1.1.0', '2.0.0']);
  await tamperStoredEnvelope('fallback', '2.0.0');
  const allBad = await seedModel('all-bad', ['1.0.0', '1.1.0']);
  await tamperStoredEnvelope('all-bad', '1.0.0');
  await tamperStoredEnvelope('all-bad', '1.1.0');
  vars = testEnv({
    TRUSTED_KEYS: JSON.stringify([seeded.key.publicKey, allBad.key.publicKey]),
    API_KEYS: await apiKeysVar(),
    CANARY: JSON.stringify({ canaried: { '2.0.0': 100 } }),
  });
});

afterEach(() => vi.restoreAllMocks());

describe('a bad newest manifest', () => {
  it("serves the newest version that verifies, the catalog's latest, and logs what it skipped", async () => {
    const logged: string[] = [];
    vi.spyOn(console, 'log').mockImplementation((line: unknown) => void logged.push(String(line)));
    const res = await get('/v1/models/fallback/manifest');
    expect(res.status).toBe(200);
    expect(res.headers.get('x-model-version')).toBe('1.1.0');
    expect(await res.text()).toBe(await (await env.MODELS.get(envelopeKey('fallback', '1.1.0')))!.text());
    const catalog = (await (await get('/v1/models')).json()) as { models: { id: string; latest: string; versions: string[] }[] };
    expect(catalog.models.find((m) => m.id === 'fallback')).toMatchObject({ latest: '1.1.0', versions: ['1.0.0', '1.1.0'] });
    const skipped = logged.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.event === 'manifest_skipped');
    expect(skipped).toMatchObject({ model: 'fallback', skipped: ['2.0.0'], served: '1.1.0' });
  });

  it('still answers 422 to a client that asks for the bad version by name', async () => {
    const res = await get('/v1/models/fallback/manifest?version=2.0.0');
    expect([res.status, await errorCode(res)]).toEqual([422, 'manifest_signature_invalid']);
  });

  it('says what was skipped on the status route', async () => {
    await get('/v1/models/fallback/manifest');
    const res = await get('/v1/edge/status', { authorization: `Bearer ${KEYS.admin}` });
    const status = (await res.json()) as { refused: { key: string; kind: string; code: string; served_instead?: string; count: number }[] };
    expect(status.refused).toContainEqual(
      expect.objectContaining({ key: envelopeKey('fallback', '2.0.0'), kind: 'manifest', code: 'manifest_signature_invalid', served_instead: '1.1.0' }),
    );
  });

  it('answers 422 when no stored version verifies', async () => {
    const res = await get('/v1/models/all-bad/manifest');
    expect([res.status, await errorCode(res)]).toEqual([422, 'manifest_signature_invalid']);
  });

  it('falls back for a canary client whose version is bad, privately', async () => {
    const s = await seedModel('canaried', ['1.0.0', '2.0.0']);
    await tamperStoredEnvelope('canaried', '2.0.0');
    const environment = { ...vars, TRUSTED_KEYS: JSON.stringify([s.key.publicKey]) } as Env;
    const res = await get('/v1/models/canaried/manifest', { 'x-client-id': 'someone' }, environment);
    expect([res.status, res.headers.get('x-model-version')]).toEqual([200, '1.0.0']);
    expect(res.headers.get('cache-control')).toMatch(/^private/);
  });

  it('serves the repaired version once it verifies, and drops it from the status route', async () => {
    const s = await seedModel('repaired', ['1.0.0', '2.0.0']);
    await tamperStoredEnvelope('repaired', '2.0.0');
    const environment = { ...vars, TRUSTED_KEYS: JSON.stringify([s.key.publicKey]) } as Env;
    expect((await get('/v1/models/repaired/manifest', {}, environment)).headers.get('x-model-version')).toBe('1.0.0');
    const fixed = await signManifest(manifestFor('repaired', '2.0.0', { sha256: s.artifactSha256, bytes: s.artifact.length }), [s.key]);
    await env.MODELS.put(envelopeKey('repaired', '2.0.0'), JSON.stringify(fixed));
    expect((await get('/v1/models/repaired/manifest', {}, environment)).headers.get('x-model-version')).toBe('2.0.0');
    const status = (await (await get('/v1/edge/status', { authorization: `Bearer ${KEYS.admin}` }, environment)).json()) as { refused: { key: string }[] };
    expect(status.refused.map((r) => r.key)).not.toContain(envelopeKey('repaired', '2.0.0'));
  });
});

describe('odd model ids and versions', () => {
  const odd = ['1.0.0\u0000', '1.0.0\n', '1.0.0\r\nx-evil: 1', '<script>alert(1)</script>', '../../_edge/origins.json', 'x'.repeat(5000), '', 'latest'];

  it('answers 404 model_not_found without echoing the version', async () => {
    for (const version of odd) {
      const res = await get(`/v1/models/fallback/manifest?version=${encodeURIComponent(version)}`);
      const text = await res.text();
      expect([res.status, JSON.parse(text).error.code], JSON.stringify(version)).toEqual([404, 'model_not_found']);
      if (version.length > 3) expect(text).not.toContain(version.slice(0, 12));
      expect(res.headers.get('x-model-version')).toBeNull();
    }
  });

  it('answers 404 model_not_found for model ids that are not ids', async () => {
    for (const id of ['M', 'model\u0000', 'a\nb', '_edge', '.hidden', 'x'.repeat(65), '%E0%A4%A']) {
      const res = await get(`/v1/models/${encodeURIComponent(id)}/manifest`);
      const text = await res.text();
      expect([res.status, JSON.parse(text).error.code], JSON.stringify(id)).toEqual([404, 'model_not_found']);
      if (id.length > 3) expect(text).not.toContain(id);
    }
  });
});

describe("a key's models", () => {
  it('bound the catalog and the manifests it may read: others are left out of the listing and answer 403', async () => {
    const other = await seedModel('unlisted', ['1.0.0']);
    const scoped = {
      ...vars,
      TRUSTED_KEYS: JSON.stringify([seeded.key.publicKey, other.key.publicKey]),
      API_KEYS: JSON.stringify([{ name: 'scoped', sha256: await hashApiKey('k-scoped'), scopes: ['catalog'], models: ['fallback'] }]),
    } as Env;
    const as = { authorization: 'Bearer k-scoped' };
    const listing = await get('/v1/models', as, scoped);
    expect(listing.headers.get('cache-control')).toMatch(/^private/);
    expect(((await listing.json()) as { models: { id: string }[] }).models.map((m) => m.id)).toEqual(['fallback']);
    expect((await get('/v1/models/fallback/manifest', as, scoped)).status).toBe(200);
    for (const path of ['/v1/models/unlisted/manifest', '/v1/models/unlisted/manifest?version=1.0.0']) {
      const res = await get(path, as, scoped);
      expect([res.status, await errorCode(res)], path).toEqual([403, 'forbidden']);
    }
    // Without a key, or with one that lists no models, the listing is everyone's.
    const open = await get('/v1/models', {}, scoped);
    expect(open.headers.get('cache-control')).toMatch(/^public/);
    expect(((await open.json()) as { models: { id: string }[] }).models.map((m) => m.id)).toEqual(['fallback', 'unlisted']);
  });
});
