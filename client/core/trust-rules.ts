/**
 * The device's own rules on top of the update framework's checks (protocol/trust/): what it keeps per
 * install and when that is still its own, how it reads the edge's per-client (canary) pick, how large a
 * manifest may be, and which revocations are news. Plain functions over plain data.
 */
import type { DsseEnvelope } from '../../protocol/dsse.ts';
import type { TrustedKeySet } from '../../protocol/keys.ts';
import type { Manifest } from '../../protocol/manifest.ts';
import type { TimestampRecord } from '../../protocol/trust/timestamp.ts';
import type { TrustState } from '../../protocol/trust/trust-state.ts';
import { compareVersions } from '../../protocol/versions.ts';

/** The key the install's trust is kept under, in one value so root, record and floors change together. */
export const TRUST_KEY = 'trust';

/** What an install keeps between page loads. */
export interface StoredTrust {
  /** The pinned root keys this was reached from (`pinsId`): other pins start over from root version 1. */
  pins: string;
  /** The highest root verified, as signed: the chain continues from it. */
  root: DsseEnvelope;
  /** The last timestamp record accepted, as signed, verified with `root`. */
  timestamp: DsseEnvelope;
  state: TrustState;
}

/** Names a pinned key set: its threshold and keyids. */
export function pinsId(pinned: TrustedKeySet): string {
  return `${pinned.threshold}:${[...pinned.keys.keys()].sort().join(',')}`;
}

const isEnvelope = (v: unknown): v is DsseEnvelope => typeof v === 'object' && v !== null && typeof (v as DsseEnvelope).payload === 'string';

/**
 * The stored trust when it is well formed and was reached from these pins; else undefined (a fresh start:
 * an app that changed its pinned root keys, after a compromised root, must not keep the old chain).
 */
export function parseStoredTrust(value: unknown, pins: string): StoredTrust | undefined {
  const v = value as Partial<StoredTrust> | undefined;
  const s = v?.state;
  const ok =
    typeof v === 'object' &&
    v !== null &&
    v.pins === pins &&
    isEnvelope(v.root) &&
    isEnvelope(v.timestamp) &&
    typeof s === 'object' &&
    s !== null &&
    [s.rootVersion, s.timestampVersion, s.freshAt].every(Number.isFinite) &&
    typeof s.floors === 'object' &&
    s.floors !== null;
  return ok ? (v as StoredTrust) : undefined;
}

/**
 * The version the edge chose on purpose when it sent `manifest` for "current": a canary's per-client pick
 * is newer than the record's current version, and is then checked as asked for (live, this digest, not
 * revoked). Anything else is "current" and must be the record's (an older one is a rollback).
 */
export function requestedVersion(record: TimestampRecord, manifest: Manifest): string | undefined {
  const current = record.models[manifest.id]?.current;
  return current !== undefined && compareVersions(manifest.version, current) > 0 ? manifest.version : undefined;
}

/** The bound of a manifest envelope without a record: 1 MiB (a manifest is a few KiB, labels included). */
export const MAX_MANIFEST_BYTES = 1024 * 1024;

/**
 * The most bytes a manifest envelope of `id` may have: with a record, its largest live version's payload
 * in base64 plus 64 KiB for signatures and framing; else `MAX_MANIFEST_BYTES`.
 */
export function manifestBound(record: TimestampRecord | undefined, id: string): number {
  const sizes = Object.values(record?.models[id]?.versions ?? {}).map((v) => v.bytes);
  return sizes.length ? Math.ceil((Math.max(...sizes) * 4) / 3) + 64 * 1024 : MAX_MANIFEST_BYTES;
}

/** Per model, the versions `record` revokes that `previous` (the last record accepted, if any) did not. */
export function newlyRevoked(record: TimestampRecord, previous: TimestampRecord | undefined): [string, string[]][] {
  const out: [string, string[]][] = [];
  for (const [id, entry] of Object.entries(record.models)) {
    const known = previous?.models[id]?.revoked ?? [];
    const fresh = entry.revoked.filter((v) => !known.includes(v));
    if (fresh.length) out.push([id, fresh]);
  }
  return out;
}
