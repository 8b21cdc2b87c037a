import { describe, expect, it } from 'vitest';
import type { TensorSpec } from './manifest.ts';
import { classificationCounts, classify } from './oip-classification.ts';
import { numberToFloat16Bits } from './oip-float16.ts';

const codeOf = (run: () => unknown) => {
  try {
    run();
  } catch (err) {
    return (err as { code?: string }).code;
  }
  return undefined;
};

describe('classify (Triton classification extension)', () => {
  it('answers each row with its top k as "<value>:<index>:<label>", highest first, shape [rows, k]', () => {
    const logits = { dtype: 'float32' as const, dims: [2, 3], data: Float32Array.of(0.1, 0.7, 0.2, 3, -1, 2) };
    expect(classify(logits, 2, ['cat', 'dog', 'bird'])).toEqual({
      dtype: 'string',
      dims: [2, 2],
      data: ['0.700000:1:dog', '0.200000:2:bird', '3.000000:0:cat', '2.000000:2:bird'],
    });
  });

  it('leaves labels out when there are none or their count is not the classes, and caps k at the classes', () => {
    const logits = { dtype: 'float64' as const, dims: [3], data: Float64Array.of(1, 5, 10) };
    expect(classify(logits, 9)).toEqual({ dtype: 'string', dims: [3], data: ['10.000000:2', '5.000000:1', '1.000000:0'] });
    expect(classify(logits, 1, ['a', 'b'])!.data).toEqual(['10.000000:2']);
  });

  it('writes integers exactly, ranks equal values by index and NaN last, and reads FP16', () => {
    expect(classify({ dtype: 'int64', dims: [1, 3], data: BigInt64Array.of(2n ** 60n, 7n, 7n) }, 3).data).toEqual(['1152921504606846976:0', '7:1', '7:2']);
    expect(classify({ dtype: 'float32', dims: [3], data: Float32Array.of(Number.NaN, -Infinity, 1) }, 3).data).toEqual(['1.000000:2', '-inf:1', 'nan:0']);
    expect(classify({ dtype: 'float16', dims: [2], data: Uint16Array.of(numberToFloat16Bits(0.5), numberToFloat16Bits(2)) }, 1).data).toEqual(['2.000000:1']);
  });
});

describe('classificationCounts', () => {
  const specs: TensorSpec[] = [
    { name: 'logits', dtype: 'float32', shape: ['batch', 10] },
    { name: 'mask', dtype: 'bool', shape: ['batch', 10] },
    { name: 'score', dtype: 'float32', shape: [] },
  ];

  it('reads the count of each output that asks, and nothing for those that do not', () => {
    expect(classificationCounts([{ name: 'logits', parameters: { classification: 3 } }, { name: 'mask' }], specs)).toEqual(new Map([['logits', 3]]));
    expect(classificationCounts(undefined, specs).size).toBe(0);
  });

  it.each([0, -1, 1.5, '3', null, true])('refuses a count of %j with bad_request naming the parameter', (k) => {
    expect(() => classificationCounts([{ name: 'logits', parameters: { classification: k } }], specs)).toThrowError(
      /output "logits" parameters\.classification must be a positive integer/,
    );
  });

  it('refuses outputs that are not numeric or have no class axis', () => {
    for (const name of ['mask', 'score']) {
      expect(codeOf(() => classificationCounts([{ name, parameters: { classification: 1 } }], specs))).toBe('bad_request');
    }
  });
});
