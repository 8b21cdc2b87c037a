import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sha256Hex } from '../protocol/sha256.ts';
import { buildModels } from './build.ts';
import { sharedModelRepository, testSigningKey } from './test-support.ts';

// A cold build (fresh cache) must reproduce, byte for byte, the shared repository that other tests use,
// which itself came from an earlier build or the build cache. The cold build runs before waiting for
// the shared one, so on a cold machine the two build in parallel in different vitest workers.
describe('the model build', () => {
  let scratch: string | undefined;
  afterAll(async () => {
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it('is byte-identical when run again from scratch', { timeout: 280_000 }, async () => {
    scratch = await mkdtemp(join(tmpdir(), 'tandem-determinism-'));
    const { sign } = await testSigningKey();
    const started = performance.now();
    const built = await buildModels({ repository: scratch, sign, cacheDir: join(scratch, '.cache'), log: (line) => console.log(`[cold build] ${line}`) });
    console.log(`cold build of ${built.length} models: ${((performance.now() - started) / 1000).toFixed(1)}s`);
    const shared = await sharedModelRepository();
    for (const model of built) {
      expect(model.cached).toBe(false);
      const fresh = await fileHashes(model.dir);
      const reference = await fileHashes(join(shared.repository, model.id, model.version));
      // Artifacts and envelope alike (Ed25519 signatures are deterministic too).
      expect(Object.keys(fresh)).toEqual(['fp32.onnx', ...(model.id === 'large-classifier' ? [] : ['int8.onnx']), 'manifest.dsse.json']);
      expect(fresh, `${model.id}: a fresh build differs from the cached one; if the recipe changed, bump RECIPE_VERSION`).toEqual(reference);
    }
  });
});

async function fileHashes(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of (await readdir(dir)).sort()) out[name] = await sha256Hex(await readFile(join(dir, name)));
  return out;
}
