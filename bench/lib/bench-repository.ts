/**
 * The model repository a benchmark serves: the chosen built-in models built by models/ through the shared
 * build cache (a copy, no training, once the cache is warm) into a temporary folder, signed by a key made for
 * this run, as origin/test-support.ts does for tests. It also returns what the benchmark needs to know about
 * each model's origin-tier variant: its input signature and the artifact on disk, for the raw ORT runs.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildModels } from '../../models/build.ts';
import { generateSigningKey } from '../../protocol/keys.ts';
import { variantForTier, type ManifestVariant } from '../../protocol/manifest.ts';
import { signManifest } from '../../protocol/signed-manifest.ts';
import { onExit } from './cleanup.ts';

export interface BenchModel {
  id: string;
  version: string;
  /** The origin-tier variant the origin serves. */
  variant: ManifestVariant;
  /** Its artifact in the repository. */
  artifactPath: string;
}

export interface BenchRepository {
  repository: string;
  /** JSON text for TANDEM_TRUSTED_KEYS. */
  trustedKeys: string;
  models: BenchModel[];
  cleanup(): Promise<void>;
}

export async function benchRepository(ids: readonly string[]): Promise<BenchRepository> {
  const repository = await mkdtemp(join(tmpdir(), 'tandem-bench-repo-'));
  const unregister = onExit(() => rmSync(repository, { recursive: true, force: true }));
  const key = await generateSigningKey();
  const built = await buildModels({ repository, sign: (m) => signManifest(m, [key]), only: ids });
  const models = built.map((model) => {
    const variant = variantForTier(model.manifest, 'origin');
    if (!variant) throw new Error(`${model.id} has no origin-tier variant`);
    return { id: model.id, version: model.version, variant, artifactPath: join(model.dir, variant.artifact.path) };
  });
  return {
    repository,
    trustedKeys: JSON.stringify([key.publicKey]),
    models,
    async cleanup() {
      unregister();
      await rm(repository, { recursive: true, force: true });
    },
  };
}
