/**
 * `shapes-cnn`: a small convolutional classifier of 28×28 synthetic shape images.
 *
 *   image [batch,1,28,28] → Conv 1→16 3×3 + ReLU + MaxPool → Conv 16→32 3×3 (grouped) + ReLU + MaxPool
 *   → Flatten (1568) → Gemm 1568→128 + ReLU → Gemm 128→10 → logits
 *
 * Fitted in closed form: the convolutions are fixed filters (`nn/fixed-filters.ts`), the 128 hidden units
 * a discriminant layer (`nn/discriminant-layer.ts`) and the readout a ridge fit. The dense layers hold
 * almost all the weights, so the int8 variant (dense layers quantized, convolutions kept in float32) is
 * about a quarter of the fp32 file.
 */
import { SHAPES_IMAGES, SHAPES_SEED } from '../data/examples.ts';
import { generateShapes, IMAGE_SIZE, SHAPE_CLASSES, type ImageSet } from '../data/shapes.ts';
import { createRng } from '../math/prng.ts';
import { fitTemperature, meanConfidence, scaleDense } from '../math/calibration.ts';
import { fitRidge } from '../math/ridge.ts';
import { argmaxRows, meanStd, oneHot, roundTo } from '../math/stats.ts';
import { conv3x3Relu, maxPool2, type Conv3x3 } from '../nn/conv.ts';
import { denseForward, quantizeDense, quantizedDenseForward, type Dense } from '../nn/dense.ts';
import { discriminantLayer } from '../nn/discriminant-layer.ts';
import { blurContrastLayer, detectorLayer } from '../nn/fixed-filters.ts';
import { addConvReluPool } from '../onnx/conv-nodes.ts';
import { addDense, addQuantizedDense } from '../onnx/dense-nodes.ts';
import { GraphBuilder } from '../onnx/graph-builder.ts';
import { addClassifierOutputs, classificationEvaluation, classifierOutputSpecs, megabytes, percent, variantPair } from './classifier-variants.ts';
import { RECIPE_VERSION, type ModelRecipe } from './recipe.ts';

const params = {
  seed: SHAPES_SEED,
  images: SHAPES_IMAGES,
  trainSamples: 4000,
  heldOutSamples: 2000,
  /** A third draw, for the softmax temperature only (a fit on the training set comes out overconfident). */
  calibrationSamples: 2000,
  detectorBias: -0.1,
  hidden: { units: 128, relativeLambda: 0.3, randomBiasStd: 1 },
  readoutRelativeLambda: 0.001,
} as const;

const CLASSES = SHAPE_CLASSES.length;

export const shapesCnn: ModelRecipe = {
  id: 'shapes-cnn',
  version: '1.0.0',
  params,
  async build({ log }) {
    const started = performance.now();
    const rng = createRng(params.seed);
    const { train, heldOut: test } = shapesCnnData();

    const conv1 = detectorLayer(rng.fork('conv1'), params.detectorBias);
    const conv2 = blurContrastLayer(conv1.outChannels);
    const featureDim = conv2.outChannels * (IMAGE_SIZE / 4) * (IMAGE_SIZE / 4);
    const trainFeatures = convFeatures(conv1, conv2, train, featureDim);
    const fc1 = discriminantLayer(rng.fork('fc1'), trainFeatures, train.count, featureDim, train.labels, CLASSES, params.hidden);
    const hidden = denseForward(fc1, trainFeatures, train.count, true);
    const readout = fitRidge(hidden, train.count, fc1.outputs, oneHot(train.labels, CLASSES), CLASSES, { relativeLambda: params.readoutRelativeLambda });
    const uncalibrated: Dense = { inputs: fc1.outputs, outputs: CLASSES, ...readout };
    const calibration = generateShapes(rng.fork('calibration'), params.calibrationSamples, params.images);
    const calibrationHidden = denseForward(fc1, convFeatures(conv1, conv2, calibration, featureDim), calibration.count, true);
    const temperature = fitTemperature(denseForward(uncalibrated, calibrationHidden, calibration.count, false), calibration.labels, calibration.count, CLASSES);
    const fc2 = scaleDense(uncalibrated, temperature);
    const parameters = [conv1, conv2, fc1, fc2].reduce((sum, l) => sum + l.weight.length + l.bias.length, 0);
    const trainedIn = (performance.now() - started) / 1000;

    const testFeatures = convFeatures(conv1, conv2, test, featureDim);
    const q1 = quantizeDense(fc1);
    const q2 = quantizeDense(fc2);
    const fp32 = denseForward(fc2, denseForward(fc1, testFeatures, test.count, true), test.count, false);
    const int8 = quantizedDenseForward(q2, quantizedDenseForward(q1, testFeatures, test.count, true), test.count, false);
    const evaluation = classificationEvaluation(test.labels, argmaxRows(fp32, test.count, CLASSES), argmaxRows(int8, test.count, CLASSES));
    const confidence = meanConfidence(fp32, test.count, CLASSES);

    const build = (quantize: boolean): Uint8Array => {
      const g = new GraphBuilder('shapes-cnn');
      const image = g.input('image', 'float32', ['batch', 1, IMAGE_SIZE, IMAGE_SIZE]);
      const pooled = addConvReluPool(g, 'conv2', addConvReluPool(g, 'conv1', image, conv1), conv2);
      const flat = g.op('Flatten', [pooled], {});
      const h = quantize ? addQuantizedDense(g, 'fc1', flat, q1, true) : addDense(g, 'fc1', flat, fc1, true);
      if (quantize) addQuantizedDense(g, 'fc2', h, q2, false, 'logits');
      else addDense(g, 'fc2', h, fc2, false, 'logits');
      addClassifierOutputs(g, CLASSES);
      return g.build({ docString: DOC, producerVersion: String(RECIPE_VERSION) });
    };
    const fp32Bytes = build(false);
    const int8Bytes = build(true);
    log(
      `shapes-cnn: ${parameters.toLocaleString('en-US')} params, fitted on ${train.count} images in ${trainedIn.toFixed(1)}s; ` +
        `held-out (${test.count}) accuracy fp32 ${percent(evaluation.accuracy_fp32!)}, int8 ${percent(evaluation.accuracy_int8!)}, ` +
        `top-1 agreement ${percent(evaluation.top1_agreement!)}, mean confidence ${percent(confidence)} (temperature ${temperature.toFixed(2)}); fp32 ${megabytes(fp32Bytes.length)}, int8 ${megabytes(int8Bytes.length)} ` +
        `(${percent(int8Bytes.length / fp32Bytes.length)})`,
    );

    const stats = meanStd(train.images);
    const modelInputs = [{ name: 'image', dtype: 'float32' as const, shape: ['batch', 1, IMAGE_SIZE, IMAGE_SIZE] }];
    return {
      manifest: {
        createdAt: '2026-01-01T00:00:00Z',
        description: DOC,
        task: 'classification',
        classLabels: [...SHAPE_CLASSES],
        labels: { family: 'cnn', dataset: 'synthetic-shapes', training: 'fixed-filters+discriminant+ridge', parameters: String(parameters) },
        dataReference: {
          description: `${train.count} synthetic 28x28 grey images of ${CLASSES} shape classes at random position, size, stroke and brightness, with pixel noise`,
          samples: train.count,
          inputs: { image: { mean: roundTo(stats.mean, 6), std: roundTo(stats.std, 6) } },
        },
        evaluation,
      },
      variants: variantPair({
        fp32: fp32Bytes,
        int8: int8Bytes,
        inputs: modelInputs,
        outputs: classifierOutputSpecs(CLASSES),
        originMemoryMiB: 256,
        deviceMemoryMiB: 128,
      }),
    };
  },
};

/** The training and held-out images exactly as the build draws them (tests run the built files on `heldOut`). */
export function shapesCnnData(): { train: ImageSet; heldOut: ImageSet } {
  const rng = createRng(params.seed);
  return {
    train: generateShapes(rng.fork('train'), params.trainSamples, params.images),
    heldOut: generateShapes(rng.fork('held-out'), params.heldOutSamples, params.images),
  };
}

/** The flattened output of both convolution stages for every image: [count, featureDim]. */
function convFeatures(conv1: Conv3x3, conv2: Conv3x3, set: ImageSet, featureDim: number): Float32Array {
  const pixels = IMAGE_SIZE * IMAGE_SIZE;
  const half = IMAGE_SIZE / 2;
  const out = new Float32Array(set.count * featureDim);
  for (let n = 0; n < set.count; n++) {
    const image = set.images.subarray(n * pixels, (n + 1) * pixels);
    const a = maxPool2(conv3x3Relu(conv1, image, IMAGE_SIZE, IMAGE_SIZE), conv1.outChannels, IMAGE_SIZE, IMAGE_SIZE);
    out.set(maxPool2(conv3x3Relu(conv2, a, half, half), conv2.outChannels, half, half), n * featureDim);
  }
  return out;
}

const DOC =
  'Small CNN over 28x28 synthetic shape images (10 classes); fixed detector and blur/contrast convolutions, a discriminant hidden layer and a ridge readout.';
