/**
 * Reading a model repository on disk (the layout in `protocol/repository-layout.ts`): which models and
 * versions it holds, their signed envelopes and their artifact bytes. For the origin server, the edge's
 * seeding script and tests. Nothing here verifies signatures or hashes; `verify-model.ts` does that.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { TandemError } from '../protocol/errors.ts';
import { ENVELOPE_FILE } from '../protocol/repository-layout.ts';
import { compareVersions } from '../protocol/versions.ts';
import { isNotFound } from './read-if-present.ts';

/** One model version present in a repository. */
export interface RepositoryEntry {
  id: string;
  version: string;
  /** The version directory. */
  dir: string;
}

const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/**
 * Every `<id>/<version>/` holding a `manifest.dsse.json`, sorted by id, then by version (numerically).
 * A missing repository folder lists as empty.
 * @example
 * for (const { id, version } of await listModelVersions('models/repository')) console.log(`${id}@${version}`);
 */
export async function listModelVersions(root: string): Promise<RepositoryEntry[]> {
  const entries: RepositoryEntry[] = [];
  for (const id of await subdirectories(root)) {
    for (const version of await subdirectories(join(root, id))) {
      const dir = join(root, id, version);
      if (await isFile(join(dir, ENVELOPE_FILE))) entries.push({ id, version, dir });
    }
  }
  return entries.sort((a, b) => a.id.localeCompare(b.id) || compareVersions(a.version, b.version));
}

/** The directory of one model version (the names are checked, so they can't climb out of `root`). */
export function versionDir(root: string, id: string, version: string): string {
  return join(root, checkSegment(id, 'model id'), checkSegment(version, 'version'));
}

/**
 * The parsed JSON of a version's `manifest.dsse.json`: a DSSE envelope still to be verified.
 * @throws TandemError `model_not_found` when the version has no envelope.
 */
export async function readEnvelope(root: string, id: string, version: string): Promise<unknown> {
  const path = join(versionDir(root, id, version), ENVELOPE_FILE);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    if (isNotFound(cause)) throw new TandemError('model_not_found', `no model ${id}@${version} in ${root}`, { cause });
    throw cause;
  }
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new TandemError('manifest_invalid', `${path} is not JSON`, { cause });
  }
}

/** The path of an artifact named by a manifest (`artifact.path`). */
export function artifactFile(root: string, id: string, version: string, artifactPath: string): string {
  return join(versionDir(root, id, version), checkSegment(artifactPath, 'artifact path'));
}

/**
 * An artifact's bytes.
 * @throws TandemError `artifact_missing` when the file is absent.
 */
export async function readArtifact(root: string, id: string, version: string, artifactPath: string): Promise<Uint8Array> {
  const path = artifactFile(root, id, version, artifactPath);
  try {
    const bytes = await readFile(path);
    return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  } catch (cause) {
    if (isNotFound(cause)) throw new TandemError('artifact_missing', `${path}: no such file`, { cause });
    throw cause;
  }
}

function checkSegment(value: string, what: string): string {
  if (!SEGMENT.test(value) || value.includes('..')) throw new TandemError('bad_request', `invalid ${what} "${value}"`);
  return value;
}

async function subdirectories(dir: string): Promise<string[]> {
  try {
    const entries = await readdir(dir, { withFileTypes: true });
    return entries.filter((e) => e.isDirectory() && SEGMENT.test(e.name)).map((e) => e.name);
  } catch (cause) {
    if (isNotFound(cause)) return [];
    throw cause;
  }
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/** Reads a JSON file; malformed JSON is the user's `bad_request`, naming the file. */
export async function readJson(path: string): Promise<unknown> {
  const text = await readFile(path, 'utf8');
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new TandemError('bad_request', `${path} is not valid JSON`, { cause });
  }
}
