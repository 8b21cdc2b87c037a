/**
 * Turns a recipe's draft into a manifest: hashes each variant's bytes into its `artifact` entry and
 * validates the result with the shared schema, so the builder can never write a manifest the other tiers
 * would reject.
 */
import { MANIFEST_SCHEMA_VERSION, parseManifest, type Manifest } from '../protocol/manifest.ts';
import { sha256Hex } from '../protocol/sha256.ts';
import type { ModelDraft, ModelRecipe } from './recipes/recipe.ts';

export const ONNX_MEDIA_TYPE = 'application/vnd.onnx';

/** @throws TandemError `manifest_invalid` when the draft does not make a valid manifest. */
export async function assembleManifest(recipe: Pick<ModelRecipe, 'id' | 'version'>, draft: ModelDraft): Promise<Manifest> {
  const variants = [];
  for (const v of draft.variants) {
    variants.push({
      name: v.name,
      tier: v.tier,
      artifact: { path: v.path, sha256: await sha256Hex(v.bytes), bytes: v.bytes.length, mediaType: ONNX_MEDIA_TYPE },
      opset: v.opset,
      inputs: v.inputs,
      outputs: v.outputs,
      quantization: v.quantization,
      requirements: v.requirements,
    });
  }
  return parseManifest({ schemaVersion: MANIFEST_SCHEMA_VERSION, id: recipe.id, version: recipe.version, ...draft.manifest, variants });
}
