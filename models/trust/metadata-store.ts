/**
 * The update framework's metadata in a model repository on disk (protocol/repository-layout.ts): root
 * versions and the timestamp record, read back verified. Writes go through a temporary file and a rename,
 * so a reader never sees half a document.
 */
import { mkdir, readdir, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { isNotFound, readTextIfPresent } from '../../origin/read-if-present.ts';
import type { DsseEnvelope } from '../../protocol/dsse.ts';
import { TandemError } from '../../protocol/errors.ts';
import type { TrustedKeySet } from '../../protocol/keys.ts';
import { rootKey, TIMESTAMP_KEY, TRUST_PREFIX } from '../../protocol/repository-layout.ts';
import { verifyInitialRoot, verifyNextRoot, type VerifiedRoot } from '../../protocol/trust/root.ts';
import { verifyTimestamp, type VerifiedTimestamp } from '../../protocol/trust/timestamp.ts';

async function readJsonIfPresent(path: string): Promise<unknown> {
  const text = await readTextIfPresent(path);
  return text === undefined ? undefined : JSON.parse(text);
}

export async function writeDocument(repository: string, key: string, envelope: DsseEnvelope): Promise<string> {
  const path = join(repository, ...key.split('/'));
  await mkdir(dirname(path), { recursive: true });
  const temp = `${path}.tmp-${process.pid}`;
  await writeFile(temp, `${JSON.stringify(envelope, null, 2)}\n`);
  await rename(temp, path);
  return path;
}

/** Root versions present, ascending. */
export async function rootVersions(repository: string): Promise<number[]> {
  const names = await readdir(join(repository, TRUST_PREFIX, 'root')).catch((err: unknown) => {
    if (isNotFound(err)) return [] as string[];
    throw err;
  });
  return names
    .map((n) => /^(\d+)\.dsse\.json$/.exec(n)?.[1])
    .filter((v): v is string => v !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
}

export function readRootEnvelope(repository: string, version: number): Promise<unknown> {
  return readJsonIfPresent(join(repository, ...rootKey(version).split('/')));
}

/**
 * The newest root of the repository, verified from version 1 (against `pinned`, the root keys) along the chain.
 * @throws TandemError `not_found` when the repository has no root yet.
 */
export async function readTrustedRoot(repository: string, pinned?: TrustedKeySet): Promise<VerifiedRoot> {
  const first = await readRootEnvelope(repository, 1);
  if (first === undefined) throw new TandemError('not_found', `${repository} has no root of trust yet (tandem root init)`);
  // Without pinned keys, version 1 is trusted on first use: it must at least be signed by its own root keys.
  const initialKeys = pinned ?? (await selfSignedKeys(first));
  let root = await verifyInitialRoot(first, initialKeys);
  for (let version = 2; ; version++) {
    const next = await readRootEnvelope(repository, version);
    if (next === undefined) break;
    root = await verifyNextRoot(root, next);
  }
  return root;
}

export async function readTimestampEnvelope(repository: string): Promise<unknown> {
  return readJsonIfPresent(join(repository, ...TIMESTAMP_KEY.split('/')));
}

export async function readVerifiedTimestamp(repository: string, root: VerifiedRoot, now: number): Promise<VerifiedTimestamp | undefined> {
  const envelope = await readTimestampEnvelope(repository);
  return envelope === undefined ? undefined : verifyTimestamp(envelope, root, now);
}

async function selfSignedKeys(envelope: unknown): Promise<TrustedKeySet> {
  const { decodeBase64 } = await import('../../protocol/base64.ts');
  const { parseRoot } = await import('../../protocol/trust/root.ts');
  const { loadTrustedKeys } = await import('../../protocol/keys.ts');
  const payload = (envelope as { payload?: unknown }).payload;
  if (typeof payload !== 'string') throw new TandemError('manifest_signature_invalid', 'root version 1 is not a DSSE envelope');
  const doc = parseRoot(JSON.parse(new TextDecoder().decode(decodeBase64(payload, 'manifest_signature_invalid'))));
  return loadTrustedKeys({ keys: doc.roles.root.keyids.map((id) => doc.keys[id]), threshold: doc.roles.root.threshold });
}
