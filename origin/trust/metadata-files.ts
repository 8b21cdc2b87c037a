/**
 * The update framework's documents in a model repository on disk (protocol/repository-layout.ts): root
 * versions and the timestamp record, each read within its size bound (protocol/trust/bounds.ts) so a
 * runaway file is refused unread, and a fingerprint of them, so a running origin re-verifies only when
 * one changed. Nothing here verifies a signature; repository-trust.ts does.
 */
import { open, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { TandemError } from '../../protocol/errors.ts';
import { rootKey, TIMESTAMP_KEY, TRUST_PREFIX } from '../../protocol/repository-layout.ts';
import { assertWithinBound, MAX_ROOT_BYTES, MAX_TIMESTAMP_BYTES } from '../../protocol/trust/bounds.ts';
import { isNotFound } from '../read-if-present.ts';

const pathOf = (repository: string, key: string) => join(repository, ...key.split('/'));

/**
 * The parsed JSON of a file, or undefined when there is none.
 * @throws TandemError `payload_too_large` past `bound` (before reading), `manifest_invalid` for a file that is not JSON.
 */
export async function readBoundedJson(path: string, bound: number, what: string): Promise<unknown> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
  try {
    assertWithinBound(what, (await handle.stat()).size, bound);
    // At most one byte past the bound, should the file grow between the stat and the read.
    const buffer = Buffer.alloc(bound + 1);
    const { bytesRead } = await handle.read(buffer, 0, bound + 1, 0);
    assertWithinBound(what, bytesRead, bound);
    try {
      return JSON.parse(buffer.subarray(0, bytesRead).toString('utf8'));
    } catch (cause) {
      throw new TandemError('manifest_invalid', `${what} is not JSON`, { cause });
    }
  } finally {
    await handle.close();
  }
}

/** Root version `version`'s envelope, or undefined when the repository has none. */
export function readRootVersion(repository: string, version: number): Promise<unknown> {
  return readBoundedJson(pathOf(repository, rootKey(version)), MAX_ROOT_BYTES, `root version ${version}`);
}

/** The timestamp record's envelope, or undefined when the repository has none. */
export function readTimestampRecord(repository: string): Promise<unknown> {
  return readBoundedJson(pathOf(repository, TIMESTAMP_KEY), MAX_TIMESTAMP_BYTES, 'timestamp record');
}

/**
 * What changes when any trust document is written (they are written by rename, so a new inode or mtime):
 * the root versions present and the record's size, mtime and inode.
 */
export async function trustFingerprint(repository: string): Promise<string> {
  const roots = await readdir(pathOf(repository, `${TRUST_PREFIX}/root`)).catch(() => [] as string[]);
  const record = await stat(pathOf(repository, TIMESTAMP_KEY)).catch(() => undefined);
  return JSON.stringify([roots.sort(), record ? [record.size, record.mtimeMs, record.ino] : null]);
}
