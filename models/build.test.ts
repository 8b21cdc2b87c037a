import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSigningKey, loadTrustedKeys } from '../protocol/keys.ts';
import { parseManifest, type Manifest } from '../protocol/manifest.ts';
import { sha256Hex } from '../protocol/sha256.ts';
import { signManifest, verifyManifest } from '../protocol/signed-manifest.ts';
import { buildModels } from './build.ts';
import { GraphBuilder } from './onnx/graph-builder.ts';
import { addClassifierOutputs, classifierOutputSpecs, variantPair } from './recipes/classifier-variants.ts';
import type { ModelRecipe } from './recipes/recipe.ts';
import { BUILT_IN_RECIPES } from './recipes/registry.ts';
import { sharedModelRepository, testSigningKey, type TestModelRepository } from './test-support.ts';

let scratch: string;
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'tandem-models-'));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

/** A recipe that builds in microseconds and counts its builds. */
function fakeRecipe(params: { seed: number }): ModelRecipe & { builds: number } {
  const recipe = {
    id: 'fake-model',
    version: '0.1.0',
    params,
    builds: 0,
    async build() {
      recipe.builds++;
      const bytes = (scale: number): Uint8Array => {
        const g = new GraphBuilder('fake');
        const x = g.input('x', 'float32', ['batch', 2]);
        const w = g.initializer('w', 'float32', [2, 2], Float32Array.from([params.seed, 0, 0, scale]));
        g.op('MatMul', [x, w], {}, 'logits');
        addClassifierOutputs(g, 2);
        return g.build({ docString: 'fake' });
      };
      const inputs = [{ name: 'x', dtype: 'float32' as const, shape: ['batch', 2] }];
      return {
        manifest: { createdAt: '2026-01-01T00:00:00Z', task: 'classification' as const },
        variants: variantPair({ fp32: bytes(1), int8: bytes(2), inputs, outputs: classifierOutputSpecs(2), originMemoryMiB: 1, deviceMemoryMiB: 1 }),
      };
    },
  };
  return recipe;
}

async function fileHashes(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of (await readdir(dir)).sort()) out[name] = await sha256Hex(await readFile(join(dir, name)));
  return out;
}

describe('buildModels with a fake recipe', () => {
  it('trains once per recipe, then serves the cache; changed params or a disabled cache rebuild', async () => {
    const key = await generateSigningKey();
    const sign = (m: Manifest) => signManifest(m, [key]);
    const cacheDir = join(scratch, 'fake-cache');
    const repository = join(scratch, 'fake-repo');
    const recipe = fakeRecipe({ seed: 1 });

    const [first] = await buildModels({ repository, sign, cacheDir, recipes: [recipe] });
    expect(recipe.builds).toBe(1);
    expect(first!.cached).toBe(false);
    const [second] = await buildModels({ repository, sign, cacheDir, recipes: [recipe] });
    expect(recipe.builds).toBe(1);
    expect(second!.cached).toBe(true);
    expect(second!.manifest).toEqual(first!.manifest);

    await buildModels({ repository, sign, cacheDir: null, recipes: [recipe] });
    expect(recipe.builds).toBe(2);
    const changed = fakeRecipe({ seed: 2 });
    const [third] = await buildModels({ repository, sign, cacheDir, recipes: [changed] });
    expect(changed.builds).toBe(1);
    expect(third!.manifest.variants[0]!.artifact.sha256).not.toBe(first!.manifest.variants[0]!.artifact.sha256);
  });

  it('signs on every build, so a new key re-signs without retraining', async () => {
    const cacheDir = join(scratch, 'resign-cache');
    const repository = join(scratch, 'resign-repo');
    const recipe = fakeRecipe({ seed: 3 });
    const envelopes = [];
    for (const key of [await generateSigningKey(), await generateSigningKey()]) {
      const [built] = await buildModels({ repository, sign: (m) => signManifest(m, [key]), cacheDir, recipes: [recipe] });
      const envelope = JSON.parse(await readFile(join(built!.dir, 'manifest.dsse.json'), 'utf8')) as unknown;
      const { manifest } = await verifyManifest(envelope, await loadTrustedKeys([key.publicKey]));
      expect(manifest).toEqual(built!.manifest);
      envelopes.push(envelope);
    }
    expect(recipe.builds).toBe(1);
    expect(envelopes[1]).not.toEqual(envelopes[0]);
  });

  it('writes the envelope the sign callback returns, pretty-printed', async () => {
    const repository = join(scratch, 'stub-repo');
    // A stand-in signer: the builder only needs a callback returning the envelope JSON.
    const sign = async (m: Manifest) => ({
      payloadType: 'application/vnd.tandem.manifest+json',
      payload: Buffer.from(JSON.stringify(m)).toString('base64'),
      signatures: [],
    });
    const [built] = await buildModels({ repository, sign, cacheDir: null, recipes: [fakeRecipe({ seed: 4 })] });
    const text = await readFile(join(built!.dir, 'manifest.dsse.json'), 'utf8');
    expect(text).toBe(JSON.stringify(await sign(built!.manifest), null, 2));
    expect(Object.keys(await fileHashes(built!.dir))).toEqual(['fp32.onnx', 'int8.onnx', 'manifest.dsse.json']);
  });

  it('refuses unknown model ids', async () => {
    await expect(buildModels({ repository: scratch, sign: async () => ({}), only: ['nope'] })).rejects.toMatchObject({ code: 'model_not_found' });
  });
});

describe('the built-in models', () => {
  let shared: TestModelRepository;
  beforeAll(async () => {
    shared = await sharedModelRepository((line) => console.log(line));
  });

  it('rebuild from a warm cache in about the time it takes to copy and sign', async () => {
    const { sign } = await testSigningKey();
    const started = performance.now();
    const built = await buildModels({ repository: join(scratch, 'warm-repo'), sign });
    const seconds = (performance.now() - started) / 1000;
    console.log(`cached build of ${built.length} models: ${seconds.toFixed(2)}s`);
    expect(built.every((m) => m.cached)).toBe(true);
    expect(seconds).toBeLessThan(10);
  });

  it('have signed manifests that verify, parse, and describe each variant', async () => {
    expect([...shared.manifests.keys()].sort()).toEqual(BUILT_IN_RECIPES.map((r) => r.id).sort());
    for (const manifest of shared.manifests.values()) {
      expect(parseManifest(manifest)).toEqual(manifest);
      const dir = join(shared.repository, manifest.id, manifest.version);
      const hashes = await fileHashes(dir);
      for (const variant of manifest.variants) {
        expect(hashes[variant.artifact.path]).toBe(variant.artifact.sha256);
        expect((await readFile(join(dir, variant.artifact.path))).length).toBe(variant.artifact.bytes);
      }
      expect(manifest.createdAt).toBe('2026-01-01T00:00:00Z');
      expect(manifest.dataReference?.samples).toBeGreaterThan(0);
    }
    const large = shared.manifests.get('large-classifier')!;
    expect(large.variants.map((v) => [v.name, v.tier])).toEqual([['fp32', 'origin']]);
    expect(large.variants[0]!.requirements.minMemoryMiB).toBeGreaterThanOrEqual(2048);
    for (const id of ['mlp-classifier', 'shapes-cnn']) {
      const manifest = shared.manifests.get(id)!;
      expect(manifest.variants.map((v) => [v.name, v.tier, v.quantization.method])).toEqual([
        ['fp32', 'origin', 'none'],
        ['int8', 'device', 'dynamic-int8'],
      ]);
      expect(Object.keys(manifest.evaluation ?? {}).sort()).toEqual(['accuracy_fp32', 'accuracy_int8', 'heldout_samples', 'top1_agreement']);
    }
  });
});
