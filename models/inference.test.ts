import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Manifest } from '../protocol/manifest.ts';
import { createRng, fillNormal } from './math/prng.ts';
import { argmaxRows, fractionEqual } from './math/stats.ts';
import { mlpClassifierData } from './recipes/mlp-classifier.ts';
import { shapesCnnData } from './recipes/shapes-cnn.ts';
import { sharedModelRepository, type TestModelRepository } from './test-support.ts';
import { openSession, type RuntimeName, type TestSession } from './test-runtimes.ts';

/** The held-out set of each device-capable model, as the build drew it: inputs [count, ...shape]. */
const HELD_OUT = {
  'mlp-classifier': () => {
    const { heldOut } = mlpClassifierData();
    return { input: 'x', data: heldOut.x, sampleShape: [256], labels: heldOut.labels, count: heldOut.count, accuracyFloor: 0.9 };
  },
  'shapes-cnn': () => {
    const { heldOut } = shapesCnnData();
    return { input: 'image', data: heldOut.images, sampleShape: [1, 28, 28], labels: heldOut.labels, count: heldOut.count, accuracyFloor: 0.9 };
  },
} as const;

let shared: TestModelRepository;
beforeAll(async () => {
  shared = await sharedModelRepository((line) => console.log(line));
});

async function open(runtime: RuntimeName, manifest: Manifest, variant: string): Promise<TestSession> {
  const path = manifest.variants.find((v) => v.name === variant)!.artifact.path;
  return openSession(runtime, await readFile(join(shared.repository, manifest.id, manifest.version, path)));
}

/** |a − b| ≤ tolerance·max(1, |b|): relative for large values, absolute near zero. */
function expectClose(actual: Float32Array, expected: Float32Array, tolerance: number): void {
  expect(actual.length).toBe(expected.length);
  let worst = 0;
  for (let i = 0; i < actual.length; i++) worst = Math.max(worst, Math.abs(actual[i]! - expected[i]!) / Math.max(1, Math.abs(expected[i]!)));
  expect(worst).toBeLessThanOrEqual(tolerance);
}

for (const id of ['mlp-classifier', 'shapes-cnn'] as const) {
  describe(id, () => {
    const data = HELD_OUT[id]();
    const size = data.sampleShape.reduce((a, b) => a * b, 1);
    const rows = (start: number, count: number) => ({ data: data.data.slice(start * size, (start + count) * size), dims: [count, ...data.sampleShape] });

    it('int8 file is at most 30% of the fp32 file', () => {
      const manifest = shared.manifests.get(id)!;
      const [fp32, int8] = ['fp32', 'int8'].map((n) => manifest.variants.find((v) => v.name === n)!.artifact.bytes) as [number, number];
      console.log(`${id}: fp32 ${fp32} bytes, int8 ${int8} bytes, ratio ${(int8 / fp32).toFixed(3)}`);
      expect(int8 / fp32).toBeLessThanOrEqual(0.3);
    });

    it('fp32 and int8 agree on top-1 for ≥ 99% of the held-out set in onnxruntime-node, at the accuracy the manifest reports', async () => {
      const manifest = shared.manifests.get(id)!;
      const classes = manifest.classLabels!.length;
      const predictions: Record<string, Int32Array> = {};
      const confidence: Record<string, number[]> = {};
      for (const variant of ['fp32', 'int8']) {
        const session = await open('node', manifest, variant);
        const logits = new Float32Array(data.count * classes);
        confidence[variant] = [];
        // One sample per run, as a device runs them (dynamic quantization ranges are per batch).
        for (let n = 0; n < data.count; n++) {
          const out = await session.run({ [data.input]: rows(n, 1) });
          logits.set(out.logits!, n * classes);
          confidence[variant].push(Math.max(...out.probabilities!));
        }
        await session.release();
        predictions[variant] = argmaxRows(logits, data.count, classes);
      }
      const accuracyFp32 = fractionEqual(predictions.fp32!, data.labels);
      const accuracyInt8 = fractionEqual(predictions.int8!, data.labels);
      const agreement = fractionEqual(predictions.fp32!, predictions.int8!);
      console.log(
        `${id}: onnxruntime-node on ${data.count} held-out samples: accuracy fp32 ${accuracyFp32}, int8 ${accuracyInt8}, top-1 agreement ${agreement}; manifest ${JSON.stringify(manifest.evaluation)}`,
      );
      expect(agreement).toBeGreaterThanOrEqual(0.99);
      expect(accuracyFp32).toBeGreaterThanOrEqual(data.accuracyFloor);
      expect(accuracyInt8).toBeGreaterThanOrEqual(data.accuracyFloor);
      expect(Math.abs(accuracyFp32 - manifest.evaluation!.accuracy_fp32!)).toBeLessThanOrEqual(0.005);
      expect(Math.abs(accuracyInt8 - manifest.evaluation!.accuracy_int8!)).toBeLessThanOrEqual(0.005);
      expect(manifest.evaluation!.heldout_samples).toBe(data.count);

      // Calibrated probabilities: the mean top-class probability is the accuracy, give or take 2 points
      // (uncalibrated ridge read-outs gave about 16 % to right answers), and the median is far above the
      // 0.5 under which the TandemLowConfidence alert fires.
      for (const [variant, accuracy] of [
        ['fp32', accuracyFp32],
        ['int8', accuracyInt8],
      ] as const) {
        const values = confidence[variant]!.sort((a, b) => a - b);
        const mean = values.reduce((a, b) => a + b, 0) / values.length;
        console.log(`${id} ${variant}: mean top-class probability ${mean.toFixed(4)}, accuracy ${accuracy}, median ${values[values.length >> 1]!.toFixed(4)}`);
        expect(Math.abs(mean - accuracy)).toBeLessThanOrEqual(0.02);
        expect(values[values.length >> 1]!).toBeGreaterThan(0.9);
      }
    });

    for (const variant of ['fp32', 'int8']) {
      it(`${variant} runs in onnxruntime-node and onnxruntime-web (WASM) with batches of 1 and 7, with matching outputs`, async () => {
        const manifest = shared.manifests.get(id)!;
        const classes = manifest.classLabels!.length;
        const node = await open('node', manifest, variant);
        const web = await open('web', manifest, variant);
        for (const batch of [1, 7]) {
          const feeds = { [data.input]: rows(0, batch) };
          const fromNode = await node.run(feeds);
          const fromWeb = await web.run(feeds);
          expect(fromNode.logits!.length).toBe(batch * classes);
          expectClose(fromWeb.logits!, fromNode.logits!, variant === 'fp32' ? 1e-4 : 1e-3);
          expectClose(fromWeb.probabilities!, fromNode.probabilities!, 1e-4);
          for (let r = 0; r < batch; r++) {
            const sum = fromNode.probabilities!.subarray(r * classes, (r + 1) * classes).reduce((a, b) => a + b, 0);
            expect(sum).toBeCloseTo(1, 5);
          }
        }
        await node.release();
        await web.release();
      });
    }
  });
}

describe('large-classifier', () => {
  it('runs in onnxruntime-node with batches of 1 and 7, giving finite, spread-out logits', async () => {
    const manifest = shared.manifests.get('large-classifier')!;
    const session = await open('node', manifest, 'fp32');
    // Inputs from the distribution the weights are scaled for (the manifest's data reference).
    const x = fillNormal(createRng('large-classifier-test'), new Float32Array(7 * 1024), 1);
    const single = await session.run({ x: { data: x.slice(0, 1024), dims: [1, 1024] } });
    const batch = await session.run({ x: { data: x, dims: [7, 1024] } });
    await session.release();
    expect(batch.logits!.length).toBe(7 * 1000);
    expectClose(batch.logits!.subarray(0, 1000), single.logits!, 1e-4);
    let sum = 0;
    let squares = 0;
    for (const v of batch.logits!) {
      expect(Number.isFinite(v)).toBe(true);
      sum += v;
      squares += v * v;
    }
    const std = Math.sqrt(squares / batch.logits!.length - (sum / batch.logits!.length) ** 2);
    console.log(`large-classifier: logit std ${std.toFixed(3)} over 7 inputs`);
    expect(std).toBeGreaterThan(0.1);
    expect(new Set(argmaxRows(batch.logits!, 7, 1000)).size).toBeGreaterThan(4);
  });
});
