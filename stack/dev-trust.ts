/**
 * The local stack's root of trust (docs/security.md), made for the built-in repository as the commands
 * would make it: dev root and timestamp keys in `.tandem/keys/` beside the dev signing key, which is the
 * release key (so the manifests it signed stay valid); root version 1 naming them; and a timestamp
 * record releasing every version of the repository, refreshed at each start to expire in a day. The
 * pinned half, `root-keys.json`, is what the local origin, edge and demo pin. Nothing here is fit for
 * production, where the root key lives offline and the timestamp key with the edge's deployment.
 */
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TandemError } from '../protocol/errors.ts';
import { generateSigningKey, loadTrustedKeys, type SigningKey } from '../protocol/keys.ts';
import { rootKey, TIMESTAMP_KEY, TRUST_PREFIX } from '../protocol/repository-layout.ts';
import { sha256Hex } from '../protocol/sha256.ts';
import { verifyManifest } from '../protocol/signed-manifest.ts';
import { parseRoot, signRoot, type RootDocument, type VerifiedRoot } from '../protocol/trust/root.ts';
import { signTimestamp, verifyTimestamp, type TimestampRecord } from '../protocol/trust/timestamp.ts';
import { compareVersions } from '../protocol/versions.ts';
import { DEFAULT_KEY_DIR, ensureDevKey, readSigningKey, writeSigningKey } from '../models/keys-store.ts';
import { readTimestampEnvelope, readTrustedRoot, writeDocument } from '../models/trust/metadata-store.ts';
import { listModelVersions, readEnvelope } from '../origin/repository.ts';

export const DEV_ROOT_KEY_FILE = 'dev-root-key.json';
export const DEV_TIMESTAMP_KEY_FILE = 'dev-timestamp-key.json';
/** The dev root key's public half: the root keys the local tiers and the demo pin. */
export const ROOT_KEYS_FILE = 'root-keys.json';

const DAY_MS = 24 * 60 * 60 * 1000;
/** A dev root lives a year; within a month of its expiry the next start rotates to a fresh version. */
const ROOT_LIFETIME_MS = 365 * DAY_MS;
const ROOT_RENEW_MS = 30 * DAY_MS;
/** The record a start writes expires in a day: a stack left running longer stops serving until restarted. */
export const DEV_RECORD_LIFETIME_MS = DAY_MS;

export interface DevTrustOptions {
  keyDir?: string;
  now?: number;
  log?: (line: string) => void;
}

export interface DevTrust {
  /** `root-keys.json`: `{ keys: [root public key], threshold: 1 }`. */
  rootKeysFile: string;
  rootVersion: number;
  record: TimestampRecord;
}

async function ensureKey(path: string): Promise<SigningKey> {
  try {
    return await readSigningKey(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    const key = await generateSigningKey();
    await writeSigningKey(path, key);
    return key;
  }
}

function devRoot(version: number, now: number, root: SigningKey, release: SigningKey, timestamp: SigningKey): RootDocument {
  const role = (key: SigningKey) => ({ keyids: [key.keyid], threshold: 1 });
  return parseRoot({
    _type: 'root',
    version,
    expires: new Date(now + ROOT_LIFETIME_MS).toISOString(),
    keys: Object.fromEntries([root, release, timestamp].map((k) => [k.keyid, k.publicKey])),
    roles: { root: role(root), release: role(release), timestamp: role(timestamp) },
  });
}

/** Whether `root` names exactly these keys, one per role, and is far from its expiry. */
function fits(root: VerifiedRoot, now: number, keys: Record<'root' | 'release' | 'timestamp', SigningKey>): boolean {
  const { roles, expires } = root.document;
  const only = (role: 'root' | 'release' | 'timestamp') => roles[role].keyids.length === 1 && roles[role].keyids[0] === keys[role].keyid;
  return only('root') && only('release') && only('timestamp') && Date.parse(expires) - now > ROOT_RENEW_MS;
}

/**
 * Makes (or keeps) the dev root of trust of `repository` and writes a fresh record releasing its versions.
 * A root the dev root key did not make (another machine's, a regenerated key) is replaced by version 1;
 * one that names other release or timestamp keys, or nears its expiry, is rotated to the next version.
 */
export async function ensureDevTrust(repository: string, options: DevTrustOptions = {}): Promise<DevTrust> {
  const keyDir = options.keyDir ?? DEFAULT_KEY_DIR;
  const now = options.now ?? Date.now();
  const log = options.log ?? (() => undefined);
  const keys = {
    release: (await ensureDevKey(keyDir)).key,
    root: await ensureKey(join(keyDir, DEV_ROOT_KEY_FILE)),
    timestamp: await ensureKey(join(keyDir, DEV_TIMESTAMP_KEY_FILE)),
  };
  const rootKeysFile = join(keyDir, ROOT_KEYS_FILE);
  const pinnedText = `${JSON.stringify({ keys: [keys.root.publicKey], threshold: 1 }, null, 2)}\n`;
  await writeFile(rootKeysFile, pinnedText);
  const pinned = await loadTrustedKeys(pinnedText);

  let root = await readTrustedRoot(repository, pinned).catch((err: unknown) => {
    if (err instanceof TandemError && ['not_found', 'manifest_signature_invalid', 'manifest_invalid', 'rollback_detected'].includes(err.code)) return undefined;
    throw err;
  });
  if (!root) {
    // Not ours (or none): a dev repository's metadata is rebuilt, never trusted as found.
    await rm(join(repository, TRUST_PREFIX), { recursive: true, force: true });
    await writeDocument(repository, rootKey(1), await signRoot(devRoot(1, now, keys.root, keys.release, keys.timestamp), [keys.root]));
    log(`made a dev root of trust (root version 1, root key ${keys.root.keyid.slice(0, 12)}) in ${repository}`);
  } else if (!fits(root, now, keys)) {
    const version = root.document.version + 1;
    await writeDocument(repository, rootKey(version), await signRoot(devRoot(version, now, keys.root, keys.release, keys.timestamp), [keys.root]));
    log(`rotated the dev root of trust to version ${version}`);
  }
  root = await readTrustedRoot(repository, pinned);

  const record = await releaseAll(repository, root, now);
  const signed = await signTimestamp(record, [keys.timestamp]);
  await verifyTimestamp(signed, root, now);
  await writeDocument(repository, TIMESTAMP_KEY, signed);
  return { rootKeysFile, rootVersion: root.document.version, record };
}

/**
 * The next record: every version the release key signed, live, with its digest, the newest current (as
 * the origin had it before roots); revocations kept (a revoked version stays out).
 */
async function releaseAll(repository: string, root: VerifiedRoot, now: number): Promise<TimestampRecord> {
  const envelope = await readTimestampEnvelope(repository);
  const previous =
    envelope === undefined
      ? undefined
      : await verifyTimestamp(envelope, root, 0).then(
          (v) => v.record,
          () => undefined,
        );
  const models: TimestampRecord['models'] = {};
  for (const { id, version } of await listModelVersions(repository)) {
    const revoked = previous?.models[id]?.revoked ?? [];
    if (revoked.includes(version)) continue;
    const { payload } = await verifyManifest(await readEnvelope(repository, id, version), root.keysFor('release'), now).catch(() => ({ payload: undefined }));
    if (!payload) continue; // Not signed by the release key, or expired: not released.
    const entry = (models[id] ??= { current: version, versions: {}, revoked });
    entry.versions[version] = { sha256: await sha256Hex(payload), bytes: payload.byteLength };
    if (compareVersions(version, entry.current) > 0) entry.current = version;
  }
  return {
    _type: 'timestamp',
    version: (previous?.version ?? 0) + 1,
    expires: new Date(now + DEV_RECORD_LIFETIME_MS).toISOString(),
    rootVersion: root.document.version,
    models,
  };
}
