/**
 * `mlp-classifier`: 256 → 1024 → ReLU → 1024 → ReLU → 10, trained in closed form on the synthetic
 * cluster data. The two hidden layers are fixed random features (He-scaled, so about half the units are
 * active); the output layer is ridge regression onto one-hot targets. Seconds of plain JavaScript, and
 * the same bytes on every machine.
 */
import type { ClusterSpec, LabelledSet } from '../data/clusters.ts';
import { MLP_DATA, MLP_SEED, mlpDistribution } from '../data/examples.ts';
import { fitTemperature, meanConfidence, scaleDense } from '../math/calibration.ts';
import { fitRidge } from '../math/ridge.ts';
import { createRng } from '../math/prng.ts';
import { argmaxRows, meanStd, oneHot, roundTo } from '../math/stats.ts';
import { denseForward, quantizeDense, quantizedDenseForward, randomDense, type Dense } from '../nn/dense.ts';
import { addDense, addQuantizedDense } from '../onnx/dense-nodes.ts';
import { GraphBuilder } from '../onnx/graph-builder.ts';
import { addClassifierOutputs, classificationEvaluation, classifierOutputSpecs, megabytes, percent, variantPair } from './classifier-variants.ts';
import { RECIPE_VERSION, type ModelRecipe } from './recipe.ts';

const params = {
  seed: MLP_SEED,
  layers: [256, 1024, 1024, 10],
  data: MLP_DATA,
  trainSamples: 5000,
  heldOutSamples: 2000,
  /** A third draw, for the softmax temperature only (a fit on the training set comes out overconfident). */
  calibrationSamples: 2000,
  hiddenBiasStd: [0.5, 0.2],
  relativeLambda: 0.05,
} as const;

export const mlpClassifier: ModelRecipe = {
  id: 'mlp-classifier',
  version: '1.0.0',
  params,
  async build({ log }) {
    const started = performance.now();
    const [inputs, hidden1, hidden2, classes] = params.layers;
    const rng = createRng(params.seed);
    const { spec, train, heldOut: test } = mlpClassifierData();

    const fc1 = randomDense(rng.fork('fc1'), inputs, hidden1, Math.sqrt(2 / inputs), params.hiddenBiasStd[0]);
    const fc2 = randomDense(rng.fork('fc2'), hidden1, hidden2, Math.sqrt(2 / hidden1), params.hiddenBiasStd[1]);
    const features = denseForward(fc2, denseForward(fc1, train.x, train.count, true), train.count, true);
    const fit = fitRidge(features, train.count, hidden2, oneHot(train.labels, classes), classes, { relativeLambda: params.relativeLambda });
    const readout: Dense = { inputs: hidden2, outputs: classes, ...fit };
    const calibration = mlpDistribution().sample(rng.fork('calibration'), params.calibrationSamples);
    const calibrationLogits = [fc1, fc2, readout].reduce((x, layer, i) => denseForward(layer, x, calibration.count, i < 2), calibration.x);
    const temperature = fitTemperature(calibrationLogits, calibration.labels, calibration.count, classes);
    const fc3 = scaleDense(readout, temperature);
    const layers = [fc1, fc2, fc3];
    const parameters = layers.reduce((sum, l) => sum + l.weight.length + l.bias.length, 0);
    const trainedIn = (performance.now() - started) / 1000;

    const quantized = layers.map(quantizeDense);
    let fp32 = test.x;
    let int8 = test.x;
    for (const [i, layer] of layers.entries()) {
      const relu = i < layers.length - 1;
      fp32 = denseForward(layer, fp32, test.count, relu);
      int8 = quantizedDenseForward(quantized[i]!, int8, test.count, relu);
    }
    const evaluation = classificationEvaluation(test.labels, argmaxRows(fp32, test.count, classes), argmaxRows(int8, test.count, classes));
    const confidence = meanConfidence(fp32, test.count, classes);

    const build = (quantize: boolean): Uint8Array => {
      const g = new GraphBuilder('mlp-classifier');
      let x = g.input('x', 'float32', ['batch', inputs]);
      for (const [i, layer] of layers.entries()) {
        const last = i === layers.length - 1;
        const name = `fc${i + 1}`;
        const out = last ? 'logits' : undefined;
        x = quantize ? addQuantizedDense(g, name, x, quantized[i]!, !last, out) : addDense(g, name, x, layer, !last, out);
      }
      addClassifierOutputs(g, classes);
      return g.build({ docString: DOC, producerVersion: String(RECIPE_VERSION) });
    };
    const fp32Bytes = build(false);
    const int8Bytes = build(true);
    log(
      `mlp-classifier: ${parameters.toLocaleString('en-US')} params, fitted on ${train.count} samples in ${trainedIn.toFixed(1)}s; ` +
        `held-out (${test.count}) accuracy fp32 ${percent(evaluation.accuracy_fp32!)}, int8 ${percent(evaluation.accuracy_int8!)}, ` +
        `top-1 agreement ${percent(evaluation.top1_agreement!)}, mean confidence ${percent(confidence)} (temperature ${temperature.toFixed(2)}); fp32 ${megabytes(fp32Bytes.length)}, int8 ${megabytes(int8Bytes.length)} ` +
        `(${percent(int8Bytes.length / fp32Bytes.length)})`,
    );

    const stats = meanStd(train.x);
    const modelInputs = [{ name: 'x', dtype: 'float32' as const, shape: ['batch', inputs] }];
    return {
      manifest: {
        createdAt: '2026-01-01T00:00:00Z',
        description: DOC,
        task: 'classification',
        classLabels: Array.from({ length: classes }, (_, i) => `class-${i}`),
        labels: { family: 'mlp', dataset: 'synthetic-clusters', training: 'random-features+ridge', parameters: String(parameters) },
        dataReference: {
          description: `${train.count} synthetic samples: ${classes} classes, each a mixture of ${spec.blobsPerClass} Gaussian blobs in a ${spec.latentDim}-d latent space projected to ${inputs}-d`,
          samples: train.count,
          inputs: { x: { mean: roundTo(stats.mean, 6), std: roundTo(stats.std, 6) } },
        },
        evaluation,
      },
      variants: variantPair({
        fp32: fp32Bytes,
        int8: int8Bytes,
        inputs: modelInputs,
        outputs: classifierOutputSpecs(classes),
        originMemoryMiB: 256,
        deviceMemoryMiB: 128,
      }),
    };
  },
};

/** The training and held-out sets exactly as the build draws them (tests run the built files on `heldOut`). */
export function mlpClassifierData(): { spec: ClusterSpec; train: LabelledSet; heldOut: LabelledSet } {
  const rng = createRng(params.seed);
  const data = mlpDistribution();
  return { spec: data.spec, train: data.sample(rng.fork('train'), params.trainSamples), heldOut: data.sample(rng.fork('held-out'), params.heldOutSamples) };
}

const DOC =
  'MLP classifier 256-1024-1024-10 (ReLU) over synthetic Gaussian-mixture clusters; hidden layers are fixed random features, the output layer a ridge fit.';
