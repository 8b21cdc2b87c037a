/**
 * `large-classifier`: an origin-only model big enough to matter (about 25M parameters, 100 MB in fp32):
 * 1024 → 4096 → ReLU → 4096 → ReLU → 1000. It is untrained: weights are seeded uniform He draws,
 * scaled so activations neither vanish nor blow up and logits come out with unit-order spread. It exists
 * to exercise the origin tier with a model no device should download.
 */
import { createRng, fillUniform, type Rng } from '../math/prng.ts';
import { argmaxRows, meanStd, roundTo } from '../math/stats.ts';
import { denseForward, type Dense } from '../nn/dense.ts';
import { addDense } from '../onnx/dense-nodes.ts';
import { GraphBuilder, OPSET } from '../onnx/graph-builder.ts';
import { addClassifierOutputs, classifierOutputSpecs, megabytes, storageMiB } from './classifier-variants.ts';
import { RECIPE_VERSION, type ModelRecipe } from './recipe.ts';

const params = {
  seed: 'large-classifier@1.0.0',
  layers: [1024, 4096, 4096, 1000],
  biasLimit: 0.01,
  referenceSamples: 32,
} as const;

export const largeClassifier: ModelRecipe = {
  id: 'large-classifier',
  version: '1.0.0',
  params,
  async build({ log }) {
    const started = performance.now();
    const rng = createRng(params.seed);
    const dims = params.layers;
    const classes = dims[dims.length - 1]!;
    const layers: Dense[] = [];
    for (let i = 0; i + 1 < dims.length; i++) {
      // He uniform (variance 2/fan_in): activations keep their scale through each ReLU layer.
      const limit = Math.sqrt(6 / dims[i]!);
      layers.push(uniformDense(rng.fork(`fc${i + 1}`), dims[i]!, dims[i + 1]!, limit, params.biasLimit, i > 0));
    }
    const parameters = layers.reduce((sum, l) => sum + l.weight.length + l.bias.length, 0);

    // A forward pass over a few standard normal inputs checks the scaling and gives the data reference.
    const reference = new Float32Array(params.referenceSamples * dims[0]!);
    const referenceRng = rng.fork('reference');
    for (let i = 0; i < reference.length; i++) reference[i] = referenceRng.normal();
    let y: Float32Array = reference;
    for (const [i, layer] of layers.entries()) y = denseForward(layer, y, params.referenceSamples, i < layers.length - 1);
    const logits = meanStd(y);
    const distinctTop = new Set(argmaxRows(y, params.referenceSamples, classes)).size;

    const g = new GraphBuilder('large-classifier');
    let x = g.input('x', 'float32', ['batch', dims[0]!]);
    for (const [i, layer] of layers.entries()) {
      const last = i === layers.length - 1;
      x = addDense(g, `fc${i + 1}`, x, layer, !last, last ? 'logits' : undefined);
    }
    addClassifierOutputs(g, classes);
    const bytes = g.build({ docString: DOC, producerVersion: String(RECIPE_VERSION) });
    log(
      `large-classifier: ${parameters.toLocaleString('en-US')} params generated in ${((performance.now() - started) / 1000).toFixed(1)}s ` +
        `(on ${params.referenceSamples} normal inputs: logit std ${logits.std.toFixed(2)}, ${distinctTop} distinct top classes); fp32 ${megabytes(bytes.length)}`,
    );

    const stats = meanStd(reference);
    return {
      manifest: {
        createdAt: '2026-01-01T00:00:00Z',
        description: DOC,
        task: 'classification',
        classLabels: Array.from({ length: classes }, (_, i) => `class-${String(i).padStart(4, '0')}`),
        labels: { family: 'mlp', dataset: 'none', training: 'untrained-seeded-init', parameters: String(parameters) },
        dataReference: {
          description: `the input distribution the weights are scaled for: independent standard normal values (${params.referenceSamples} reference samples)`,
          samples: params.referenceSamples,
          inputs: { x: { mean: roundTo(stats.mean, 6), std: roundTo(stats.std, 6) } },
        },
      },
      variants: [
        {
          name: 'fp32',
          tier: 'origin',
          path: 'fp32.onnx',
          bytes,
          opset: OPSET,
          inputs: [{ name: 'x', dtype: 'float32', shape: ['batch', dims[0]!] }],
          outputs: classifierOutputSpecs(classes),
          quantization: { method: 'none' },
          requirements: { minMemoryMiB: 2048, minStorageMiB: storageMiB(bytes.length), backends: ['cpu'], maxBatch: 32 },
        },
      ],
    };
  },
};

/**
 * Uniform random weights in [−limit, limit). After a ReLU every input has a positive mean shared by all
 * samples, which through random weights becomes a per-output offset that swamps what depends on the input
 * (every input would get the same top class); `zeroMeanRows` centres each weight row so that shared part
 * cancels.
 */
function uniformDense(rng: Rng, inputs: number, outputs: number, limit: number, biasLimit: number, zeroMeanRows: boolean): Dense {
  const weight = fillUniform(rng.fork('weight'), new Float32Array(outputs * inputs), limit);
  if (zeroMeanRows) {
    for (let o = 0; o < outputs; o++) {
      const row = weight.subarray(o * inputs, (o + 1) * inputs);
      let sum = 0;
      for (let i = 0; i < inputs; i++) sum += row[i]!;
      const mean = sum / inputs;
      for (let i = 0; i < inputs; i++) row[i]! -= mean;
    }
  }
  const bias = fillUniform(rng.fork('bias'), new Float32Array(outputs), biasLimit);
  return { inputs, outputs, weight, bias };
}

const DOC = 'Large untrained MLP classifier 1024-4096-4096-1000 (ReLU, about 25M parameters) with seeded weights, served by the origin only.';
