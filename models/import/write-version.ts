/**
 * Writes one model version into a repository all at once: every file goes into a hidden temporary folder
 * beside the version (same file system), which is then renamed into place, so readers (the origin, the
 * edge's seeding, `tandem verify`) see either no version or a complete one, and a failure leaves nothing
 * behind. Temporary folders start with "." and are never listed as versions (`origin/repository.ts`).
 *
 * A version is immutable once written: an existing one is refused with `version_exists` unless `force`,
 * which swaps the new folder in and only then removes the old.
 */
import { mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TandemError } from '../../protocol/errors.ts';
import { ENVELOPE_FILE } from '../../protocol/repository-layout.ts';
import { versionDir } from '../../origin/repository.ts';

export interface VersionFiles {
  repository: string;
  id: string;
  version: string;
  /** Files by plain name (artifacts, examples); the envelope is written last. */
  files: ReadonlyMap<string, Uint8Array>;
  envelope: string;
  force?: boolean;
}

/** True when the repository holds a directory for that version (complete or not). */
export async function versionExists(repository: string, id: string, version: string): Promise<boolean> {
  return stat(versionDir(repository, id, version)).then(
    () => true,
    (cause: NodeJS.ErrnoException) => {
      if (cause.code === 'ENOENT') return false;
      throw cause;
    },
  );
}

/** The refusal of a version that is already there. */
export function refuseExisting(repository: string, id: string, version: string): TandemError {
  return new TandemError(
    'version_exists',
    `${id}@${version} is already in ${repository}; versions are immutable: import under a new --version, or pass --force to replace it`,
  );
}

/**
 * Writes the version atomically and returns its directory.
 * @throws TandemError `version_exists` (unless `force`), `bad_request` for an id or version that is not a
 * plain path segment.
 */
export async function writeVersion(files: VersionFiles): Promise<string> {
  const dir = versionDir(files.repository, files.id, files.version);
  const parent = join(files.repository, files.id);
  if (!files.force && (await versionExists(files.repository, files.id, files.version))) throw refuseExisting(files.repository, files.id, files.version);
  await mkdir(parent, { recursive: true });
  const tag = `${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  const staging = join(parent, `.${files.version}.tmp-${tag}`);
  const old = join(parent, `.${files.version}.old-${tag}`);
  try {
    await mkdir(staging);
    for (const [name, bytes] of files.files) await writeFile(join(staging, name), bytes, { flag: 'wx' });
    await writeFile(join(staging, ENVELOPE_FILE), files.envelope, { flag: 'wx' });
    if (files.force && (await versionExists(files.repository, files.id, files.version))) {
      await rename(dir, old);
      await rename(staging, dir);
      await rm(old, { recursive: true, force: true });
    } else {
      // rename() onto an existing non-empty folder fails (ENOTEMPTY/EEXIST): a concurrent import lost the race.
      await rename(staging, dir).catch((cause: NodeJS.ErrnoException) => {
        if (cause.code === 'ENOTEMPTY' || cause.code === 'EEXIST') throw refuseExisting(files.repository, files.id, files.version);
        throw cause;
      });
    }
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  return dir;
}
