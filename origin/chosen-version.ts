/**
 * The version an operator made current, kept in the model repository so the choice survives a restart:
 * `<repository>/<id>/current` holds it (one line). Without it, the newest valid version is current, so
 * before this a rollback (`load` of an older version) was undone by the next restart or rollout.
 * Written by the admin load route through the registry (model-registry.ts `swap`), atomically (a temp
 * file, then a rename); read when the registry first loads a version of the model. A file that names no
 * semantic version is ignored, never followed: it is only ever a version, not a path.
 */
import { rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MODEL_ID_PATTERN, VERSION_PATTERN } from '../protocol/manifest.ts';
import { readTextIfPresent } from './read-if-present.ts';

/** The file in `<repository>/<id>/` (beside the version folders; model code lists only folders). */
export const CHOSEN_VERSION_FILE = 'current';

function fileFor(repository: string, id: string): string {
  if (!MODEL_ID_PATTERN.test(id)) throw new Error(`not a model id: ${JSON.stringify(id)}`);
  return join(repository, id, CHOSEN_VERSION_FILE);
}

/**
 * The chosen version of `id`, or undefined when none is recorded.
 * @throws Error when the file exists but names no version (the caller reports it and ignores it).
 */
export async function readChosenVersion(repository: string, id: string): Promise<string | undefined> {
  const text = await readTextIfPresent(fileFor(repository, id));
  if (text === undefined) return undefined;
  const version = text.trim();
  if (!VERSION_PATTERN.test(version)) throw new Error(`${id}/${CHOSEN_VERSION_FILE} does not hold a semantic version`);
  return version;
}

/** Records `version` as the chosen one of `id` (undefined removes the record). */
export async function writeChosenVersion(repository: string, id: string, version: string | undefined): Promise<void> {
  const path = fileFor(repository, id);
  if (version === undefined) {
    await rm(path, { force: true });
    return;
  }
  if (!VERSION_PATTERN.test(version)) throw new Error(`not a semantic version: ${JSON.stringify(version)}`);
  const temp = `${path}.tmp-${process.pid}`;
  await writeFile(temp, `${version}\n`);
  await rename(temp, path);
}
