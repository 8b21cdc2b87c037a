/**
 * Copies a model repository into the edge's R2 bucket as `wrangler dev` keeps it locally: each signed
 * envelope under `<id>/<version>/manifest.dsse.json`, each artifact once under `artifacts/<sha256>`
 * (worker/storage/layout.ts), and the update framework's metadata under the same keys as on disk
 * (`_trust/root/<n>.dsse.json`, `_trust/timestamp.dsse.json`: protocol/repository-layout.ts) and the rollout
 * records (`_rollout/<model>.dsse.json`, `tandem rollout`). Writes through wrangler's `getPlatformProxy` (Miniflare), which is far faster than
 * one `wrangler r2 object put --local` per object. Envelopes are copied byte for byte and not verified
 * here: the edge verifies on every read, so a bad one is refused there. An artifact whose bytes don't hash
 * to what its manifest says is skipped, since storing it under that hash would be a lie.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile, writeFile, mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { getPlatformProxy, unstable_readConfig } from 'wrangler';
import { artifactFile, listModelVersions } from '../origin/repository.ts';
import { decodeBase64 } from '../protocol/base64.ts';
import { envelopeKey, ENVELOPE_FILE, ROLLOUT_PREFIX, rolloutKey, rootKey, TIMESTAMP_KEY, TRUST_PREFIX } from '../protocol/repository-layout.ts';
import { artifactObjectKey } from '../worker/storage/layout.ts';

export const ROOT = resolve(import.meta.dirname, '..');
export const WRANGLER_CONFIG = join(ROOT, 'wrangler.toml');

export interface SeedOptions {
  repository: string;
  /** The directory given to `wrangler dev --persist-to`. */
  persistTo: string;
  /** Extra objects to store as they are (tests use this for a tampered envelope). */
  extra?: { key: string; body: string | Uint8Array }[];
  log?: (line: string) => void;
}

export interface SeedReport {
  manifests: number;
  artifacts: number;
  /** Update framework documents copied (root versions and the timestamp record) and rollout records. */
  trust: number;
  skipped: string[];
}

interface ManifestArtifacts {
  variants?: { artifact?: { path?: string; sha256?: string } }[];
}

export async function seed(options: SeedOptions): Promise<SeedReport> {
  const log = options.log ?? (() => undefined);
  const proxy = await getPlatformProxy<{ MODELS: R2BucketLike }>({
    configPath: await storageOnlyConfig(options.persistTo),
    persist: { path: join(options.persistTo, 'v3') },
    envFiles: [],
    remoteBindings: false,
  });
  const report: SeedReport = { manifests: 0, artifacts: 0, trust: 0, skipped: [] };
  try {
    const bucket = proxy.env.MODELS;
    for (const { id, version, dir } of await listModelVersions(options.repository)) {
      const text = await readFile(join(dir, ENVELOPE_FILE), 'utf8');
      await bucket.put(envelopeKey(id, version), text);
      report.manifests++;
      for (const variant of unverifiedPayload(text).variants ?? []) {
        const { path, sha256 } = variant.artifact ?? {};
        if (!path || !sha256) continue;
        const key = artifactObjectKey(sha256);
        if (await bucket.head(key)) continue;
        const bytes = await readFile(artifactFile(options.repository, id, version, path)).catch(() => undefined);
        if (!bytes || createHash('sha256').update(bytes).digest('hex') !== sha256) {
          report.skipped.push(`${id}@${version}/${path}`);
          log(`seed: skipped ${id}@${version}/${path}: missing, or its SHA-256 is not the manifest's`);
          continue;
        }
        await bucket.put(key, new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), { httpMetadata: { contentType: 'application/octet-stream' } });
        report.artifacts++;
      }
    }
    // Byte for byte and unverified, as envelopes are: the edge verifies them against its pinned ROOT_KEYS.
    for (const key of [...(await trustKeys(options.repository)), ...(await rolloutKeys(options.repository))]) {
      await bucket.put(key, await readFile(join(options.repository, ...key.split('/')), 'utf8'), { httpMetadata: { contentType: 'application/json' } });
      report.trust++;
    }
    for (const { key, body } of options.extra ?? []) await bucket.put(key, body);
  } finally {
    await proxy.dispose();
  }
  log(`seed: ${report.manifests} manifests, ${report.artifacts} artifacts, ${report.trust} trust documents into ${options.persistTo}`);
  return report;
}

/** The keys of the repository's rollout records (`tandem rollout`), by model id. */
export async function rolloutKeys(repository: string): Promise<string[]> {
  const names = await readdir(join(repository, ROLLOUT_PREFIX)).catch(() => [] as string[]);
  return names
    .map((n) => /^([a-z0-9][a-z0-9._-]{0,63})\.dsse\.json$/.exec(n)?.[1])
    .filter((id): id is string => id !== undefined)
    .sort()
    .map(rolloutKey);
}

/** The keys of a repository's update metadata present on disk: root versions in order, then the record. */
export async function trustKeys(repository: string): Promise<string[]> {
  const names = await readdir(join(repository, TRUST_PREFIX, 'root')).catch(() => [] as string[]);
  const versions = names
    .map((n) => /^([1-9]\d*)\.dsse\.json$/.exec(n)?.[1])
    .filter((v): v is string => v !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
  const record = await readFile(join(repository, ...TIMESTAMP_KEY.split('/'))).then(
    () => [TIMESTAMP_KEY],
    () => [],
  );
  return [...versions.map(rootKey), ...record];
}

/**
 * wrangler.toml reduced to the R2 binding: seeding needs only storage, and the full config makes Miniflare
 * warn that the Durable Object bindings will not work (true, and beside the point here).
 */
async function storageOnlyConfig(persistTo: string): Promise<string> {
  const config = unstable_readConfig({ config: WRANGLER_CONFIG }, { hideWarnings: true });
  const path = join(persistTo, 'seed.wrangler.json');
  await mkdir(persistTo, { recursive: true });
  const { name, compatibility_date, r2_buckets } = config;
  await writeFile(path, JSON.stringify({ name, compatibility_date, r2_buckets }));
  return path;
}

/** The artifact list of an envelope, read without verifying it (only to know which files to copy). */
function unverifiedPayload(text: string): ManifestArtifacts {
  try {
    const envelope = JSON.parse(text) as { payload?: string };
    return JSON.parse(new TextDecoder().decode(decodeBase64(envelope.payload ?? '', 'manifest_invalid'))) as ManifestArtifacts;
  } catch {
    return {};
  }
}

/** The part of R2 the seeder uses (the Node side has no workers-types). */
interface R2BucketLike {
  put(key: string, body: string | Uint8Array, options?: { httpMetadata?: { contentType?: string } }): Promise<unknown>;
  head(key: string): Promise<unknown>;
}
