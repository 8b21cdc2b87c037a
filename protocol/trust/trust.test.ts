import { beforeAll, describe, expect, it } from 'vitest';
import { TandemError } from '../errors.ts';
import { generateSigningKey } from '../keys.ts';
import { signManifest } from '../signed-manifest.ts';
import { sampleManifest } from '../test-support/manifest-arbitrary.ts';
import { DAY_MS, payloadDigest, pinnedRootKeys, roleKeys, rootDocument, signedRoot, signedTimestamp, type RoleKeys } from '../test-support/trust-fixture.ts';
import { parseRoot, signRoot, updateRoot, verifyInitialRoot, verifyNextRoot, type VerifiedRoot } from './root.ts';
import { verifyTimestamp, type TimestampRecord } from './timestamp.ts';
import { acceptRoot, acceptTimestamp, assertFreshEnough, checkManifest, INITIAL_TRUST_STATE, type TrustState } from './trust-state.ts';

const NOW = Date.UTC(2026, 10, 24, 12);

async function code(promise: Promise<unknown> | (() => unknown)): Promise<string> {
  try {
    await (typeof promise === 'function' ? promise() : promise);
  } catch (err) {
    expect(err).toBeInstanceOf(TandemError);
    return (err as TandemError).code;
  }
  throw new Error('expected a TandemError');
}

let keys: RoleKeys;
let root: VerifiedRoot;
beforeAll(async () => {
  keys = await roleKeys();
  root = await verifyInitialRoot(await signedRoot(keys, 1, NOW + 365 * DAY_MS), await pinnedRootKeys(keys));
});

describe('root of trust', () => {
  it('verifies the first root with the pinned root keys and hands out each role its keys', () => {
    expect(root.document.version).toBe(1);
    expect([...root.keysFor('release').keys.keys()]).toEqual([keys.release[0]!.keyid]);
    expect([...root.keysFor('timestamp').keys.keys()]).toEqual([keys.timestamp[0]!.keyid]);
  });

  it('refuses a root signed by a key the app does not pin (untrusted key)', async () => {
    const other = await roleKeys();
    expect(await code(verifyInitialRoot(await signedRoot(other, 1, NOW + DAY_MS), await pinnedRootKeys(keys)))).toBe('manifest_signature_invalid');
  });

  it('refuses documents that name keys they do not hold, or thresholds above their keys', () => {
    const doc = rootDocument(keys, 1, NOW + DAY_MS);
    expect(() => parseRoot({ ...doc, roles: { ...doc.roles, release: { keyids: ['ab'.repeat(32)], threshold: 1 } } })).toThrow(/not in keys/);
    expect(() => parseRoot({ ...doc, roles: { ...doc.roles, timestamp: { ...doc.roles.timestamp, threshold: 2 } } })).toThrow(/threshold 2/);
  });

  it('rotates the release key through root version 2 signed by the old and the new root keys', async () => {
    const rotated: RoleKeys = { ...keys, release: [await generateSigningKey()] };
    const v2 = await verifyNextRoot(root, await signedRoot(rotated, 2, NOW + 365 * DAY_MS));
    expect([...v2.keysFor('release').keys.keys()]).toEqual([rotated.release[0]!.keyid]);
    // The retired release key no longer signs anything this verifier accepts.
    const oldSigned = await signManifest(sampleManifest(), keys.release);
    const { verifyManifest } = await import('../signed-manifest.ts');
    expect(await code(verifyManifest(oldSigned, v2.keysFor('release')))).toBe('manifest_signature_invalid');
  });

  it('rotates the root key itself only with both thresholds: old alone or new alone is refused', async () => {
    const next: RoleKeys = { ...keys, root: [await generateSigningKey()] };
    const doc = rootDocument(next, 2, NOW + DAY_MS);
    expect(await code(verifyNextRoot(root, await signRoot(doc, keys.root)))).toBe('manifest_signature_invalid');
    expect(await code(verifyNextRoot(root, await signRoot(doc, next.root)))).toBe('manifest_signature_invalid');
    const both = await verifyNextRoot(root, await signRoot(doc, [...keys.root, ...next.root]));
    expect(both.document.version).toBe(2);
  });

  it('accepts only version n+1: a skipped or repeated version is a rollback', async () => {
    expect(await code(verifyNextRoot(root, await signedRoot(keys, 3, NOW + DAY_MS)))).toBe('rollback_detected');
    expect(await code(verifyNextRoot(root, await signedRoot(keys, 1, NOW + DAY_MS)))).toBe('rollback_detected');
    expect(await code(() => acceptRoot({ ...INITIAL_TRUST_STATE, rootVersion: 3 }, 2))).toBe('rollback_detected');
  });

  it('walks the chain to the newest root, and refuses it once expired (freeze)', async () => {
    const chain = new Map([
      [2, await signedRoot(keys, 2, NOW - 1)],
      [3, await signedRoot(keys, 3, NOW + DAY_MS)],
    ]);
    const newest = await updateRoot(root, async (v) => chain.get(v), NOW);
    expect(newest.document.version).toBe(3);
    chain.delete(3);
    expect(await code(updateRoot(root, async (v) => chain.get(v), NOW))).toBe('metadata_expired');
  });
});

describe('timestamp record and manifests', () => {
  let manifest: ReturnType<typeof sampleManifest>;
  let older: ReturnType<typeof sampleManifest>;
  let record: TimestampRecord;
  let digest: string;
  let olderDigest: string;
  beforeAll(async () => {
    manifest = { ...sampleManifest(), version: '1.1.0', expires: new Date(NOW + 30 * DAY_MS).toISOString() };
    older = { ...sampleManifest(), version: '1.0.0', expires: new Date(NOW + 30 * DAY_MS).toISOString() };
    digest = (await payloadDigest(await signManifest(manifest, keys.release))).sha256;
    olderDigest = (await payloadDigest(await signManifest(older, keys.release))).sha256;
    record = {
      _type: 'timestamp',
      version: 5,
      expires: new Date(NOW + DAY_MS).toISOString(),
      rootVersion: 1,
      models: {
        [manifest.id]: { current: '1.1.0', versions: { '1.1.0': { sha256: digest, bytes: 1 }, '1.0.0': { sha256: olderDigest, bytes: 1 } }, revoked: [] },
      },
    };
  });
  const state = (): TrustState => acceptTimestamp(INITIAL_TRUST_STATE, record, NOW);

  it('verifies a record with the timestamp role only', async () => {
    const { _type, ...rest } = record;
    expect((await verifyTimestamp(await signedTimestamp(keys, rest), root, NOW)).record.version).toBe(5);
    expect(await code(verifyTimestamp(await signedTimestamp(keys, rest, keys.release), root, NOW))).toBe('manifest_signature_invalid');
  });

  it('refuses an expired record (freeze) and a record older than one seen (rollback)', async () => {
    const { _type, ...rest } = record;
    expect(await code(verifyTimestamp(await signedTimestamp(keys, { ...rest, expires: new Date(NOW - 1).toISOString() }), root, NOW))).toBe('metadata_expired');
    expect(await code(() => acceptTimestamp(state(), { ...record, version: 4 }, NOW))).toBe('rollback_detected');
    expect(acceptTimestamp(state(), { ...record, version: 6 }, NOW).timestampVersion).toBe(6);
  });

  it('accepts the current manifest it names, and an older live version when asked for by version', () => {
    expect(() => checkManifest(state(), record, { manifest, payloadSha256: digest }, NOW)).not.toThrow();
    expect(() => checkManifest(state(), record, { manifest: older, payloadSha256: olderDigest, requested: '1.0.0' }, NOW)).not.toThrow();
  });

  it('refuses an older manifest served as current (rollback), keeping the floor', async () => {
    expect(await code(() => checkManifest(state(), record, { manifest: older, payloadSha256: olderDigest }, NOW))).toBe('rollback_detected');
    expect(state().floors[manifest.id]).toBe('1.1.0');
  });

  it('refuses a manifest whose digest is not the one the record names (mix-and-match)', async () => {
    expect(await code(() => checkManifest(state(), record, { manifest, payloadSha256: olderDigest }, NOW))).toBe('manifest_signature_invalid');
  });

  it('refuses a revoked version, and a version the record no longer lists once a newer one was seen', async () => {
    const revoked: TimestampRecord = {
      ...record,
      version: 6,
      models: { [manifest.id]: { current: '1.1.0', versions: { '1.1.0': { sha256: digest, bytes: 1 } }, revoked: ['1.0.0'] } },
    };
    expect(await code(() => checkManifest(state(), revoked, { manifest: older, payloadSha256: olderDigest, requested: '1.0.0' }, NOW))).toBe('version_revoked');
    const dropped: TimestampRecord = { ...revoked, models: { [manifest.id]: { ...revoked.models[manifest.id]!, revoked: [] } } };
    expect(await code(() => checkManifest(state(), dropped, { manifest: older, payloadSha256: olderDigest, requested: '1.0.0' }, NOW))).toBe(
      'rollback_detected',
    );
  });

  it('refuses a manifest past its own expiry, even when the record names it', async () => {
    const expired = { ...manifest, expires: new Date(NOW - 1).toISOString() };
    expect(await code(() => checkManifest(state(), record, { manifest: expired, payloadSha256: digest }, NOW))).toBe('metadata_expired');
  });

  it('lets cached models run offline only within offlineMaxAgeMs of the last fresh record', async () => {
    expect(await code(() => assertFreshEnough(INITIAL_TRUST_STATE, NOW, DAY_MS))).toBe('metadata_expired');
    expect(() => assertFreshEnough(state(), NOW + DAY_MS, DAY_MS)).not.toThrow();
    expect(await code(() => assertFreshEnough(state(), NOW + DAY_MS + 1, DAY_MS))).toBe('metadata_expired');
  });
});
