/**
 * Example inputs for the built-in models, drawn from the distributions they were trained on (a fork of
 * their own seeds the build never uses), so a demo or a test can ask for "a sample of class 3" and expect
 * the model to say 3. Browser-safe: the recipes import the ONNX writer, which needs Node, so the data
 * settings they share with this module live here.
 */
import { createRng } from '../math/prng.ts';
import { clusterDistribution, type ClusterDistribution, type ClusterSpec } from './clusters.ts';
import { generateShapes, IMAGE_SIZE, type ShapesOptions } from './shapes.ts';

export const MLP_SEED = 'mlp-classifier@1.0.0';
export const MLP_DATA: Readonly<ClusterSpec> = { classes: 10, blobsPerClass: 4, latentDim: 24, dim: 256, latentNoise: 0.9, inputNoise: 0.3 };
export const SHAPES_SEED = 'shapes-cnn@1.0.0';
export const SHAPES_IMAGES: Readonly<ShapesOptions> = { noise: 0.2, jitter: 3 };

/** The distribution mlp-classifier's training, held-out and calibration sets (and its examples) are drawn from. */
export function mlpDistribution(): ClusterDistribution {
  return clusterDistribution(createRng(MLP_SEED).fork('distribution'), MLP_DATA);
}

export interface ExampleInput {
  /** The model's input name. */
  name: string;
  data: Float32Array;
  dims: number[];
  /** The class the example was drawn from. */
  label: number;
}

/** Models with examples: the ones a device runs. */
export const EXAMPLE_MODELS = ['mlp-classifier', 'shapes-cnn'] as const;

/**
 * The `index`-th example of class `label` (both from 0) for a model; undefined for a model without examples.
 * @example
 * const { name, data, dims } = exampleInput('mlp-classifier', 3)!;
 */
export function exampleInput(modelId: string, label: number, index = 0): ExampleInput | undefined {
  if (modelId === 'mlp-classifier') {
    const data = mlpDistribution();
    const rng = createRng(MLP_SEED).fork(`examples/${label}`);
    return firstOfClass(
      label,
      index,
      () => {
        const one = data.sample(rng, 1);
        return { data: one.x, label: one.labels[0]! };
      },
      { name: 'x', dims: [1, MLP_DATA.dim] },
    );
  }
  if (modelId === 'shapes-cnn') {
    const rng = createRng(SHAPES_SEED).fork(`examples/${label}`);
    return firstOfClass(
      label,
      index,
      () => {
        const one = generateShapes(rng, 1, SHAPES_IMAGES);
        return { data: one.images, label: one.labels[0]! };
      },
      { name: 'image', dims: [1, 1, IMAGE_SIZE, IMAGE_SIZE] },
    );
  }
  return undefined;
}

/** Draws until the `index`-th sample of `label` (classes are uniform, so about 10 draws each). */
function firstOfClass(label: number, index: number, draw: () => { data: Float32Array; label: number }, input: { name: string; dims: number[] }): ExampleInput {
  if (!Number.isInteger(label) || label < 0 || label >= 10) throw new RangeError(`no class ${label}: classes are 0..9`);
  let seen = 0;
  for (;;) {
    const sample = draw();
    if (sample.label === label && seen++ === index) return { ...input, data: sample.data, label };
  }
}
