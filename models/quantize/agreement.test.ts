import { describe, expect, it } from 'vitest';
import { TandemError } from '../../protocol/errors.ts';
import type { NamedTensors } from '../../protocol/tensor.ts';
import { GraphBuilder } from '../onnx/graph-builder.ts';
import { compareOutputs, measureAgreement, measureAgreementWasm } from './agreement.ts';
import { DEFAULT_DYNAMIC_DIM, drawInputs } from './draw-inputs.ts';
import { toFloat16Bits } from './float16.ts';

const f32 = (dims: number[], ...values: number[]) => ({ dtype: 'float32' as const, dims, data: Float32Array.from(values) });

describe('compareOutputs', () => {
  it('reports absolute, relative and mean errors per output and over the float outputs', () => {
    const reference: NamedTensors = { a: f32([2, 2], 1, -2, 0, 4), ids: { dtype: 'int64', dims: [2], data: BigInt64Array.of(1n, 2n) } };
    const variant: NamedTensors = { a: f32([2, 2], 1.5, -2, 0.001, 4), ids: { dtype: 'int64', dims: [2], data: BigInt64Array.of(1n, 3n) } };
    const result = compareOutputs([reference], [variant]);
    expect(result.outputs.a).toMatchObject({ elements: 4, maxAbsError: 0.5, referenceScale: 4, exactFraction: 0.5 });
    // 0.001 off a zero reference: relative to the floor (1/1000 of 4), not to 0.
    expect(result.outputs.a!.maxRelError).toBeCloseTo(0.5 / 1, 6);
    expect(result.outputs.a!.meanAbsError).toBeCloseTo(0.501 / 4, 6);
    expect(result.outputs.ids).toMatchObject({ maxAbsError: 1, exactFraction: 0.5 });
    // Aggregates cover the float output only.
    expect(result).toMatchObject({ maxAbsError: 0.5 });
    expect(result.top1Agreement).toBeUndefined();
  });

  it('counts top-1 agreement over the last axis, across input sets', () => {
    const ref = [{ logits: f32([2, 3], 0, 1, 2, 5, 4, 3) }, { logits: f32([1, 3], 1, 0, 0) }];
    const variant = [{ logits: f32([2, 3], 0, 2.5, 2, 3, 4, 3) }, { logits: f32([1, 3], 1, 0, 0) }];
    const result = compareOutputs(ref, variant, { top1: true });
    expect(result.outputs.logits).toMatchObject({ rows: 3, top1Agreement: 1 / 3 });
    expect(result.top1Agreement).toBeCloseTo(1 / 3, 9);
    expect(compareOutputs(ref, ref, { top1: ['logits'] }).top1Agreement).toBe(1);
  });

  it('treats equal non-finite values as agreeing and others as infinite errors; decodes float16', () => {
    const result = compareOutputs([{ y: f32([4], NaN, Infinity, 1, 2) }], [{ y: f32([4], NaN, Infinity, NaN, 2) }]);
    expect(result.outputs.y!.maxAbsError).toBe(Infinity);
    expect(compareOutputs([{ y: f32([2], NaN, -Infinity) }], [{ y: f32([2], NaN, -Infinity) }]).maxAbsError).toBe(0);
    const half = { dtype: 'float16' as const, dims: [2], data: Uint16Array.of(toFloat16Bits(1), toFloat16Bits(2)) };
    expect(compareOutputs([{ y: f32([2], 1, 2.001) }], [{ y: half }]).maxAbsError).toBeCloseTo(0.001, 6);
  });

  it('refuses outputs that are missing or differently shaped', () => {
    expect(() => compareOutputs([{ y: f32([2], 1, 2) }], [{ z: f32([2], 1, 2) }])).toThrow(/variant has no output "y"/);
    expect(() => compareOutputs([{ y: f32([2], 1, 2) }], [{ y: f32([1, 2], 1, 2) }])).toThrow(TandemError);
  });
});

describe('measureAgreement', () => {
  const model = (scale: number, output = 'y'): Uint8Array => {
    const g = new GraphBuilder('scale');
    const x = g.input('x', 'float32', ['batch', 3]);
    g.op('Mul', [x, g.initializer('s', 'float32', [], Float32Array.of(scale))], {}, output);
    g.output(output, 'float32', ['batch', 3]);
    return g.build({ docString: '' });
  };
  const inputs = { x: f32([2, 3], 1, 2, 3, -1, -2, -3) };

  it('runs both models in onnxruntime-node and in onnxruntime-web (WASM)', async () => {
    for (const measure of [measureAgreement, measureAgreementWasm]) {
      const result = await measure(model(1), model(1.01), inputs, { top1: true });
      expect(result.maxAbsError).toBeCloseTo(0.03, 5);
      expect(result.maxRelError).toBeCloseTo(0.01, 5);
      expect(result.top1Agreement).toBe(1);
    }
  });

  it('fails with a typed error when a model does not load or lacks an output', async () => {
    await expect(measureAgreement(model(1), Uint8Array.of(8, 1), inputs)).rejects.toMatchObject({ code: 'inference_failed' });
    await expect(measureAgreement(model(1), model(1, 'z'), inputs)).rejects.toMatchObject({ code: 'bad_request' });
  });
});

describe('drawInputs', () => {
  const signature = [
    { name: 'x', dtype: 'float32' as const, shape: ['batch', 3] },
    { name: 'ids', dtype: 'int64' as const, shape: ['batch', 'sequence'] },
    { name: 'mask', dtype: 'bool' as const, shape: [2] },
    { name: 'h', dtype: 'float16' as const, shape: [4] },
    { name: 'n', dtype: 'int32' as const, shape: [] },
  ];

  it('draws from the declared dims and dtypes, the same for the same seed', () => {
    const a = drawInputs(signature, 'seed', { batch: 4 });
    expect(a.x!.dims).toEqual([4, 3]);
    expect(a.ids!.dims).toEqual([4, DEFAULT_DYNAMIC_DIM]);
    expect(a.n!.dims).toEqual([]);
    expect(a.x!.data).toBeInstanceOf(Float32Array);
    expect(a.ids!.data).toBeInstanceOf(BigInt64Array);
    expect(a.h!.data).toBeInstanceOf(Uint16Array);
    expect(drawInputs(signature, 'seed', { batch: 4 })).toEqual(a);
    expect(drawInputs(signature, 'other', { batch: 4 }).x!.data).not.toEqual(a.x!.data);
  });

  it('keeps integers in {0, 1} by default (valid ids, masks and types for any model), or in the range asked', () => {
    const many = drawInputs([{ name: 'ids', dtype: 'int64', shape: [1000] }], 'ints');
    expect(new Set(Array.from(many.ids!.data as BigInt64Array))).toEqual(new Set([0n, 1n]));
    const wide = drawInputs([{ name: 'ids', dtype: 'int32', shape: [1000] }], 'ints', {}, { intRange: [5, 9] });
    expect(new Set(Array.from(wide.ids!.data as Int32Array))).toEqual(new Set([5, 6, 7, 8]));
    expect(() => drawInputs(signature, 's', { batch: -1 })).toThrow(TandemError);
    expect(() => drawInputs(signature, 's', {}, { intRange: [3, 3] })).toThrow(/intRange/);
  });
});
