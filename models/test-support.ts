/**
 * The built model repository that tests share. Building the models takes seconds even from the build
 * cache, and several test files (here, and later the origin and edge) need them, so the first caller
 * builds the repository once under `.cache/test-models/` (git-ignored) and every later caller, in this
 * process or another vitest worker, reuses it. A lock folder keeps parallel workers from building twice;
 * a marker file records which recipes (by cache key) and which signing key the repository was built with.
 *
 * Manifests are signed with a test key kept beside the repository (never a real key).
 */
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import {
  exportSigningKey,
  generateSigningKey,
  importSigningKey,
  loadTrustedKeys,
  type PublicKeyRecord,
  type SigningKey,
  type TrustedKeySet,
} from '../protocol/keys.ts';
import type { Manifest } from '../protocol/manifest.ts';
import { signManifest, verifyManifest } from '../protocol/signed-manifest.ts';
import { buildModels, DEFAULT_CACHE_DIR } from './build.ts';
import { recipeCacheKey } from './build-cache.ts';
import { BUILT_IN_RECIPES } from './recipes/registry.ts';
import { listModelVersions, readEnvelope } from '../origin/repository.ts';

export const TEST_MODELS_DIR = resolve(import.meta.dirname, '..', '.cache', 'test-models');

const KEY_FILE = join(TEST_MODELS_DIR, 'test-signing-key.json');
const REPOSITORY = join(TEST_MODELS_DIR, 'repository');
const MARKER = join(REPOSITORY, '.tandem-test-build.json');
const LOCK = join(TEST_MODELS_DIR, '.lock');
const STALE_LOCK_MS = 10 * 60_000;

export interface TestModelRepository {
  /** The repository folder. Treat it as read-only: copy it before changing or corrupting anything. */
  repository: string;
  /** The public half of the key that signed every manifest. */
  trustedKeys: PublicKeyRecord[];
  trusted: TrustedKeySet;
  /** The test private key file (a test-only key). */
  signingKeyFile: string;
  /** The verified manifests, by model id. */
  manifests: ReadonlyMap<string, Manifest>;
}

let shared: Promise<TestModelRepository> | undefined;

/**
 * The shared repository of all built-in models, built on first use.
 * @example
 * const { repository, trusted } = await sharedModelRepository();
 */
export function sharedModelRepository(log?: (line: string) => void): Promise<TestModelRepository> {
  shared ??= prepare(log).catch((err: unknown) => {
    shared = undefined;
    throw err;
  });
  return shared;
}

/** The test signing key (created on first use), and a `sign` callback for `buildModels`. */
export async function testSigningKey(): Promise<{ key: SigningKey; sign: (manifest: Manifest) => Promise<unknown> }> {
  const key = await withLock(loadOrCreateKey);
  return { key, sign: (manifest) => signManifest(manifest, [key]) };
}

async function prepare(log?: (line: string) => void): Promise<TestModelRepository> {
  await withLock(async () => {
    const key = await loadOrCreateKey();
    const marker = await expectedMarker(key);
    if ((await readText(MARKER)) === marker) return;
    const staging = `${REPOSITORY}.tmp-${process.pid}`;
    await rm(staging, { recursive: true, force: true });
    await buildModels({ repository: staging, sign: (m) => signManifest(m, [key]), cacheDir: DEFAULT_CACHE_DIR, ...(log ? { log } : {}) });
    await writeFile(join(staging, '.tandem-test-build.json'), marker);
    await rm(REPOSITORY, { recursive: true, force: true });
    await rename(staging, REPOSITORY);
  });
  const key = await importSigningKey(JSON.parse(await readFile(KEY_FILE, 'utf8')));
  const trusted = await loadTrustedKeys([key.publicKey]);
  const manifests = new Map<string, Manifest>();
  for (const { id, version } of await listModelVersions(REPOSITORY)) {
    const { manifest } = await verifyManifest(await readEnvelope(REPOSITORY, id, version), trusted);
    manifests.set(id, manifest);
  }
  return { repository: REPOSITORY, trustedKeys: [key.publicKey], trusted, signingKeyFile: KEY_FILE, manifests };
}

async function expectedMarker(key: SigningKey): Promise<string> {
  const recipes = [];
  for (const recipe of BUILT_IN_RECIPES) recipes.push({ id: recipe.id, version: recipe.version, key: await recipeCacheKey(recipe) });
  return `${JSON.stringify({ keyid: key.keyid, recipes }, null, 2)}\n`;
}

async function loadOrCreateKey(): Promise<SigningKey> {
  const text = await readText(KEY_FILE);
  if (text !== undefined) return importSigningKey(JSON.parse(text));
  const key = await generateSigningKey();
  await writeFile(KEY_FILE, `${JSON.stringify(await exportSigningKey(key), null, 2)}\n`, { mode: 0o600 });
  return key;
}

/**
 * Runs `task` while holding a cross-process lock: a folder holding the owner's pid. A lock whose owner has
 * died (a test run interrupted mid-build) or that is older than 10 minutes is broken.
 */
async function withLock<T>(task: () => Promise<T>): Promise<T> {
  await mkdir(TEST_MODELS_DIR, { recursive: true });
  for (;;) {
    try {
      await mkdir(LOCK);
      await writeFile(join(LOCK, 'pid'), String(process.pid));
      break;
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code !== 'EEXIST') throw cause;
      if (await lockIsStale()) await rm(LOCK, { recursive: true, force: true });
      else await new Promise((r) => setTimeout(r, 200));
    }
  }
  try {
    return await task();
  } finally {
    await rm(LOCK, { recursive: true, force: true });
  }
}

async function lockIsStale(): Promise<boolean> {
  const age = await stat(LOCK).then(
    (s) => Date.now() - s.mtimeMs,
    () => 0,
  );
  if (age > STALE_LOCK_MS) return true;
  const owner = Number(await readText(join(LOCK, 'pid')));
  if (!Number.isInteger(owner) || owner <= 0) return false; // Just created; the pid is on its way.
  try {
    process.kill(owner, 0);
    return false;
  } catch (cause) {
    return (cause as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

async function readText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
}
