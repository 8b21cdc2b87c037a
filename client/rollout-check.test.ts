import { beforeAll, describe, expect, it } from 'vitest';
import { generateSigningKey, loadTrustedKeys, type SigningKey, type TrustedKeySet } from '../protocol/keys.ts';
import type { Manifest } from '../protocol/manifest.ts';
import { signRollout, type RolloutRecord } from '../protocol/rollout/rollout-record.ts';
import { memoryStore } from './core/store.ts';
import { checkRollout, rolloutStoreKey, type RolloutCheckDeps, type StoredRollout } from './rollout-check.ts';

const MODEL = 'mlp-classifier';
const PINS = '1:root';
let release: SigningKey;
let stranger: SigningKey;
let keys: TrustedKeySet;

beforeAll(async () => {
  [release, stranger] = await Promise.all([generateSigningKey(), generateSigningKey()]);
  keys = await loadTrustedKeys([release.publicKey]);
});

const record = (version: number, weights: Record<string, number>, changes: Partial<RolloutRecord> = {}): RolloutRecord => ({
  _type: 'rollout',
  model: MODEL,
  version,
  expires: new Date(Date.now() + 86_400_000).toISOString(),
  stable: Object.keys(weights)[0]!,
  weights,
  rollback: { maxErrorRate: 0.05, minMedianConfidence: 0, minSamples: 100 },
  ...changes,
});
const manifest = (version: string) => ({ id: MODEL, version }) as Manifest;

/** An edge whose `/v1/rollout/<model>` answers `served` (undefined: 404), or fails like a dead network when `down`. */
function setup() {
  const edge = { served: undefined as unknown, down: false, asked: 0 };
  const warnings: string[] = [];
  const store = memoryStore<unknown>();
  const deps: RolloutCheckDeps = {
    edge: 'https://edge.test',
    fetch: async (input) => {
      edge.asked++;
      expect(String(input)).toBe(`https://edge.test/v1/rollout/${MODEL}`);
      if (edge.down) throw new TypeError('fetch failed');
      return edge.served === undefined ? Response.json({ error: { code: 'not_found', message: 'none' } }, { status: 404 }) : Response.json(edge.served);
    },
    headers: async () => ({}),
    store,
    online: () => true,
    retry: { attempts: 1, baseDelayMs: 1, maxDelayMs: 1 },
    timeoutMs: 5_000,
    now: Date.now,
    warn: (message) => void warnings.push(message),
  };
  const check = (version: string, offline = false, pins = PINS) => checkRollout(deps, keys, pins, manifest(version), offline);
  const stored = () => store.map.get(rolloutStoreKey(MODEL)) as StoredRollout | undefined;
  return { edge, deps, check, stored, warnings };
}

describe('checkRollout', () => {
  it('without a record anywhere, passes every version and keeps nothing (as before records existed)', async () => {
    const { check, stored, edge } = setup();
    await expect(check('9.9.9')).resolves.toBeUndefined();
    expect([edge.asked, stored()]).toEqual([1, undefined]);
  });

  it('passes a version with weight, refuses one without (version_not_in_rollout), and keeps the record as the floor', async () => {
    const { check, stored, edge } = setup();
    edge.served = await signRollout(record(2, { '1.0.0': 90, '1.1.0': 10, '1.2.0': 0 }), [release]);
    await check('1.1.0');
    expect(stored()).toMatchObject({ pins: PINS, version: 2 });
    await expect(check('1.2.0')).rejects.toMatchObject({
      code: 'version_not_in_rollout',
      message: expect.stringMatching(/1\.2\.0.*record 2.*1\.0\.0=90, 1\.1\.0=10/),
    });
    await expect(check('1.3.0')).rejects.toMatchObject({ code: 'version_not_in_rollout' });
  });

  it('an older record than one accepted is rollback_detected; a record deleted at the edge or an edge out of reach leaves the kept one in force', async () => {
    const { check, stored, edge } = setup();
    const newer = await signRollout(record(3, { '1.0.0': 100 }), [release]);
    edge.served = newer;
    await check('1.0.0');
    // The old split, validly signed, brought back: 1.1.0 had 10 % there.
    edge.served = await signRollout(record(2, { '1.0.0': 90, '1.1.0': 10 }), [release]);
    await expect(check('1.1.0')).rejects.toMatchObject({ code: 'rollback_detected' });
    expect(stored()).toMatchObject({ version: 3, envelope: newer });
    edge.served = undefined;
    await expect(check('1.1.0')).rejects.toMatchObject({ code: 'version_not_in_rollout' });
    edge.down = true;
    await expect(check('1.1.0')).rejects.toMatchObject({ code: 'version_not_in_rollout' });
    // Offline (the trust contact already failed): the edge is not asked at all.
    const asked = edge.asked;
    await expect(check('1.1.0', true)).rejects.toMatchObject({ code: 'version_not_in_rollout' });
    expect(edge.asked).toBe(asked);
    // Other pinned root keys start afresh: the kept record is not theirs.
    await expect(check('1.1.0', false, '1:other')).resolves.toBeUndefined();
  });

  it('refuses a record not signed by the release keys, or another model’s, and keeps nothing', async () => {
    const { check, stored, edge } = setup();
    edge.served = await signRollout(record(1, { '1.0.0': 100 }), [stranger]);
    await expect(check('1.0.0')).rejects.toMatchObject({ code: 'manifest_signature_invalid' });
    edge.served = await signRollout(record(1, { '1.0.0': 100 }, { model: 'other-model' }), [release]);
    await expect(check('1.0.0')).rejects.toMatchObject({ code: 'manifest_signature_invalid' });
    expect(stored()).toBeUndefined();
  });

  it('an expired record is not in force (at the edge neither): it passes, with a warning, and is not kept', async () => {
    const { check, stored, edge, warnings } = setup();
    edge.served = await signRollout(record(1, { '1.0.0': 100 }, { expires: new Date(Date.now() - 1000).toISOString() }), [release]);
    await expect(check('1.1.0')).resolves.toBeUndefined();
    expect(stored()).toBeUndefined();
    expect(warnings).toEqual([expect.stringMatching(/expired/)]);
  });
});
