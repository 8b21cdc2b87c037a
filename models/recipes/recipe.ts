/**
 * What a built-in model is, to the builder: a recipe with an id, a version and the parameters that decide
 * its bytes, whose `build` trains it and returns a draft: the manifest without the artifact hashes, and
 * each variant's ONNX bytes. The builder hashes, caches, writes and signs; recipes only do the math.
 */
import type { DeviceRequirements, Manifest, Quantization, TensorSpec } from '../../protocol/manifest.ts';

/**
 * Bump when a change to the builder's code changes any model's bytes or manifest (the cache key hashes
 * this with each recipe's `params`, so a stale cache can't survive the change). The determinism test
 * fails with a reminder when a cached build no longer matches a fresh one.
 */
export const RECIPE_VERSION = 3;

/** JSON values, the only things a recipe's params may hold (they are hashed as JSON). */
export type JsonValue = string | number | boolean | null | readonly JsonValue[] | { readonly [key: string]: JsonValue };

export interface RecipeContext {
  /** Progress lines for a person watching the build. */
  log: (line: string) => void;
}

export interface ModelRecipe {
  id: string;
  version: string;
  /** Everything besides the code that decides the output. */
  params: { readonly [key: string]: JsonValue };
  build(context: RecipeContext): Promise<ModelDraft>;
}

/** A variant before its bytes are hashed. */
export interface VariantDraft {
  name: string;
  tier: 'device' | 'origin';
  /** The artifact's file name in the version directory. */
  path: string;
  bytes: Uint8Array;
  opset: number;
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  quantization: Quantization;
  requirements: DeviceRequirements;
}

export interface ModelDraft {
  manifest: Omit<Manifest, 'variants' | 'schemaVersion' | 'id' | 'version'>;
  variants: VariantDraft[];
}
