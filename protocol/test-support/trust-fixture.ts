/** A small update framework for tests in any tier: role keys, a signed root chain, timestamp records. */
import { sha256Hex } from '../sha256.ts';
import { generateSigningKey, loadTrustedKeys, type SigningKey, type TrustedKeySet } from '../keys.ts';
import type { DsseEnvelope } from '../dsse.ts';
import { decodeBase64 } from '../base64.ts';
import { signRoot, type RootDocument } from '../trust/root.ts';
import { signTimestamp, type TimestampRecord } from '../trust/timestamp.ts';

export const DAY_MS = 24 * 60 * 60 * 1000;

export interface RoleKeys {
  root: SigningKey[];
  release: SigningKey[];
  timestamp: SigningKey[];
}

export async function roleKeys(counts: Partial<Record<keyof RoleKeys, number>> = {}): Promise<RoleKeys> {
  const make = (n: number) => Promise.all(Array.from({ length: n }, () => generateSigningKey()));
  return { root: await make(counts.root ?? 1), release: await make(counts.release ?? 1), timestamp: await make(counts.timestamp ?? 1) };
}

/** A root document naming `keys`, thresholds 1 unless given. */
export function rootDocument(keys: RoleKeys, version: number, expires: number, thresholds: Partial<Record<keyof RoleKeys, number>> = {}): RootDocument {
  const all = [...keys.root, ...keys.release, ...keys.timestamp];
  const role = (list: SigningKey[], name: keyof RoleKeys) => ({ keyids: list.map((k) => k.keyid), threshold: thresholds[name] ?? 1 });
  return {
    _type: 'root',
    version,
    expires: new Date(expires).toISOString(),
    keys: Object.fromEntries(all.map((k) => [k.keyid, k.publicKey])),
    roles: { root: role(keys.root, 'root'), release: role(keys.release, 'release'), timestamp: role(keys.timestamp, 'timestamp') },
  };
}

export async function signedRoot(keys: RoleKeys, version: number, expires: number, signers: SigningKey[] = keys.root): Promise<DsseEnvelope> {
  return signRoot(rootDocument(keys, version, expires), signers);
}

/** The root keys an app pins. */
export function pinnedRootKeys(keys: RoleKeys, threshold = 1): Promise<TrustedKeySet> {
  return loadTrustedKeys({ keys: keys.root.map((k) => k.publicKey), threshold });
}

/** SHA-256 (hex) of an envelope's payload: what a timestamp record names. */
export async function payloadDigest(envelope: DsseEnvelope): Promise<{ sha256: string; bytes: number }> {
  const payload = decodeBase64(envelope.payload, 'manifest_signature_invalid');
  return { sha256: await sha256Hex(payload), bytes: payload.byteLength };
}

export async function signedTimestamp(keys: RoleKeys, record: Omit<TimestampRecord, '_type'>, signers: SigningKey[] = keys.timestamp): Promise<DsseEnvelope> {
  return signTimestamp({ _type: 'timestamp', ...record }, signers);
}
