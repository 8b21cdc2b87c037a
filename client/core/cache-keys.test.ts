import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { NamedTensors } from '../../protocol/tensor.ts';
import { artifactCacheKey, resultCacheKey } from './cache-keys.ts';

const x = (data: number[], dims = [1, data.length]): NamedTensors => ({ x: { dtype: 'float32', dims, data: new Float32Array(data) } });

describe('resultCacheKey', () => {
  it('is model id + version + the SHA-256 of the inputs', async () => {
    expect(await resultCacheKey('m', '1.0.0', x([1, 2]))).toMatch(/^result:m@1\.0\.0:[0-9a-f]{64}$/);
  });

  it('is the same for the same inputs, whatever the order of the input names', async () => {
    const a: NamedTensors = { ...x([1, 2]), y: { dtype: 'int32' as const, dims: [1], data: new Int32Array([7]) } };
    const b = { y: a.y!, x: a.x! };
    expect(await resultCacheKey('m', '1.0.0', a)).toBe(await resultCacheKey('m', '1.0.0', b));
  });

  it('differs when the version, shape, dtype, name or any byte differs', async () => {
    const base = await resultCacheKey('m', '1.0.0', x([1, 2, 3, 4]));
    const others = await Promise.all([
      resultCacheKey('m', '1.1.0', x([1, 2, 3, 4])),
      resultCacheKey('n', '1.0.0', x([1, 2, 3, 4])),
      resultCacheKey('m', '1.0.0', x([1, 2, 3, 4], [2, 2])),
      resultCacheKey('m', '1.0.0', { x: { dtype: 'int32', dims: [1, 4], data: new Int32Array(new Float32Array([1, 2, 3, 4]).buffer) } }),
      resultCacheKey('m', '1.0.0', { z: x([1, 2, 3, 4]).x! }),
      resultCacheKey('m', '1.0.0', x([1, 2, 3, 5])),
    ]);
    expect(new Set([base, ...others]).size).toBe(7);
  });

  it("hashes only a typed array view's own bytes, not its whole buffer", async () => {
    const buffer = new Float32Array([9, 1, 2, 9]);
    const view = { x: { dtype: 'float32' as const, dims: [1, 2], data: buffer.subarray(1, 3) } };
    expect(await resultCacheKey('m', '1', view)).toBe(await resultCacheKey('m', '1', x([1, 2])));
  });

  it('never collides for distinct float inputs (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.float({ noNaN: true }), { minLength: 1, maxLength: 8 }), fc.nat(7), async (values, i) => {
        const j = i % values.length;
        const changed = [...values];
        changed[j] = Object.is(changed[j], 1) ? 2 : 1;
        const [a, b] = await Promise.all([resultCacheKey('m', '1', x(values)), resultCacheKey('m', '1', x(changed))]);
        expect(a).not.toBe(b);
      }),
      { numRuns: 50 },
    );
  });

  it('covers string tensors', async () => {
    const s = (v: string[]): NamedTensors => ({ s: { dtype: 'string', dims: [v.length], data: v } });
    expect(await resultCacheKey('m', '1', s(['a', 'b']))).not.toBe(await resultCacheKey('m', '1', s(['ab', ''])));
  });
});

it('artifactCacheKey is the sha256', () => {
  expect(artifactCacheKey('ab')).toBe('artifact:ab');
});
