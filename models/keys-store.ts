/**
 * Where signing keys live on a developer's machine, and the dev key made on first use.
 *
 * Private keys never enter git: the default folder `.tandem/keys/` is git-ignored and files are written
 * with mode 0600. Beside the private key sits `trusted-keys.json`, the public half that the origin, the
 * edge and the demo page trust in development.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { TandemError } from '../protocol/errors.ts';
import { readJson } from '../origin/repository.ts';
import {
  exportSigningKey,
  generateSigningKey,
  importSigningKey,
  parsePublicKeyRecord,
  loadTrustedKeys,
  type KeyAlgorithm,
  type PublicKeyRecord,
  type SigningKey,
  type TrustedKeySet,
} from '../protocol/keys.ts';

/** `.tandem/keys/` of the repository, or `TANDEM_KEY_DIR`. */
export const DEFAULT_KEY_DIR = resolve(process.env.TANDEM_KEY_DIR ?? resolve(import.meta.dirname, '..', '.tandem', 'keys'));
export const DEV_KEY_FILE = 'dev-signing-key.json';
export const TRUSTED_KEYS_FILE = 'trusted-keys.json';

export async function readSigningKey(path: string): Promise<SigningKey> {
  return importSigningKey(await readJson(path));
}

/** Writes a private key file (mode 0600); refuses to overwrite unless `force`. */
export async function writeSigningKey(path: string, key: SigningKey, force = false): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const text = `${JSON.stringify(await exportSigningKey(key), null, 2)}\n`;
  await writeFile(path, text, { mode: 0o600, flag: force ? 'w' : 'wx' }).catch((cause: NodeJS.ErrnoException) => {
    if (cause.code === 'EEXIST') throw new TandemError('key_invalid', `${path} exists; pass --force to replace it`);
    throw cause;
  });
}

export interface DevKey {
  key: SigningKey;
  keyPath: string;
  trustedPath: string;
  created: boolean;
}

/** Loads the dev signing key from `dir`, generating it (and its trusted-keys file) on first use. */
export async function ensureDevKey(dir = DEFAULT_KEY_DIR, algorithm: KeyAlgorithm = 'Ed25519'): Promise<DevKey> {
  const keyPath = join(dir, DEV_KEY_FILE);
  const trustedPath = join(dir, TRUSTED_KEYS_FILE);
  let key: SigningKey;
  let created = false;
  try {
    key = await readSigningKey(keyPath);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    key = await generateSigningKey(algorithm);
    await writeSigningKey(keyPath, key);
    created = true;
  }
  await addTrustedKey(trustedPath, key.publicKey);
  return { key, keyPath, trustedPath, created };
}

/** Adds a public key to a trusted-keys file (creating it), keeping the keys already there. */
export async function addTrustedKey(path: string, record: PublicKeyRecord): Promise<PublicKeyRecord[]> {
  let records: PublicKeyRecord[] = [];
  try {
    records = [...(await readTrustedKeysFile(path)).keys.values()].map((k) => k.record);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (!records.some((r) => r.keyid === record.keyid)) {
    records.push(record);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, `${JSON.stringify({ keys: records }, null, 2)}\n`);
  }
  return records;
}

export async function readTrustedKeysFile(path: string): Promise<TrustedKeySet> {
  return loadTrustedKeys(await readJson(path));
}

export { readJson };

/** The public record of a key file: a private key file (its public half) or a public key record. */
export async function readPublicKeyRecord(path: string): Promise<PublicKeyRecord> {
  const value = await readJson(path);
  if (typeof value === 'object' && value !== null && 'privateKey' in value) return (await importSigningKey(value)).publicKey;
  return parsePublicKeyRecord(value);
}
