/**
 * The session thread's boundary under hostile tensors (issue 18): only what onnxruntime needs crosses to
 * the thread, and a run whose inputs cannot be posted fails with a typed error and leaves the session
 * serving.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TandemError } from '../protocol/errors.ts';
import type { Tensor } from '../protocol/tensor.ts';
import { openSession, type ModelSession } from './ort-session.ts';
import { randomFloats, signedRepository, type TestRepository } from './test-support.ts';

describe('session thread boundary', () => {
  let repo: TestRepository;
  let session: ModelSession;
  beforeAll(async () => {
    repo = await signedRepository(['mlp-classifier']);
    session = await openSession(new Uint8Array(await readFile(join(repo.repository, 'mlp-classifier', '1.0.0', 'fp32.onnx'))), { intraOpThreads: 1 });
  });
  afterAll(async () => {
    await session?.release();
    await repo?.cleanup();
  });

  const x = (): Tensor => ({ dtype: 'float32', dims: [1, 256], data: randomFloats(256, 3) });
  const deep = () => JSON.parse(`${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}`) as unknown;

  it("passes only a tensor's dtype, dims and data: extra fields, however deep, never reach the post", async () => {
    // Found: a decoded tensor's parameters travelled along, and 5 000 levels overflowed structured clone.
    const hostile = { ...x(), name: 'x', parameters: deep() } as Tensor;
    const outputs = await session.run({ x: hostile });
    expect(Object.values(outputs)[0]!.dims).toEqual([1, 10]);
  });

  it("moves the inputs' buffers to the thread only when the caller hands them over, and answers the same either way", async () => {
    const kept = x();
    const copied = await session.run({ x: kept });
    expect((kept.data as Float32Array).byteLength).toBe(256 * 4); // Copied: still the caller's.
    const moved = x();
    const transferred = await session.run({ x: moved }, undefined, { transfer: true });
    expect((moved.data as Float32Array).byteLength).toBe(0); // Moved: detached here.
    expect(Array.from(Object.values(transferred)[0]!.data as Float32Array)).toEqual(Array.from(Object.values(copied)[0]!.data as Float32Array));
  });

  it('fails a run whose inputs cannot be posted with a typed error, and keeps serving', async () => {
    const unpostable = { dtype: 'float32', dims: [1, 256], data: deep() } as unknown as Tensor;
    for (let i = 0; i < 3; i++) {
      const failure = await session.run({ x: unpostable }).catch((err: unknown) => err);
      expect(failure).toBeInstanceOf(TandemError);
      expect((failure as TandemError).code).toBe('internal');
    }
    expect(Object.values(await session.run({ x: x() }))[0]!.dims).toEqual([1, 10]);
  });
});
