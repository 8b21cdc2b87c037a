/**
 * The local stack's dev root of trust: made once, kept across starts with a fresh record each time, made
 * again when it is not the dev root key's, rotated when near its expiry; and seeded into the edge's R2.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSigningKey, writeSigningKey, DEV_KEY_FILE } from '../models/keys-store.ts';
import { readTimestampEnvelope, readTrustedRoot, rootVersions, writeDocument } from '../models/trust/metadata-store.ts';
import { copyVersion, signedRepository, type TestRepository } from '../origin/test-support.ts';
import { RepositoryTrust } from '../origin/trust/repository-trust.ts';
import { loadTrustedKeys } from '../protocol/keys.ts';
import { rootKey, TIMESTAMP_KEY } from '../protocol/repository-layout.ts';
import { roleKeys, signedRoot } from '../protocol/test-support/trust-fixture.ts';
import { signTimestamp, verifyTimestamp } from '../protocol/trust/timestamp.ts';
import { DEV_RECORD_LIFETIME_MS, DEV_TIMESTAMP_KEY_FILE, ensureDevTrust, ROOT_KEYS_FILE } from './dev-trust.ts';
import { trustKeys } from './seed-r2.ts';

const DAY_MS = 24 * 60 * 60 * 1000;
let repo: TestRepository;
let keyDir: string;

beforeAll(async () => {
  repo = await signedRepository(['mlp-classifier']);
  await copyVersion(repo, 'mlp-classifier', '1.0.0', '1.1.0');
  keyDir = await mkdtemp(join(tmpdir(), 'tandem-dev-trust-'));
  // The dev signing key is the release key: the repository's manifests stay valid.
  await writeSigningKey(join(keyDir, DEV_KEY_FILE), repo.key);
}, 120_000);
afterAll(async () => {
  await repo?.cleanup();
  await rm(keyDir, { recursive: true, force: true });
});

const pinned = async () => loadTrustedKeys(await readFile(join(keyDir, ROOT_KEYS_FILE), 'utf8'));

describe('ensureDevTrust', () => {
  it('makes root version 1 and a record releasing every version, newest current, for a day; the origin verifies both', async () => {
    const now = Date.now();
    const trust = await ensureDevTrust(repo.repository, { keyDir, now });
    expect(trust.rootVersion).toBe(1);
    expect(trust.record.version).toBe(1);
    expect(Date.parse(trust.record.expires)).toBe(now + DEV_RECORD_LIFETIME_MS);
    expect(trust.record.models['mlp-classifier']).toMatchObject({ current: '1.1.0', revoked: [] });
    expect(Object.keys(trust.record.models['mlp-classifier']!.versions).sort()).toEqual(['1.0.0', '1.1.0']);
    const root = await readTrustedRoot(repo.repository, await pinned());
    expect([...root.keysFor('release').keys.keys()]).toEqual([repo.key.keyid]);
    const origin = await RepositoryTrust.open({ repository: repo.repository, pinned: await pinned() });
    expect(origin?.status()).toMatchObject({ root_version: 1, timestamp_version: 1, refused: null });
  });

  it('keeps the root across starts and refreshes the record (a higher version, a new expiry), keeping revocations', async () => {
    const root = await readTrustedRoot(repo.repository, await pinned());
    const previous = (await verifyTimestamp(await readTimestampEnvelope(repo.repository), root, 0)).record;
    const revoked = {
      ...previous,
      version: previous.version + 1,
      models: { 'mlp-classifier': { current: '1.1.0', versions: { '1.1.0': previous.models['mlp-classifier']!.versions['1.1.0']! }, revoked: ['1.0.0'] } },
    };
    await writeDocument(repo.repository, TIMESTAMP_KEY, await signTimestamp(revoked, [await readSigningKey(join(keyDir, DEV_TIMESTAMP_KEY_FILE))]));
    const later = Date.now() + 60_000;
    const trust = await ensureDevTrust(repo.repository, { keyDir, now: later });
    expect(trust.rootVersion).toBe(1);
    expect(await rootVersions(repo.repository)).toEqual([1]);
    expect(trust.record.version).toBe(revoked.version + 1);
    expect(Date.parse(trust.record.expires)).toBe(later + DEV_RECORD_LIFETIME_MS);
    expect(trust.record.models['mlp-classifier']).toMatchObject({ current: '1.1.0', revoked: ['1.0.0'] });
    expect(Object.keys(trust.record.models['mlp-classifier']!.versions)).toEqual(['1.1.0']);
  });

  it('rotates a root near its expiry to the next version', async () => {
    const trust = await ensureDevTrust(repo.repository, { keyDir, now: Date.now() + 340 * DAY_MS });
    expect(trust.rootVersion).toBe(2);
    expect((await readTrustedRoot(repo.repository, await pinned())).document.version).toBe(2);
  });

  it('replaces a root the dev root key did not make with its own version 1', async () => {
    await rm(join(repo.repository, '_trust'), { recursive: true });
    await writeDocument(repo.repository, rootKey(1), await signedRoot(await roleKeys(), 1, Date.now() + 365 * DAY_MS));
    const trust = await ensureDevTrust(repo.repository, { keyDir });
    expect(trust).toMatchObject({ rootVersion: 1, record: { version: 1 } });
    expect((await readTrustedRoot(repo.repository, await pinned())).document.version).toBe(1);
  });

  it('is what the edge is seeded with: root versions in order, then the record', async () => {
    expect(await trustKeys(repo.repository)).toEqual([rootKey(1), TIMESTAMP_KEY]);
  });
});
