import { describe, expect, it } from 'vitest';
import type { Manifest } from '../../protocol/manifest.ts';
import type { TimestampRecord } from '../../protocol/trust/timestamp.ts';
import { checkManifest, INITIAL_TRUST_STATE, acceptTimestamp } from '../../protocol/trust/trust-state.ts';
import { manifestBound, MAX_MANIFEST_BYTES, newlyRevoked, parseStoredTrust, pinsId, requestedVersion } from './trust-rules.ts';

const digest = (c: string) => ({ sha256: c.repeat(64), bytes: 3000 });
const record = (revoked: string[] = []): TimestampRecord => ({
  _type: 'timestamp',
  version: 3,
  expires: new Date(Date.now() + 3_600_000).toISOString(),
  rootVersion: 1,
  models: { m: { current: '1.1.0', versions: { '1.0.0': digest('a'), '1.1.0': digest('b'), '1.2.0-rc.1': digest('c') }, revoked } },
});
const manifest = (version: string) => ({ id: 'm', version }) as Manifest;

describe("requestedVersion: the edge's per-client pick", () => {
  it('is a version newer than the record\'s current (a canary); the current or an older one is "current"', () => {
    expect(requestedVersion(record(), manifest('1.2.0-rc.1'))).toBe('1.2.0-rc.1');
    expect(requestedVersion(record(), manifest('1.1.0'))).toBeUndefined();
    expect(requestedVersion(record(), manifest('1.0.0'))).toBeUndefined();
    expect(requestedVersion(record(), { id: 'other', version: '9.0.0' } as Manifest)).toBeUndefined();
  });

  it('so a canary passes checkManifest while an older version served as current is a rollback', () => {
    const r = record();
    const state = acceptTimestamp(INITIAL_TRUST_STATE, r, Date.now());
    const check = (version: string, sha: string) => {
      const m = manifest(version);
      const requested = requestedVersion(r, m);
      checkManifest(state, r, { manifest: m, payloadSha256: sha.repeat(64), ...(requested ? { requested } : {}) }, Date.now());
    };
    expect(() => check('1.2.0-rc.1', 'c')).not.toThrow();
    expect(() => check('1.0.0', 'a')).toThrow(expect.objectContaining({ code: 'rollback_detected' }));
  });
});

describe('manifestBound', () => {
  it('is the largest live payload in base64 plus room for signatures; 1 MiB without a record', () => {
    expect(manifestBound(record(), 'm')).toBe(4000 + 64 * 1024);
    expect(manifestBound(record(), 'unknown')).toBe(MAX_MANIFEST_BYTES);
    expect(manifestBound(undefined, 'm')).toBe(MAX_MANIFEST_BYTES);
  });
});

describe('newlyRevoked', () => {
  it('lists revocations the previous record did not have; all of them without one', () => {
    expect(newlyRevoked(record(['0.9.0']), undefined)).toEqual([['m', ['0.9.0']]]);
    expect(newlyRevoked(record(['0.9.0', '0.8.0']), record(['0.9.0']))).toEqual([['m', ['0.8.0']]]);
    expect(newlyRevoked(record(['0.9.0']), record(['0.9.0']))).toEqual([]);
  });
});

describe('parseStoredTrust', () => {
  const envelope = { payloadType: 't', payload: 'e30=', signatures: [] };
  const stored = { pins: '1:k', root: envelope, timestamp: envelope, state: { rootVersion: 1, timestampVersion: 2, freshAt: 5, floors: {} } };

  it('takes a well-formed value reached from the same pins', () => {
    expect(parseStoredTrust(stored, '1:k')).toBe(stored);
  });

  it('starts over for other pins (a new root of trust) or anything malformed', () => {
    expect(parseStoredTrust(stored, '1:other')).toBeUndefined();
    for (const bad of [
      undefined,
      null,
      'x',
      { ...stored, root: {} },
      { ...stored, state: { ...stored.state, freshAt: 'x' } },
      { ...stored, state: undefined },
    ]) {
      expect(parseStoredTrust(bad, '1:k')).toBeUndefined();
    }
  });

  it('names pins by threshold and sorted keyids', () => {
    const set = (ids: string[], threshold: number) => ({ keys: new Map(ids.map((id) => [id, {} as never])), threshold });
    expect(pinsId(set(['b', 'a'], 1))).toBe(pinsId(set(['a', 'b'], 1)));
    expect(pinsId(set(['a', 'b'], 2))).not.toBe(pinsId(set(['a', 'b'], 1)));
  });
});
