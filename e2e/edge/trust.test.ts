/**
 * The local stack's root of trust across real processes: a repository given a dev root and record by
 * stack/dev-trust.ts (as `tandem start` does), seeded into `wrangler dev`'s R2 with its `_trust/`, an
 * edge pinning the root keys (ROOT_KEYS) and an origin pinning them too (TANDEM_ROOT_KEYS). A revocation
 * written to the repository reaches the running origin.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseErrorBody } from '../../protocol/errors.ts';
import { DEV_KEY_FILE, readSigningKey, writeSigningKey } from '../../models/keys-store.ts';
import { writeDocument } from '../../models/trust/metadata-store.ts';
import { withRevocation } from '../../models/trust/timestamp-update.ts';
import { INFER_TOKEN, type TestRepository } from '../../origin/test-support.ts';
import { rootKey, TIMESTAMP_KEY } from '../../protocol/repository-layout.ts';
import { signTimestamp } from '../../protocol/trust/timestamp.ts';
import { DEV_TIMESTAMP_KEY_FILE, ensureDevTrust, type DevTrust } from '../../stack/dev-trust.ts';
import { startEdge, type RunningEdge } from '../../stack/edge-process.ts';
import { spawnOrigin as spawnOriginProcess, type OriginProcess } from '../../stack/origin-process.ts';
import { canaryRepository, inferBody } from './support.ts';

const MODEL = 'mlp-classifier';
const ADMIN = 'it-admin';
let repo: TestRepository;
let keyDir: string;
let trust: DevTrust;
let rootKeys: string;
let origin: OriginProcess;
let edge: RunningEdge;

beforeAll(async () => {
  repo = await canaryRepository();
  keyDir = await mkdtemp(join(tmpdir(), 'tandem-e2e-trust-'));
  await writeSigningKey(join(keyDir, DEV_KEY_FILE), repo.key);
  trust = await ensureDevTrust(repo.repository, { keyDir });
  rootKeys = await readFile(trust.rootKeysFile, 'utf8');
  origin = await spawnOriginProcess({
    repository: repo.repository,
    env: {
      TANDEM_ROOT_KEYS: rootKeys,
      TANDEM_TRUSTED_KEYS: '[]',
      TANDEM_ORIGIN_TOKEN: INFER_TOKEN,
      TANDEM_ADMIN_TOKEN: 'test-admin',
      TANDEM_INTRA_OP_THREADS: '1',
      TANDEM_TRUST_CHECK_MS: '100',
    },
  });
  edge = await startEdge({
    origins: [origin.url],
    repository: repo.repository,
    trustedKeys: '[]',
    rootKeys,
    originToken: INFER_TOKEN,
    apiKeys: [
      { name: 'infer', key: 'it-infer', scopes: ['infer', 'catalog'] },
      { name: 'admin', key: ADMIN, scopes: ['admin'] },
    ],
  });
});

afterAll(async () => {
  await edge?.stop();
  await origin?.stop();
  await repo?.cleanup();
  if (keyDir) await rm(keyDir, { recursive: true, force: true });
});

describe('root of trust across the tiers', () => {
  it('the edge serves the seeded, verified root and record as they are on disk', async () => {
    const root = await fetch(`${edge.url}/v1/trust/root/1.json`);
    expect(root.status).toBe(200);
    expect(root.headers.get('cache-control')).toMatch(/immutable/);
    expect(await root.text()).toBe(await readFile(join(repo.repository, ...rootKey(1).split('/')), 'utf8'));
    const record = await fetch(`${edge.url}/v1/trust/timestamp.json`);
    expect(record.status).toBe(200);
    expect(await record.text()).toBe(await readFile(join(repo.repository, ...TIMESTAMP_KEY.split('/')), 'utf8'));
    const status = (await (await fetch(`${edge.url}/v1/edge/status`, { headers: { authorization: `Bearer ${ADMIN}` } })).json()) as { trust: unknown };
    expect(status.trust).toMatchObject({ root_version: 1, timestamp: { version: trust.record.version, expired: false }, refused: null });
  });

  it("the edge serves the record's current manifest, verified with the root's release key, and inference reaches the origin", async () => {
    const manifest = await fetch(`${edge.url}/v1/models/${MODEL}/manifest`);
    expect(manifest.status).toBe(200);
    expect(manifest.headers.get('x-model-version')).toBe('1.1.0');
    const res = await fetch(`${edge.url}/v2/models/${MODEL}/infer`, {
      method: 'POST',
      body: inferBody(),
      headers: { authorization: 'Bearer it-infer', 'content-type': 'application/json' },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-model-version')).toBe('1.1.0');
  });

  it('a revocation written to the repository reaches the running origin: the version is withdrawn', async () => {
    const revoked = withRevocation(trust.record, { expires: new Date(Date.now() + 3_600_000).toISOString(), rootVersion: 1 }, MODEL, '1.0.0');
    await writeDocument(repo.repository, TIMESTAMP_KEY, await signTimestamp(revoked, [await readSigningKey(join(keyDir, DEV_TIMESTAMP_KEY_FILE))]));
    let code: string | undefined;
    for (const deadline = Date.now() + 10_000; code !== 'version_revoked' && Date.now() < deadline; ) {
      await new Promise((r) => setTimeout(r, 100));
      const ready = (await (await fetch(`${origin.url}/v2/health/ready`)).json()) as { refused: { version: string; code: string }[] };
      code = ready.refused.find((r) => r.version === '1.0.0')?.code;
    }
    expect(code).toBe('version_revoked');
    const res = await fetch(`${edge.url}/v2/models/${MODEL}/versions/1.0.0/infer`, {
      method: 'POST',
      body: inferBody(),
      headers: { authorization: 'Bearer it-infer', 'content-type': 'application/json' },
    });
    expect(res.status).toBe(503);
    expect(parseErrorBody(res.status, await res.json(), res.headers).code).toBe('model_not_ready');
  });
});
