import { describe, expect, it } from 'vitest';
import { readOnnx } from './read-onnx.ts';
import { exposeIntermediates, measureActivations, minMemoryMiB, minStorageMiB, peakLiveBytes, RUNTIME_OVERHEAD_MIB, tensorDataBytes } from './requirements.ts';
import { syntheticInputs } from './sample-inputs.ts';
import { tensorSpec } from './signature.ts';
import * as graphs from './test-graphs.ts';

const MIB = 1024 * 1024;

describe('peakLiveBytes', () => {
  // a → A → b → B → c → C → d (output).
  const chain = {
    steps: [
      { opType: 'A', inputs: ['a'], outputs: ['b'] },
      { opType: 'B', inputs: ['b'], outputs: ['c'] },
      { opType: 'C', inputs: ['c'], outputs: ['d'] },
    ],
    outputs: [{ name: 'd', type: { kind: 'none' as const } }],
  };

  it('sums what is live at each step: made, and not yet read for the last time; inputs and outputs to the end', () => {
    const sizes = new Map([
      ['a', 1],
      ['b', 10],
      ['c', 100],
      ['d', 1000],
    ]);
    // Step C: a (the caller's), c and d are live; b died after B.
    expect(peakLiveBytes(chain, ['a'], sizes)).toBe(1101);
    // Step B holds b and c: the peak when they outweigh the output.
    expect(
      peakLiveBytes(
        chain,
        ['a'],
        new Map([
          ['a', 1],
          ['b', 500],
          ['c', 500],
          ['d', 1],
        ]),
      ),
    ).toBe(1001);
    // A value nobody reads is live on its own step only.
    expect(
      peakLiveBytes(
        {
          steps: [
            { opType: 'A', inputs: ['a'], outputs: ['b', 'unused'] },
            { opType: 'B', inputs: ['b'], outputs: ['d'] },
          ],
          outputs: chain.outputs,
        },
        ['a'],
        new Map([
          ['a', 1],
          ['b', 1],
          ['unused', 50],
          ['d', 1],
        ]),
      ),
    ).toBe(52);
  });

  it('counts unknown sizes as zero', () => {
    expect(peakLiveBytes(chain, ['a'], new Map([['d', 7]]))).toBe(7);
  });
});

describe('measureActivations', () => {
  it('measures the real intermediates of a model on its inputs', async () => {
    const bytes = graphs.tinyClassifier();
    const model = readOnnx(bytes);
    const exposed = exposeIntermediates(bytes, model);
    expect(exposed.names).toEqual(['gemm_0']);
    // The appended graph field merges into the file's graph: one more output, nothing else changed.
    expect(readOnnx(exposed.bytes).outputs.map((o) => o.name)).toEqual(['logits', 'probabilities', 'gemm_0']);
    expect(readOnnx(exposed.bytes).steps).toEqual(model.steps);
    const inputs = syntheticInputs(model.inputs.map(tensorSpec));
    expect(inputs.x!.dims).toEqual([1, 4]);
    const batch = { x: { dtype: 'float32' as const, dims: [100, 4], data: new Float32Array(400) } };
    const estimate = await measureActivations(bytes, model, [inputs, batch], [0, 0]);
    expect(estimate.intermediates).toBe(true);
    // At batch 100, steps Relu and Softmax hold x (100 × 4 floats, the caller's) and two [100, 3] tensors.
    expect(estimate.peakBytes).toBe(100 * 4 * 4 + 2 * 100 * 3 * 4);
  });

  it('falls back to inputs plus outputs when the measuring copy cannot run', async () => {
    const bytes = graphs.failsOnBatchOne();
    const model = readOnnx(bytes);
    const estimate = await measureActivations(bytes, model, [syntheticInputs(model.inputs.map(tensorSpec))], [123]);
    expect(estimate).toMatchObject({ peakBytes: 123, intermediates: false, fallbackReason: expect.stringMatching(/cannot run it/) });
  });
});

describe('requirements formula', () => {
  it('is the runtime overhead plus twice the artifact plus the activations, rounded up', () => {
    expect(minMemoryMiB(0, 0)).toBe(RUNTIME_OVERHEAD_MIB);
    expect(minMemoryMiB(10 * MIB, 5 * MIB + 1)).toBe(RUNTIME_OVERHEAD_MIB + 26);
    expect(minStorageMiB(1)).toBe(1);
    expect(minStorageMiB(3 * MIB + 1)).toBe(4);
  });

  it('sizes string tensors by their UTF-8 bytes', () => {
    expect(tensorDataBytes({ dtype: 'string', dims: [2], data: ['é', 'ab'] })).toBe(4);
    expect(tensorDataBytes({ dtype: 'int64', dims: [3, 2], data: new BigInt64Array(6) })).toBe(48);
  });
});
