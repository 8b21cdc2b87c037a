/**
 * Every credential of the local stack, defined once: the origin's dev tokens (its own fallbacks, see
 * origin/config.ts), the edge's dev API keys, and the dev signing key with the model repository it signs
 * and its dev root of trust (dev-trust.ts; made on first use, the record refreshed at each start).
 * Nothing here is fit for production: production takes its tokens, keys and trusted keys from the
 * environment (docs/operations.md, docs/security.md).
 */
import { join, resolve } from 'node:path';
import { DEFAULT_REPOSITORY } from '../models/build.ts';
import { buildAndSign } from '../models/cli/build-models.ts';
import { DEFAULT_KEY_DIR, TRUSTED_KEYS_FILE, ensureDevKey } from '../models/keys-store.ts';
import { listModelVersions } from '../origin/repository.ts';
import { DEV_ADMIN_TOKEN, DEV_TOKEN } from '../origin/config.ts';
import { ensureDevTrust, ROOT_KEYS_FILE, type DevTrust } from './dev-trust.ts';

export const DEV_ORIGIN_TOKEN = DEV_TOKEN;
export const DEV_ORIGIN_ADMIN_TOKEN = DEV_ADMIN_TOKEN;
export const DEV_API_KEY = 'dev-api-key';
export const DEV_ADMIN_KEY = 'dev-admin-key';

/** The dev signing key's trusted (public) half: what the local origin, edge and demo page trust. */
export const DEV_TRUSTED_KEYS_FILE = join(DEFAULT_KEY_DIR, TRUSTED_KEYS_FILE);

/** The dev root key's public half: the root keys the local origin, edge and demo page pin. */
export const DEV_ROOT_KEYS_FILE = join(DEFAULT_KEY_DIR, ROOT_KEYS_FILE);

export interface ApiKeySpec {
  name: string;
  /** The key in clear; only its hash reaches the edge. */
  key: string;
  scopes?: ('infer' | 'catalog' | 'admin')[];
  models?: string[];
  ratePerSecond?: number;
  burst?: number;
}

/** The edge's API keys in development: inference and catalog for the demo, admin for operators. */
export const DEV_API_KEYS: readonly ApiKeySpec[] = [
  { name: 'dev', key: DEV_API_KEY, scopes: ['infer', 'catalog'], ratePerSecond: 100_000, burst: 100_000 },
  { name: 'dev-admin', key: DEV_ADMIN_KEY, scopes: ['admin'] },
];

/**
 * Makes the dev signing key when missing and, for the built-in repository or an empty one, builds the
 * built-in models (from the build cache after the first time, well under a second) and signs them with
 * the dev key, so a regenerated key never leaves stale signatures behind, then makes its dev root of
 * trust and a fresh timestamp record releasing every version (dev-trust.ts). A repository of the user's
 * own that holds models is left as it is.
 * @returns the dev root of trust, or undefined for a repository of the user's own.
 */
export async function ensureDevRepository(repository: string, log: (line: string) => void = () => {}): Promise<DevTrust | undefined> {
  await ensureDevKey();
  const empty = (await listModelVersions(repository)).length === 0;
  if (resolve(repository) !== DEFAULT_REPOSITORY && !empty) return undefined;
  if (empty) log(`building the built-in models into ${repository} (about 20 s the first time)…`);
  await buildAndSign({ repository, cache: true });
  return ensureDevTrust(repository, { log });
}
