/**
 * What one verifier (an app install, an edge isolate, an origin) has seen, and the checks that keep it from
 * going back: TUF's rollback and freeze defences as plain functions over plain data. The state is small
 * and serialisable (the client keeps it in IndexedDB); every check returns the next state or throws a
 * typed error, and never mutates its input.
 */
import { TandemError } from '../errors.ts';
import type { Manifest } from '../manifest.ts';
import { compareVersions } from '../versions.ts';
import { assertNotExpired } from './bounds.ts';
import type { TimestampRecord } from './timestamp.ts';

export interface TrustState {
  /** The highest root version verified. */
  rootVersion: number;
  /** The highest timestamp record version verified. */
  timestampVersion: number;
  /** When (ms since the epoch) the last verified, unexpired timestamp record was accepted; 0: never. */
  freshAt: number;
  /** Per model, the highest version seen as current in a verified record: older ones need the record's say-so. */
  floors: Record<string, string>;
}

export const INITIAL_TRUST_STATE: TrustState = { rootVersion: 0, timestampVersion: 0, freshAt: 0, floors: {} };

/** @throws TandemError `rollback_detected` for a root older than one already trusted. */
export function acceptRoot(state: TrustState, rootVersion: number): TrustState {
  if (rootVersion < state.rootVersion)
    throw new TandemError('rollback_detected', `root version ${rootVersion} is older than the trusted version ${state.rootVersion}`);
  return { ...state, rootVersion };
}

/**
 * Takes a verified timestamp record (signature checked by `verifyTimestamp`).
 * @throws TandemError `rollback_detected` for a record older than one already seen, `metadata_expired` past its expiry.
 */
export function acceptTimestamp(state: TrustState, record: TimestampRecord, now: number): TrustState {
  if (record.version < state.timestampVersion) {
    throw new TandemError('rollback_detected', `timestamp record version ${record.version} is older than version ${state.timestampVersion}, already seen`);
  }
  assertNotExpired('timestamp record', record.version, record.expires, now);
  const floors = { ...state.floors };
  for (const [id, entry] of Object.entries(record.models)) {
    const floor = floors[id];
    if (floor === undefined || compareVersions(entry.current, floor) > 0) floors[id] = entry.current;
  }
  return { ...state, timestampVersion: record.version, freshAt: now, floors };
}

export interface ManifestCheck {
  manifest: Manifest;
  /** SHA-256 (hex) of the manifest's signed payload bytes. */
  payloadSha256: string;
  /** The version the caller asked for; undefined: the current one. */
  requested?: string;
}

/**
 * Checks a verified manifest against the freshest verified record and this verifier's floors: not
 * expired, not revoked, named by the record with this very digest, and, when the caller asked for the
 * current version, that version and not an older one.
 * @throws TandemError `metadata_expired`, `version_revoked`, `rollback_detected` or `manifest_signature_invalid`.
 */
export function checkManifest(state: TrustState, record: TimestampRecord, check: ManifestCheck, now: number): void {
  const { manifest, payloadSha256, requested } = check;
  const ref = `${manifest.id}@${manifest.version}`;
  if (manifest.expires !== undefined) assertNotExpired('manifest', ref, manifest.expires, now);
  const entry = record.models[manifest.id];
  if (entry?.revoked.includes(manifest.version)) throw new TandemError('version_revoked', `${ref} is revoked by timestamp record ${record.version}`);
  const floor = state.floors[manifest.id];
  const older = floor !== undefined && compareVersions(manifest.version, floor) < 0;
  const listed = entry?.versions[manifest.version];
  if (!listed) {
    if (older)
      throw new TandemError('rollback_detected', `${ref} is older than ${floor}, already seen, and timestamp record ${record.version} does not list it`);
    throw new TandemError('manifest_signature_invalid', `${ref} is not released: timestamp record ${record.version} does not list it`);
  }
  if (listed.sha256 !== payloadSha256) {
    throw new TandemError(
      'manifest_signature_invalid',
      `${ref} is not the manifest timestamp record ${record.version} names (digest ${payloadSha256.slice(0, 12)}, expected ${listed.sha256.slice(0, 12)})`,
    );
  }
  if (requested === undefined && manifest.version !== entry!.current) {
    if (older) throw new TandemError('rollback_detected', `asked for the current ${manifest.id}, got ${manifest.version}, older than ${floor}, already seen`);
    throw new TandemError('manifest_signature_invalid', `asked for the current ${manifest.id} (${entry!.current}), got ${manifest.version}`);
  }
}

/**
 * Whether cached models may still run without a fresh record: for `offlineMaxAgeMs` after the last one.
 * @throws TandemError `metadata_expired` past that age, or when no fresh record was ever seen.
 */
export function assertFreshEnough(state: TrustState, now: number, offlineMaxAgeMs: number): void {
  if (state.freshAt === 0) throw new TandemError('metadata_expired', 'no fresh timestamp record has been seen yet: connect once to verify what is current');
  const age = now - state.freshAt;
  if (age > offlineMaxAgeMs) {
    throw new TandemError(
      'metadata_expired',
      `the last fresh timestamp record is ${formatAge(age)} old, more than offlineMaxAgeMs (${formatAge(offlineMaxAgeMs)}): connect to verify what is current`,
    );
  }
}

/** The versions of a model the record revokes: a verifier evicts them from every cache. */
export function revokedVersions(record: TimestampRecord, id: string): readonly string[] {
  return record.models[id]?.revoked ?? [];
}

function formatAge(ms: number): string {
  const hours = ms / 3_600_000;
  return hours >= 48 ? `${(hours / 24).toFixed(1)} days` : hours >= 1 ? `${hours.toFixed(1)} h` : `${Math.round(ms / 60_000)} min`;
}
