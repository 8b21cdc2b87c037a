/**
 * The build cache: a built model's manifest (unsigned) and artifacts, stored under a key that hashes
 * everything that decides them (RECIPE_VERSION and the recipe's id, version and params). A hit skips
 * training entirely; signing still happens on every build. Entries are written to a temporary folder and
 * renamed into place, so concurrent builds (parallel test files) never see half an entry. An entry that
 * can't be read is a miss, never an error.
 */
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { parseManifest, type Manifest } from '../protocol/manifest.ts';
import { sha256Hex } from '../protocol/sha256.ts';
import { RECIPE_VERSION, type JsonValue, type ModelRecipe } from './recipes/recipe.ts';

const MANIFEST_FILE = 'manifest.json';

/** A cached build: the manifest and the folder holding its artifacts (named by `artifact.path`). */
export interface CacheEntry {
  manifest: Manifest;
  dir: string;
}

/** The cache key of a recipe: hex SHA-256 of canonical JSON of RECIPE_VERSION, id, version and params. */
export async function recipeCacheKey(recipe: Pick<ModelRecipe, 'id' | 'version' | 'params'>): Promise<string> {
  const input = canonicalJson({ recipeVersion: RECIPE_VERSION, id: recipe.id, version: recipe.version, params: recipe.params });
  return sha256Hex(new TextEncoder().encode(input));
}

export function cacheEntryDir(cacheDir: string, recipe: Pick<ModelRecipe, 'id' | 'version'>, key: string): string {
  return join(cacheDir, `${recipe.id}@${recipe.version}-${key.slice(0, 16)}`);
}

/** The entry for `key`, or undefined when absent or unreadable. */
export async function readCacheEntry(dir: string): Promise<CacheEntry | undefined> {
  try {
    const manifest = parseManifest(JSON.parse(await readFile(join(dir, MANIFEST_FILE), 'utf8')));
    for (const variant of manifest.variants) {
      if ((await stat(join(dir, variant.artifact.path))).size !== variant.artifact.bytes) return undefined;
    }
    return { manifest, dir };
  } catch {
    return undefined;
  }
}

/** Stores a build; when another process stored the same entry first, theirs is kept (it is identical). */
export async function writeCacheEntry(dir: string, manifest: Manifest, files: ReadonlyMap<string, Uint8Array>): Promise<CacheEntry> {
  const staging = `${dir}.tmp-${process.pid}-${Date.now()}`;
  await mkdir(staging, { recursive: true });
  try {
    for (const [path, bytes] of files) await writeFile(join(staging, path), bytes);
    await writeFile(join(staging, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
    try {
      await rename(staging, dir);
    } catch {
      // Renaming onto a non-empty folder fails: someone stored this entry meanwhile, or a broken one is there.
      if (await readCacheEntry(dir)) return { manifest, dir };
      await rm(dir, { recursive: true, force: true });
      await rename(staging, dir);
    }
    await pruneOtherEntries(dir, manifest.id);
    return { manifest, dir };
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/** Removes the model's entries under other keys (older recipes): the large model alone is 100 MB each. */
async function pruneOtherEntries(dir: string, id: string): Promise<void> {
  const keep = basename(dir);
  const parent = dirname(dir);
  for (const name of await readdir(parent)) {
    if (name !== keep && name.startsWith(`${id}@`) && !name.includes('.tmp-')) await rm(join(parent, name), { recursive: true, force: true });
  }
}

/** JSON with object keys sorted at every level, so equal values always hash equally. */
export function canonicalJson(value: JsonValue): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map((v: JsonValue) => canonicalJson(v)).join(',')}]`;
  const record = value as { readonly [key: string]: JsonValue };
  const keys = Object.keys(record).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(record[k]!)}`).join(',')}}`;
}
