/**
 * The update framework's attacks against the origin (Node, a real repository on disk, real models): each
 * test writes what an attacker or a mistake would put in the repository and asserts the typed refusal,
 * that readiness lists it, and that nothing refused is served. Slow retrieval does not apply here: the
 * origin reads its metadata from local disk.
 */
import { cp, mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DsseEnvelope } from '../../protocol/dsse.ts';
import { parseErrorBody, TandemError } from '../../protocol/errors.ts';
import { generateSigningKey, type SigningKey } from '../../protocol/keys.ts';
import { rootKey, TIMESTAMP_KEY } from '../../protocol/repository-layout.ts';
import { signManifest } from '../../protocol/signed-manifest.ts';
import { DAY_MS, payloadDigest, roleKeys, signedRoot, signedTimestamp, type RoleKeys } from '../../protocol/test-support/trust-fixture.ts';
import type { TimestampRecord } from '../../protocol/trust/timestamp.ts';
import { DEV_TOKEN } from '../config.ts';
import type { RunningOrigin } from '../server.ts';
import { ADMIN_TOKEN, copyVersion, readVerifiedManifest, signedRepository, startTestOrigin, type TestRepository } from '../test-support.ts';

const ID = 'mlp-classifier';
type Models = TimestampRecord['models'];

let repo: TestRepository;
let keys: RoleKeys;
let pinned: string;

async function writeDoc(repository: string, key: string, body: unknown): Promise<void> {
  const path = join(repository, ...key.split('/'));
  await mkdir(join(path, '..'), { recursive: true });
  await writeFile(`${path}.tmp`, typeof body === 'string' ? body : JSON.stringify(body));
  await cp(`${path}.tmp`, path); // A new mtime every time, as `tandem release` gives with its rename.
  await rm(`${path}.tmp`);
}

async function digestOf(repository: string, version: string): Promise<{ sha256: string; bytes: number }> {
  return payloadDigest(JSON.parse(await readFile(join(repository, ID, version, 'manifest.dsse.json'), 'utf8')) as DsseEnvelope);
}

/** A record for mlp-classifier: `current`, the live versions (their real digests unless given), revocations. */
async function record(
  repository: string,
  version: number,
  current: string,
  live: string[],
  revoked: string[] = [],
  expiresInMs = DAY_MS,
  digests: Record<string, { sha256: string; bytes: number }> = {},
): Promise<DsseEnvelope> {
  const versions: Models[string]['versions'] = {};
  for (const v of live) versions[v] = digests[v] ?? (await digestOf(repository, v));
  return signedTimestamp(keys, {
    version,
    expires: new Date(Date.now() + expiresInMs).toISOString(),
    rootVersion: 1,
    models: { [ID]: { current, versions, revoked } },
  });
}

/** Version `to` of mlp-classifier, 1.0.0's files, its manifest signed by `signer` (and `changes` applied). */
async function storeVersion(repository: string, to: string, signer: SigningKey, changes: Record<string, unknown> = {}): Promise<void> {
  const manifest = { ...(await readVerifiedManifest(repo, ID, '1.0.0')), version: to, ...changes };
  await cp(join(repository, ID, '1.0.0'), join(repository, ID, to), { recursive: true });
  await writeFile(join(repository, ID, to, 'manifest.dsse.json'), JSON.stringify(await signManifest(manifest, [signer])));
}

async function until(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; !(await condition()); ) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

interface Readiness {
  ready: boolean;
  models: { name: string; version: string; current: boolean }[];
  refused: { name: string; version: string; code: string; reason: string }[];
}
const readiness = async (origin: RunningOrigin) => (await (await fetch(`${origin.url}/v2/health/ready`)).json()) as Readiness;
const refusedCode = async (origin: RunningOrigin, version: string) => (await readiness(origin)).refused.find((r) => r.version === version)?.code;
const served = (origin: RunningOrigin) =>
  origin.registry
    .list()
    .map((m) => m.version)
    .sort();

async function hotSwap(origin: RunningOrigin, version: string): Promise<{ status: number; code?: string }> {
  const res = await fetch(`${origin.url}/v2/repository/models/${ID}/load`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ version }),
  });
  if (res.ok) return { status: res.status };
  return { status: res.status, code: parseErrorBody(res.status, await res.json(), res.headers).code };
}

/** A copy of the test repository with root version 1 (release key: the repository's key) and `records` written. */
async function trustedCopy(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tandem-origin-trust-'));
  await cp(repo.repository, dir, { recursive: true });
  await writeDoc(dir, rootKey(1), await signedRoot(keys, 1, Date.now() + 365 * DAY_MS));
  return dir;
}

async function startError(repository: string, overrides: Parameters<typeof startTestOrigin>[1] = {}): Promise<TandemError> {
  try {
    const { origin } = await startTestOrigin({ ...repo, repository }, { rootKeys: pinned, ...overrides });
    await origin.shutdown();
  } catch (err) {
    expect(err).toBeInstanceOf(TandemError);
    return err as TandemError;
  }
  throw new Error('the origin started');
}

beforeAll(async () => {
  repo = await signedRepository([ID]);
  await copyVersion(repo, ID, '1.0.0', '1.1.0');
  keys = { ...(await roleKeys()), release: [repo.key] };
  pinned = JSON.stringify({ keys: keys.root.map((k) => k.publicKey) });
}, 120_000);
afterAll(() => repo?.cleanup());

describe('origin with a root of trust', () => {
  let dir: string;
  let origin: RunningOrigin;
  let lines: Record<string, unknown>[];

  beforeAll(async () => {
    dir = await trustedCopy();
    await writeDoc(dir, TIMESTAMP_KEY, await record(dir, 1, '1.1.0', ['1.0.0', '1.1.0']));
    // TANDEM_TRUSTED_KEYS trusts nothing: with a root, the release keys come from it.
    ({ origin, lines } = await startTestOrigin({ ...repo, repository: dir }, { rootKeys: pinned, trustedKeys: '[]', trustCheckMs: 25 }));
  }, 60_000);
  afterAll(async () => {
    await origin?.shutdown();
    await rm(dir, { recursive: true, force: true });
  });

  it("verifies manifests with the root's release keys and makes the record's current version current", async () => {
    expect(served(origin)).toEqual(['1.0.0', '1.1.0']);
    expect(origin.registry.currentVersion(ID)).toBe('1.1.0');
    const listening = lines.find((l) => l.event === 'listening')!;
    expect(listening.trusted_keys).toEqual({ from: 'root version 1 (release role)', keyids: [repo.key.keyid], threshold: 1 });
    expect(listening.root_of_trust).toMatchObject({ root_version: 1, pinned: true, timestamp_version: 1 });
  });

  it('rollback: an older version the record no longer lists is refused (rollback_detected), and is served again once listed', async () => {
    await writeDoc(dir, TIMESTAMP_KEY, await record(dir, 2, '1.1.0', ['1.1.0']));
    await until('1.0.0 withdrawn', async () => (await refusedCode(origin, '1.0.0')) === 'rollback_detected');
    expect(served(origin)).toEqual(['1.1.0']);
    expect((await hotSwap(origin, '1.0.0')).code).toBe('rollback_detected');
    await writeDoc(dir, TIMESTAMP_KEY, await record(dir, 3, '1.1.0', ['1.0.0', '1.1.0']));
    await until('1.0.0 back', () => served(origin).includes('1.0.0'));
    expect(origin.registry.currentVersion(ID)).toBe('1.1.0');
  });

  it('revocation reaches the running origin: the version is withdrawn, readiness says version_revoked, hot swap refuses it (410)', async () => {
    await writeDoc(dir, TIMESTAMP_KEY, await record(dir, 4, '1.1.0', ['1.1.0'], ['1.0.0']));
    await until('1.0.0 revoked', async () => (await refusedCode(origin, '1.0.0')) === 'version_revoked');
    expect(served(origin)).toEqual(['1.1.0']);
    expect(await hotSwap(origin, '1.0.0')).toEqual({ status: 410, code: 'version_revoked' });
    expect(served(origin)).toEqual(['1.1.0']);
  });

  it('rollback: an older timestamp record is refused (rollback_detected) and the newer one stays in force', async () => {
    await writeDoc(dir, TIMESTAMP_KEY, await record(dir, 3, '1.1.0', ['1.0.0', '1.1.0']));
    await until('the old record refused', () => lines.some((l) => l.event === 'trust_refused' && l.code === 'rollback_detected'));
    expect(await hotSwap(origin, '1.0.0')).toEqual({ status: 410, code: 'version_revoked' });
    expect(served(origin)).toEqual(['1.1.0']);
  });

  it('mix-and-match: a version whose manifest is not the one the record names is refused', async () => {
    await storeVersion(dir, '1.2.0', repo.key);
    await writeDoc(dir, TIMESTAMP_KEY, await record(dir, 5, '1.1.0', ['1.1.0', '1.2.0'], ['1.0.0'], DAY_MS, { '1.2.0': await digestOf(dir, '1.1.0') }));
    expect(await hotSwap(origin, '1.2.0')).toEqual({ status: 422, code: 'manifest_signature_invalid' });
    expect((await readiness(origin)).refused.find((r) => r.version === '1.2.0')?.reason).toMatch(/is not the manifest timestamp record 5 names/);
    expect(served(origin)).toEqual(['1.1.0']);
  });

  it('untrusted key: a released version signed by a key outside the release role is refused', async () => {
    await storeVersion(dir, '1.3.0', await generateSigningKey());
    await writeDoc(dir, TIMESTAMP_KEY, await record(dir, 6, '1.1.0', ['1.1.0', '1.3.0'], ['1.0.0']));
    expect(await hotSwap(origin, '1.3.0')).toEqual({ status: 422, code: 'manifest_signature_invalid' });
    expect(served(origin)).toEqual(['1.1.0']);
  });

  it('endless data: a timestamp record over its bound is refused unread (payload_too_large) and the last good one stays', async () => {
    await writeDoc(dir, TIMESTAMP_KEY, ' '.repeat(2 * 1024 * 1024));
    await until('the huge record refused', () => lines.some((l) => l.event === 'trust_refused' && l.code === 'payload_too_large'));
    expect(served(origin)).toEqual(['1.1.0']);
    expect(await hotSwap(origin, '1.0.0')).toEqual({ status: 410, code: 'version_revoked' });
  });

  it('freeze: once the record expires nothing is served (metadata_expired); a fresh record brings the models back', async () => {
    await writeDoc(dir, TIMESTAMP_KEY, await record(dir, 7, '1.1.0', ['1.1.0'], ['1.0.0'], 800));
    await until('the record expired', async () => (await refusedCode(origin, '1.1.0')) === 'metadata_expired');
    const state = await readiness(origin);
    expect(state.ready).toBe(false);
    expect(state.refused.find((r) => r.version === '1.1.0')?.reason).toMatch(/timestamp record 7 expired at/);
    expect(served(origin)).toEqual([]);
    await writeDoc(dir, TIMESTAMP_KEY, await record(dir, 8, '1.1.0', ['1.1.0'], ['1.0.0']));
    await until('1.1.0 back', () => served(origin).includes('1.1.0'));
    expect(origin.registry.currentVersion(ID)).toBe('1.1.0');
  });

  it('freeze: a manifest past its own expiry is refused at load (metadata_expired), even when released', async () => {
    await storeVersion(dir, '1.5.0', repo.key, { expires: new Date(Date.now() - 1000).toISOString() });
    await writeDoc(dir, TIMESTAMP_KEY, await record(dir, 9, '1.1.0', ['1.1.0', '1.5.0'], ['1.0.0']));
    expect(await hotSwap(origin, '1.5.0')).toEqual({ status: 422, code: 'metadata_expired' });
    expect(await refusedCode(origin, '1.5.0')).toBe('metadata_expired');
  });

  it('revoked key, then rotation: root version 2 drops the release key (what it signed is withdrawn) and names a new one, accepted without new pinned keys', async () => {
    const release2 = await generateSigningKey();
    const rotated: RoleKeys = { ...keys, release: [release2] };
    await storeVersion(dir, '1.4.0', release2);
    await writeDoc(dir, rootKey(2), await signedRoot(rotated, 2, Date.now() + 365 * DAY_MS));
    const released = await record(dir, 10, '1.4.0', ['1.1.0', '1.4.0'], ['1.0.0']);
    await writeDoc(dir, TIMESTAMP_KEY, released);
    await until('1.1.0 withdrawn', async () => (await refusedCode(origin, '1.1.0')) === 'manifest_signature_invalid');
    await until('1.4.0 served as current', () => origin.registry.currentVersion(ID) === '1.4.0');
    expect(served(origin)).toEqual(['1.4.0']);
    expect(await hotSwap(origin, '1.1.0')).toEqual({ status: 422, code: 'manifest_signature_invalid' });
  });
});

describe('origin start with a root of trust', () => {
  const dirs: string[] = [];
  afterAll(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));
  const copy = async () => {
    const dir = await trustedCopy();
    dirs.push(dir);
    return dir;
  };

  it('untrusted key: refuses to start when root version 1 is not signed by the pinned root keys', async () => {
    const dir = await copy();
    await writeDoc(dir, rootKey(1), await signedRoot(await roleKeys(), 1, Date.now() + DAY_MS));
    expect((await startError(dir)).code).toBe('manifest_signature_invalid');
  });

  it('endless data: refuses a root document over its bound before parsing it', async () => {
    const dir = await copy();
    await writeDoc(dir, rootKey(1), `{"payload":"${'A'.repeat(70 * 1024)}"}`);
    const error = await startError(dir);
    expect(error.code).toBe('payload_too_large');
    expect(error.message).toMatch(/root version 1 is \d+ bytes, over the 65536-byte bound/);
  });

  it('without pinned root keys: refuses to start, unless on dev tokens (trust on first use, with a warning)', async () => {
    const dir = await copy();
    await writeDoc(dir, TIMESTAMP_KEY, await record(dir, 1, '1.1.0', ['1.0.0', '1.1.0']));
    expect((await startError(dir, { rootKeys: undefined })).code).toBe('key_invalid');
    const { origin, lines } = await startTestOrigin({ ...repo, repository: dir }, { inferenceToken: DEV_TOKEN });
    try {
      expect(lines.find((l) => l.event === 'root_trusted_on_first_use')).toMatchObject({ root_version: 1 });
      expect(served(origin)).toEqual(['1.0.0', '1.1.0']);
    } finally {
      await origin.shutdown();
    }
  });

  it('freeze: with a root but no timestamp record, nothing is served (metadata_expired)', async () => {
    const dir = await copy();
    const { origin } = await startTestOrigin({ ...repo, repository: dir }, { rootKeys: pinned });
    try {
      expect(served(origin)).toEqual([]);
      expect((await readiness(origin)).refused.map((r) => r.code)).toEqual(['metadata_expired', 'metadata_expired']);
    } finally {
      await origin.shutdown();
    }
  });
});

describe('origin without a root of trust', () => {
  it('freeze: refuses a manifest past its expiry at load, and readiness shows metadata_expired', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tandem-origin-expired-'));
    try {
      await cp(repo.repository, dir, { recursive: true });
      await storeVersion(dir, '1.6.0', repo.key, { expires: new Date(Date.now() - 1000).toISOString() });
      const { origin } = await startTestOrigin({ ...repo, repository: dir });
      try {
        expect(served(origin)).toEqual(['1.0.0', '1.1.0']);
        expect(await refusedCode(origin, '1.6.0')).toBe('metadata_expired');
      } finally {
        await origin.shutdown();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
