/**
 * Signing keys and trusted key sets, through WebCrypto only (browser, workerd and Node alike).
 *
 * A key's id is the hex SHA-256 of its SubjectPublicKeyInfo DER, so an id can't be claimed for another key.
 * Public keys travel as `{ keyid, algorithm, publicKey: base64 SPKI }`; private key files add
 * `privateKey: base64 PKCS#8`. A trusted key set lists every key a verifier accepts (old and new during a
 * rotation) and how many distinct trusted keys must have signed (the threshold, 1 by default).
 */
import { decodeBase64, encodeBase64 } from './base64.ts';
import { TandemError } from './errors.ts';
import { sha256Hex } from './sha256.ts';
import type { CryptoBytes, CryptoKeyHandle, ImportAlgorithm, SignAlgorithm } from './web-crypto.ts';

export const KEY_ALGORITHMS = ['Ed25519', 'ECDSA-P256'] as const;
export type KeyAlgorithm = (typeof KEY_ALGORITHMS)[number];

export interface PublicKeyRecord {
  keyid: string;
  algorithm: KeyAlgorithm;
  /** base64 of the SubjectPublicKeyInfo DER. */
  publicKey: string;
}

export interface PrivateKeyFile extends PublicKeyRecord {
  /** base64 of the PKCS#8 DER. Never commit this. */
  privateKey: string;
}

export interface SigningKey {
  keyid: string;
  algorithm: KeyAlgorithm;
  privateKey: CryptoKeyHandle;
  publicKey: PublicKeyRecord;
}

export interface TrustedKey {
  record: PublicKeyRecord;
  key: CryptoKeyHandle;
}

export interface TrustedKeySet {
  keys: ReadonlyMap<string, TrustedKey>;
  /** Distinct trusted keys whose signatures must verify. */
  threshold: number;
}

const IMPORT_PARAMS: Record<KeyAlgorithm, ImportAlgorithm> = {
  Ed25519: { name: 'Ed25519' },
  'ECDSA-P256': { name: 'ECDSA', namedCurve: 'P-256' },
};

/** Parameters for `crypto.subtle.sign/verify`. ECDSA signatures are IEEE P1363 (r || s), as WebCrypto makes them. */
export const SIGN_PARAMS: Record<KeyAlgorithm, SignAlgorithm> = {
  Ed25519: { name: 'Ed25519' },
  'ECDSA-P256': { name: 'ECDSA', hash: 'SHA-256' },
};

export function isKeyAlgorithm(value: unknown): value is KeyAlgorithm {
  return typeof value === 'string' && (KEY_ALGORITHMS as readonly string[]).includes(value);
}

async function keyIdOf(spki: CryptoBytes): Promise<string> {
  return sha256Hex(spki);
}

/**
 * Generates a new extractable key pair.
 * @example
 * const key = await generateSigningKey();
 * const file = await exportSigningKey(key); // write it somewhere git never sees
 */
export async function generateSigningKey(algorithm: KeyAlgorithm = 'Ed25519'): Promise<SigningKey> {
  const pair = (await crypto.subtle.generateKey(IMPORT_PARAMS[algorithm], true, ['sign', 'verify'])) as {
    publicKey: CryptoKeyHandle;
    privateKey: CryptoKeyHandle;
  };
  const spki = new Uint8Array((await crypto.subtle.exportKey('spki', pair.publicKey)) as ArrayBuffer);
  const keyid = await keyIdOf(spki);
  return { keyid, algorithm, privateKey: pair.privateKey, publicKey: { keyid, algorithm, publicKey: encodeBase64(spki) } };
}

export async function exportSigningKey(key: SigningKey): Promise<PrivateKeyFile> {
  const pkcs8 = new Uint8Array((await crypto.subtle.exportKey('pkcs8', key.privateKey)) as ArrayBuffer);
  return { ...key.publicKey, privateKey: encodeBase64(pkcs8) };
}

/** @throws TandemError `key_invalid` when the file is malformed or its keyid doesn't match its public key. */
export async function importSigningKey(file: unknown): Promise<SigningKey> {
  const record = parsePublicKeyRecord(file);
  const privateText = (file as { privateKey?: unknown }).privateKey;
  if (typeof privateText !== 'string') throw new TandemError('key_invalid', 'private key file has no "privateKey"');
  await checkKeyId(record);
  const pkcs8 = decodeBase64(privateText, 'key_invalid');
  try {
    const privateKey = await crypto.subtle.importKey('pkcs8', pkcs8, IMPORT_PARAMS[record.algorithm], true, ['sign']);
    return { keyid: record.keyid, algorithm: record.algorithm, privateKey, publicKey: record };
  } catch (cause) {
    throw new TandemError('key_invalid', `cannot import ${record.algorithm} private key ${record.keyid}`, { cause });
  }
}

/** Validates the shape of a public key record (not yet its key bytes). */
export function parsePublicKeyRecord(value: unknown): PublicKeyRecord {
  const v = value as Partial<PublicKeyRecord> | null;
  if (typeof v !== 'object' || v === null) throw new TandemError('key_invalid', 'a key record must be an object');
  if (typeof v.keyid !== 'string' || !/^[0-9a-f]{64}$/.test(v.keyid)) {
    throw new TandemError('key_invalid', 'key record "keyid" must be 64 lowercase hex digits');
  }
  if (!isKeyAlgorithm(v.algorithm)) {
    throw new TandemError('key_invalid', `key ${v.keyid}: "algorithm" must be one of ${KEY_ALGORITHMS.join(', ')}`);
  }
  if (typeof v.publicKey !== 'string') throw new TandemError('key_invalid', `key ${v.keyid}: "publicKey" must be base64 SPKI`);
  return { keyid: v.keyid, algorithm: v.algorithm, publicKey: v.publicKey };
}

async function checkKeyId(record: PublicKeyRecord): Promise<CryptoBytes> {
  const spki = decodeBase64(record.publicKey, 'key_invalid');
  if ((await keyIdOf(spki)) !== record.keyid) {
    throw new TandemError('key_invalid', `keyid ${record.keyid} is not the SHA-256 of its public key`);
  }
  return spki;
}

export async function importPublicKey(value: unknown): Promise<TrustedKey> {
  const record = parsePublicKeyRecord(value);
  const spki = await checkKeyId(record);
  try {
    const key = await crypto.subtle.importKey('spki', spki, IMPORT_PARAMS[record.algorithm], true, ['verify']);
    return { record, key };
  } catch (cause) {
    throw new TandemError('key_invalid', `cannot import ${record.algorithm} public key ${record.keyid}`, { cause });
  }
}

/**
 * Builds the set of keys a verifier trusts, from records or from JSON text (an array of records, or
 * `{ "keys": [...], "threshold"?: n }`), as found in env vars and key files.
 * @example
 * const trusted = await loadTrustedKeys(process.env.TANDEM_TRUSTED_KEYS ?? '[]');
 */
export async function loadTrustedKeys(source: string | unknown, threshold?: number): Promise<TrustedKeySet> {
  let value: unknown = source;
  if (typeof source === 'string') {
    try {
      value = JSON.parse(source);
    } catch (cause) {
      throw new TandemError('key_invalid', 'trusted keys are not valid JSON', { cause });
    }
  }
  const list = Array.isArray(value) ? value : (value as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(list)) throw new TandemError('key_invalid', 'trusted keys must be an array or { "keys": [...] }');
  const declared = (value as { threshold?: unknown } | null)?.threshold;
  const wanted = threshold ?? (typeof declared === 'number' ? declared : 1);
  const keys = new Map<string, TrustedKey>();
  for (const record of list) {
    const trusted = await importPublicKey(record);
    keys.set(trusted.record.keyid, trusted);
  }
  if (!Number.isInteger(wanted) || wanted < 1 || wanted > Math.max(1, keys.size)) {
    throw new TandemError('key_invalid', `threshold ${String(wanted)} must be between 1 and the number of trusted keys (${keys.size})`);
  }
  return { keys, threshold: wanted };
}
