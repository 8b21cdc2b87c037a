/**
 * Builds the built-in models into a model repository:
 *
 *   <repository>/<id>/<version>/{fp32.onnx, int8.onnx, manifest.dsse.json}
 *
 * Each recipe trains its model in plain JavaScript from a seeded generator, so every build on every
 * machine writes the same bytes; results are cached by a hash of the recipe (`build-cache.ts`), so only
 * the first build pays for training. Signing is the caller's: `sign` turns a manifest into a DSSE
 * envelope (the CLI passes `signManifest` with its key), and runs on every build so a new key takes
 * effect without retraining.
 */
import { constants } from 'node:fs';
import { copyFile, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { TandemError } from '../protocol/errors.ts';
import type { Manifest } from '../protocol/manifest.ts';
import { ENVELOPE_FILE, versionKey } from '../protocol/repository-layout.ts';
import { cacheEntryDir, readCacheEntry, recipeCacheKey, writeCacheEntry } from './build-cache.ts';
import { assembleManifest } from './manifest-assembly.ts';
import type { ModelRecipe } from './recipes/recipe.ts';
import { BUILT_IN_RECIPES } from './recipes/registry.ts';

/** `models/repository/` (git-ignored): where the CLI builds to unless told otherwise. */
export const DEFAULT_REPOSITORY = resolve(import.meta.dirname, 'repository');

/** `.cache/models/` at the repository root (git-ignored). */
export const DEFAULT_CACHE_DIR = resolve(import.meta.dirname, '..', '.cache', 'models');

export interface BuildModelsOptions {
  /** The model repository to write. */
  repository: string;
  /** Signs a manifest; the result (a DSSE envelope) is written as `manifest.dsse.json`. */
  sign: (manifest: Manifest) => Promise<unknown>;
  /** Model ids to build (default: all). */
  only?: readonly string[];
  /** Progress lines: what was trained, held-out accuracy, sizes, times. Default: silent. */
  log?: (line: string) => void;
  /** Build cache folder (default `DEFAULT_CACHE_DIR`); `null` disables the cache. */
  cacheDir?: string | null;
  /** The recipes to choose from (default: the built-in models). */
  recipes?: readonly ModelRecipe[];
}

export interface BuiltArtifact {
  variant: string;
  /** Absolute path of the file in the repository. */
  path: string;
  bytes: number;
  sha256: string;
}

export interface BuiltModel {
  id: string;
  version: string;
  /** The version directory in the repository. */
  dir: string;
  manifest: Manifest;
  artifacts: BuiltArtifact[];
  /** True when the model came from the build cache rather than being trained. */
  cached: boolean;
  seconds: number;
}

/**
 * @example
 * const key = await generateSigningKey();
 * const built = await buildModels({ repository: 'models/repository', sign: (m) => signManifest(m, [key]), log: console.log });
 * @throws TandemError `model_not_found` when `only` names an unknown model.
 */
export async function buildModels(options: BuildModelsOptions): Promise<BuiltModel[]> {
  const log = options.log ?? (() => {});
  const cacheDir = options.cacheDir === undefined ? DEFAULT_CACHE_DIR : options.cacheDir;
  const recipes = selectRecipes(options.recipes ?? BUILT_IN_RECIPES, options.only);
  const started = performance.now();
  const built: BuiltModel[] = [];
  for (const recipe of recipes) built.push(await buildOne(recipe, options, cacheDir, log));
  const fromCache = built.filter((m) => m.cached).length;
  log(`built ${built.length} model(s) into ${options.repository} in ${seconds(started).toFixed(1)}s (${fromCache} from cache)`);
  return built;
}

function selectRecipes(recipes: readonly ModelRecipe[], only: readonly string[] | undefined): readonly ModelRecipe[] {
  if (!only) return recipes;
  const unknown = only.filter((id) => !recipes.some((r) => r.id === id));
  if (unknown.length > 0) {
    throw new TandemError('model_not_found', `unknown model(s) ${unknown.join(', ')}; built-in models are ${recipes.map((r) => r.id).join(', ')}`);
  }
  return recipes.filter((r) => only.includes(r.id));
}

async function buildOne(recipe: ModelRecipe, options: BuildModelsOptions, cacheDir: string | null, log: (line: string) => void): Promise<BuiltModel> {
  const started = performance.now();
  const dir = join(options.repository, ...versionKey(recipe.id, recipe.version).split('/'));
  await mkdir(dir, { recursive: true });

  const entryDir = cacheDir === null ? undefined : cacheEntryDir(cacheDir, recipe, await recipeCacheKey(recipe));
  let entry = entryDir === undefined ? undefined : await readCacheEntry(entryDir);
  const cached = entry !== undefined;
  let manifest: Manifest;
  if (entry) {
    manifest = entry.manifest;
    for (const variant of manifest.variants) await copyAtomic(join(entry.dir, variant.artifact.path), join(dir, variant.artifact.path));
  } else {
    log(`${recipe.id}@${recipe.version}: building`);
    const draft = await recipe.build({ log });
    manifest = await assembleManifest(recipe, draft);
    const files = new Map(draft.variants.map((v) => [v.path, v.bytes] as const));
    if (entryDir !== undefined) entry = await writeCacheEntry(entryDir, manifest, files);
    for (const [path, bytes] of files) await writeAtomic(join(dir, path), bytes);
  }

  const envelope = await options.sign(manifest);
  await writeAtomic(join(dir, ENVELOPE_FILE), JSON.stringify(envelope, null, 2));
  const artifacts = manifest.variants.map((v) => ({ variant: v.name, path: join(dir, v.artifact.path), bytes: v.artifact.bytes, sha256: v.artifact.sha256 }));
  const took = seconds(started);
  log(`${recipe.id}@${recipe.version}: ${cached ? 'from cache' : 'built'}, signed, written to ${dir} in ${took.toFixed(1)}s`);
  return { id: recipe.id, version: recipe.version, dir, manifest, artifacts, cached, seconds: took };
}

/** Writes through a temporary file and a rename, so readers never see a partial file. */
async function writeAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const temporary = `${path}.tmp-${process.pid}`;
  try {
    await writeFile(temporary, data);
    await rename(temporary, path);
  } finally {
    await rm(temporary, { force: true });
  }
}

async function copyAtomic(from: string, to: string): Promise<void> {
  const temporary = `${to}.tmp-${process.pid}`;
  try {
    // A copy-on-write clone where the file system supports it, a plain copy elsewhere.
    await copyFile(from, temporary, constants.COPYFILE_FICLONE);
    await rename(temporary, to);
  } finally {
    await rm(temporary, { force: true });
  }
}

function seconds(since: number): number {
  return (performance.now() - since) / 1000;
}
