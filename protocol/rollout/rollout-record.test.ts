import { beforeAll, describe, expect, it } from 'vitest';
import { decodeBase64, encodeBase64 } from '../base64.ts';
import { signEnvelope } from '../dsse.ts';
import { TandemError } from '../errors.ts';
import { generateSigningKey, loadTrustedKeys, type SigningKey, type TrustedKeySet } from '../keys.ts';
import { rolloutKey } from '../repository-layout.ts';
import { acceptRollout } from './rollout-floors.ts';
import { canaryVersions, parseRollout, percentShares, ROLLOUT_PAYLOAD_TYPE, signRollout, verifyRollout, type RolloutRecord } from './rollout-record.ts';

const NOW = Date.parse('2026-11-24T12:00:00Z');
const DAY = 86_400_000;

function record(changes: Partial<RolloutRecord> = {}): RolloutRecord {
  return {
    _type: 'rollout',
    model: 'm',
    version: 3,
    expires: new Date(NOW + 7 * DAY).toISOString(),
    stable: '1.0.0',
    weights: { '1.0.0': 90, '1.1.0': 10 },
    rollback: { maxErrorRate: 0.05, minMedianConfidence: 0.5, minSamples: 100 },
    ...changes,
  };
}

async function code(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(TandemError);
    return (err as TandemError).code;
  }
  return 'resolved';
}

let release: SigningKey;
let other: SigningKey;
let keys: TrustedKeySet;

beforeAll(async () => {
  release = await generateSigningKey();
  other = await generateSigningKey();
  keys = await loadTrustedKeys([release.publicKey]);
});

describe('rollout record', () => {
  it('signs and verifies a record with the release keys', async () => {
    const verified = await verifyRollout(await signRollout(record(), [release]), keys, NOW, 'm');
    expect(verified.record).toEqual(record());
    expect(verified.keyids).toEqual([release.keyid]);
    expect(rolloutKey('m')).toBe('_rollout/m.dsse.json');
  });

  it('accepts weights summing to 100 or to 1, and gives shares in percent', () => {
    expect(percentShares(parseRollout(record({ weights: { '1.0.0': 0.7, '1.1.0': 0.2, '1.2.0': 0.1 } })))).toEqual({
      '1.0.0': expect.closeTo(70, 9),
      '1.1.0': expect.closeTo(20, 9),
      '1.2.0': expect.closeTo(10, 9),
    });
    expect(percentShares(parseRollout(record()))).toEqual({ '1.0.0': 90, '1.1.0': 10 });
    expect(canaryVersions(parseRollout(record({ weights: { '1.0.0': 100, '1.1.0': 0, '1.2.0': 0 } })))).toEqual([]);
    expect(canaryVersions(parseRollout(record()))).toEqual(['1.1.0']);
  });

  it.each([
    ['weights that sum to neither 100 nor 1', { weights: { '1.0.0': 90, '1.1.0': 5 } }, /weights sum to 95, not 100 or 1/],
    ['a negative weight', { weights: { '1.0.0': 110, '1.1.0': -10 } }, /weight must be >= 0/],
    ['no versions', { weights: {} }, /at least one version/],
    ['a stable version without a weight', { stable: '2.0.0' }, /stable version 2.0.0 is not among the weights/],
    ['a version that is not semantic', { weights: { '1.0.0': 90, latest: 10 } }, /weights/],
    ['a weight that is not a number', { weights: { '1.0.0': 90, '1.1.0': '10' } }, /weights/],
    ['an error-rate threshold over 1', { rollback: { maxErrorRate: 2, minMedianConfidence: 0.5, minSamples: 1 } }, /rollback.maxErrorRate/],
    ['a version number of 0', { version: 0 }, /version/],
    ['a model id with a slash', { model: 'a/b' }, /model/],
  ])('refuses %s with manifest_invalid', (_name, changes, message) => {
    const bad = { ...record(), ...changes } as unknown;
    expect(() => parseRollout(bad)).toThrow(message);
    try {
      parseRollout(bad);
    } catch (err) {
      expect((err as TandemError).code).toBe('manifest_invalid');
    }
  });

  it('refuses unknown fields and will not sign an invalid record', async () => {
    expect(() => parseRollout({ ...record(), canary: 'yes' })).toThrow(TandemError);
    expect(await code(signRollout(record({ weights: { '1.0.0': 50 } }), [release]))).toBe('manifest_invalid');
  });

  it('refuses a valid signature whose signed record is invalid', async () => {
    const envelope = await signEnvelope(ROLLOUT_PAYLOAD_TYPE, new TextEncoder().encode(JSON.stringify({ ...record(), weights: { '1.0.0': 42 } })), [release]);
    expect(await code(verifyRollout(envelope, keys, NOW))).toBe('manifest_invalid');
  });

  describe('attacks', () => {
    it('a tampered payload (bad signature)', async () => {
      const envelope = await signRollout(record(), [release]);
      const json = JSON.parse(new TextDecoder().decode(decodeBase64(envelope.payload, 'manifest_signature_invalid')));
      json.weights = { '1.0.0': 10, '1.1.0': 90 };
      const tampered = { ...envelope, payload: encodeBase64(new TextEncoder().encode(JSON.stringify(json))) };
      expect(await code(verifyRollout(tampered, keys, NOW))).toBe('manifest_signature_invalid');
    });

    it('a record signed by a key that is not a release key (wrong key)', async () => {
      expect(await code(verifyRollout(await signRollout(record(), [other]), keys, NOW))).toBe('manifest_signature_invalid');
    });

    it('a manifest signature presented as a rollout record (another payload type)', async () => {
      const envelope = await signEnvelope('application/vnd.tandem.manifest+json', new TextEncoder().encode(JSON.stringify(record())), [release]);
      expect(await code(verifyRollout(envelope, keys, NOW))).toBe('manifest_signature_invalid');
    });

    it("another model's record at this model's key", async () => {
      expect(await code(verifyRollout(await signRollout(record({ model: 'other' }), [release]), keys, NOW, 'm'))).toBe('manifest_signature_invalid');
    });

    it('an expired record (freeze)', async () => {
      const envelope = await signRollout(record({ expires: new Date(NOW - 1000).toISOString() }), [release]);
      expect(await code(verifyRollout(envelope, keys, NOW))).toBe('metadata_expired');
      expect(await code(verifyRollout(envelope, keys, NOW - 2000))).toBe('resolved');
    });

    it('an older record than one already seen (rollback), while the same or a newer one is accepted', () => {
      let floors = acceptRollout({}, record({ version: 3 }));
      expect(floors).toEqual({ m: 3 });
      floors = acceptRollout(floors, record({ version: 3 }));
      floors = acceptRollout(floors, record({ version: 5 }));
      expect(() => acceptRollout(floors, record({ version: 4 }))).toThrow(expect.objectContaining({ code: 'rollback_detected' }));
      // Floors are per model: another model's record starts from nothing.
      expect(acceptRollout(floors, record({ model: 'n', version: 1 }))).toEqual({ m: 5, n: 1 });
    });

    it('a threshold of two release keys is not met by one', async () => {
      const second = await generateSigningKey();
      const two = await loadTrustedKeys({ keys: [release.publicKey, second.publicKey], threshold: 2 });
      expect(await code(verifyRollout(await signRollout(record(), [release]), two, NOW))).toBe('manifest_signature_invalid');
      expect(await code(verifyRollout(await signRollout(record(), [release, second]), two, NOW))).toBe('resolved');
    });
  });
});
