/**
 * The origin merges concurrent requests only where each row's answer is its own (protocol/row-batching.ts),
 * on real onnxruntime-node with imported models. Found by a probe: a Softmax over axis 0 answered 12 of
 * 50 concurrent requests with other callers' weights, and a sum to a scalar failed 47 of 50 with 500
 * ("output has undefined rows"). Batches are given time to fill (`delay` dispatch), so any request that
 * may be merged is.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as graphs from '../models/import/test-graphs.ts';
import type { InferRequest } from '../protocol/oip-codec.ts';
import type { RunningOrigin } from './server.ts';
import { fillingBatches, importedRepository, infer, startTestOrigin, type TestRepository } from './test-support.ts';

let repo: TestRepository;
let origin: RunningOrigin;
let lines: Record<string, unknown>[];

beforeAll(async () => {
  repo = await importedRepository({
    softmax: graphs.softmaxOverRows(),
    sum: graphs.sumToScalar(),
    tiny: graphs.tinyClassifier(),
    proto: graphs.protoInputName(),
  });
  ({ origin, lines } = await startTestOrigin(repo, fillingBatches(100)));
});
afterAll(async () => {
  await origin?.shutdown();
  await repo?.cleanup();
});

const row = (name: string, values: number[]): InferRequest => ({ inputs: [{ name, dtype: 'float32', dims: [1, 4], data: Float32Array.from(values) }] });

/** 20 identical requests at once; every answer's outputs, as plain arrays. */
async function burst(model: string, request: InferRequest): Promise<number[][]> {
  const results = await Promise.all(Array.from({ length: 20 }, () => infer(origin.url, model, request)));
  return results.map((r) => {
    if (!r.ok) throw r.error;
    return r.response.outputs.flatMap((o) => Array.from(o.data as Float32Array));
  });
}

const batchSizes = (model: string) => lines.filter((l) => l.model === model && typeof l.batch_size === 'number').map((l) => l.batch_size as number);

describe('origin batching follows the rows', () => {
  it('a Softmax over axis 0 (batching: none) answers the same alone and in a burst of 20', async () => {
    const alone = await burst('softmax', row('points', [1, 2, 3, 4])).then((all) => all[0]!);
    expect(alone).toEqual([1, 1, 1, 1]);
    expect(await burst('softmax', row('points', [1, 2, 3, 4]))).toEqual(Array.from({ length: 20 }, () => alone));
    expect(Math.max(...batchSizes('softmax'))).toBe(1);
  });

  it('a sum to a scalar (no rows to split) answers every request of a burst', async () => {
    expect(await burst('sum', row('x', [1, 2, 3, 4]))).toEqual(Array.from({ length: 20 }, () => [10]));
  });

  it('a row-wise classifier (every tensor led by one name) still merges, each caller its own answer', async () => {
    const answers = await burst('tiny', row('x', [1, 2, 3, 4]));
    // logits = relu(W x + b), then softmax over the classes.
    expect(answers.map((a) => a.slice(0, 3))).toEqual(Array.from({ length: 20 }, () => [1, 2.5, 6.5]));
    expect(Math.max(...batchSizes('tiny'))).toBeGreaterThan(1);
  });

  it('an input named __proto__ (a legal ONNX name) reaches onnxruntime, alone and merged', async () => {
    const answers = await burst('proto', row('__proto__', [1, 2, 3, 4]));
    expect(answers.map((a) => a.slice(0, 3))).toEqual(Array.from({ length: 20 }, () => [1, 2.5, 6.5]));
    expect(Math.max(...batchSizes('proto'))).toBeGreaterThan(1);
  });
});
