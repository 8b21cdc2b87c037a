/**
 * The stack the end-to-end tests drive: the real origin, the real edge under `wrangler dev` and the demo
 * page (stack/stack.ts, what `npm start` runs), on a temporary repository signed by a fresh key.
 * The edge also holds a model whose stored artifact is not the bytes its signed manifest names, the way a
 * corrupted or swapped object in the bucket would look.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StartEdgeOptions } from '../../stack/edge-process.ts';
import { startStack, type RunningStack } from '../../stack/stack.ts';
import { copyVersion, readVerifiedManifest, signedRepository, type TestRepository } from '../../origin/test-support.ts';
import type { Manifest } from '../../protocol/manifest.ts';
import { envelopeKey } from '../../protocol/repository-layout.ts';
import { signManifest } from '../../protocol/signed-manifest.ts';
import { artifactObjectKey } from '../../worker/storage/layout.ts';

/** A validly signed manifest whose int8 artifact object in R2 holds other bytes than its SHA-256 names. */
export const TAMPERED_ARTIFACT_MODEL = 'mlp-tampered-artifact';

export interface E2eStack {
  stack: RunningStack;
  repo: TestRepository;
  /** Copies `id` 1.0.0 to `version`, signed, and restarts the edge so it serves it as the latest. */
  publishVersion(id: string, version: string): Promise<void>;
  stop(): Promise<void>;
}

/** What a test changes in the stack: the models built, the repository before the stack starts, the edge's options. */
export interface E2eStackOptions {
  /** The built-in models the repository holds. Default all three. */
  models?: readonly string[];
  /** Runs on the signed repository before the origin and edge start (another version, a rollout record). */
  prepare?: (repo: TestRepository) => Promise<void>;
  /** Edge options beyond the stack's defaults (tuning, API keys). */
  edge?: Partial<Pick<StartEdgeOptions, 'tuning' | 'apiKeys'>>;
}

export async function startE2eStack(log: (line: string) => void = () => {}, options: E2eStackOptions = {}): Promise<E2eStack> {
  const repo = await signedRepository(options.models ?? ['mlp-classifier', 'shapes-cnn', 'large-classifier']);
  const keysDir = await mkdtemp(join(tmpdir(), 'tandem-e2e-keys-'));
  const trustedKeysFile = join(keysDir, 'trusted-keys.json');
  await writeFile(trustedKeysFile, repo.trustedKeys);
  let stack: RunningStack | undefined;
  try {
    await options.prepare?.(repo);
    stack = await startStack({
      repository: repo.repository,
      trustedKeysFile,
      edge: { ...options.edge, extraObjects: await tamperedArtifactObjects(repo) },
      onLine: (tier, line) => {
        if (/error|warn|fatal/i.test(line)) log(`[${tier}] ${line}`);
      },
    });
  } catch (err) {
    await Promise.all([repo.cleanup(), rm(keysDir, { recursive: true, force: true })]);
    throw err;
  }
  const running = stack;
  return {
    stack: running,
    repo,
    publishVersion: async (id, version) => {
      await copyVersion(repo, id, '1.0.0', version);
      await running.restartEdge();
    },
    stop: async () => {
      await running.stop();
      await Promise.all([repo.cleanup(), rm(keysDir, { recursive: true, force: true })]);
    },
  };
}

/**
 * The MLP's manifest under another id, its int8 artifact named by the hash of one-byte-altered bytes,
 * and the object under that hash holding the original bytes: the edge serves it, the client must refuse.
 */
async function tamperedArtifactObjects(repo: TestRepository): Promise<{ key: string; body: string | Uint8Array }[]> {
  const manifest = await readVerifiedManifest(repo, 'mlp-classifier');
  const int8 = manifest.variants.find((v) => v.name === 'int8')!;
  const bytes = new Uint8Array(await readFile(join(repo.repository, manifest.id, manifest.version, int8.artifact.path)));
  const altered = bytes.slice();
  altered[altered.length - 1]! ^= 0xff;
  const claimed = createHash('sha256').update(altered).digest('hex');
  const tampered: Manifest = {
    ...manifest,
    id: TAMPERED_ARTIFACT_MODEL,
    variants: manifest.variants.map((v) => (v.name === 'int8' ? { ...v, artifact: { ...v.artifact, sha256: claimed } } : v)),
  };
  return [
    { key: envelopeKey(TAMPERED_ARTIFACT_MODEL, manifest.version), body: JSON.stringify(await signManifest(tampered, [repo.key])) },
    { key: artifactObjectKey(claimed), body: bytes },
  ];
}
