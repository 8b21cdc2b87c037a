/**
 * The origin serves any valid ONNX model with a signed manifest, not only the ones models/ builds: here a
 * hand-made model with an int64 input and a fixed (non-batchable) leading dimension plus a second input.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GraphBuilder, int } from '../models/onnx/graph-builder.ts';
import { generateSigningKey } from '../protocol/keys.ts';
import { MANIFEST_SCHEMA_VERSION, type Manifest } from '../protocol/manifest.ts';
import { sha256Hex } from '../protocol/sha256.ts';
import { signManifest } from '../protocol/signed-manifest.ts';
import type { RunningOrigin } from './server.ts';
import { infer, startTestOrigin, type TestRepository } from './test-support.ts';

/** total[i] = scale * sum_j ids[i, j], for ids int64 [2, seq]. */
function tokenSumModel(): Uint8Array {
  const g = new GraphBuilder('token-sum');
  const ids = g.input('ids', 'int64', [2, 'seq']);
  const scale = g.input('scale', 'float32', [1]);
  const asFloat = g.op('Cast', [ids], { to: int(1) });
  const axes = g.initializer('axes', 'int64', [1], new BigInt64Array([1n]));
  const sums = g.op('ReduceSum', [asFloat, axes], { keepdims: int(0) });
  g.op('Mul', [sums, scale], {}, 'total');
  g.output('total', 'float32', [2]);
  return g.build({ docString: 'token sum' });
}

describe('origin serving a model it did not build', () => {
  let repo: TestRepository;
  let origin: RunningOrigin;

  beforeAll(async () => {
    const repository = await mkdtemp(join(tmpdir(), 'tandem-foreign-'));
    const key = await generateSigningKey();
    const bytes = tokenSumModel();
    const manifest: Manifest = {
      schemaVersion: MANIFEST_SCHEMA_VERSION,
      id: 'token-sum',
      version: '0.3.0',
      createdAt: '2026-03-01T00:00:00Z',
      task: 'regression',
      variants: [
        {
          name: 'full',
          tier: 'origin',
          artifact: { path: 'model.onnx', sha256: await sha256Hex(bytes), bytes: bytes.length, mediaType: 'application/vnd.onnx' },
          opset: 17,
          inputs: [
            { name: 'ids', dtype: 'int64', shape: [2, 'seq'] },
            { name: 'scale', dtype: 'float32', shape: [1] },
          ],
          outputs: [{ name: 'total', dtype: 'float32', shape: [2] }],
          quantization: { method: 'none' },
          requirements: { minMemoryMiB: 16, minStorageMiB: 1, backends: ['cpu'] },
        },
      ],
    };
    const write = async (m: Manifest) => {
      const dir = join(repository, m.id, m.version);
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, 'model.onnx'), bytes);
      await writeFile(join(dir, 'manifest.dsse.json'), JSON.stringify(await signManifest(m, [key])));
    };
    await write(manifest);
    // Validly signed, but promising an input dtype the model does not take.
    const variant = manifest.variants[0]!;
    await write({ ...manifest, version: '0.4.0', variants: [{ ...variant, inputs: [{ ...variant.inputs[0]!, dtype: 'int32' }, variant.inputs[1]!] }] });
    repo = { repository, key, trustedKeys: JSON.stringify([key.publicKey]), cleanup: () => rm(repository, { recursive: true, force: true }) };
    ({ origin } = await startTestOrigin(repo));
  });
  afterAll(async () => {
    await origin?.shutdown();
    await repo?.cleanup();
  });

  it('answers int64 inputs over JSON and binary, each concurrent caller with its own result', async () => {
    const request = (a: bigint, b: bigint, scale: number) => ({
      inputs: [
        { name: 'ids', dtype: 'int64' as const, dims: [2, 3], data: new BigInt64Array([a, a, a, b, b, b]) },
        { name: 'scale', dtype: 'float32' as const, dims: [1], data: new Float32Array([scale]) },
      ],
    });
    const results = await Promise.all([
      infer(origin.url, 'token-sum', request(1n, 2n, 1)),
      infer(origin.url, 'token-sum', request(10n, 20n, 0.5), { binary: true }),
    ]);
    const totals = results.map((r) => {
      if (!r.ok) throw r.error;
      expect(r.response.modelVersion).toBe('0.3.0');
      return Array.from(r.response.outputs[0]!.data as Float32Array);
    });
    expect(totals).toEqual([
      [3, 6],
      [15, 30],
    ]);
  });

  it('refuses a version whose manifest disagrees with its model, and keeps serving the good one', async () => {
    const ready: any = await (await fetch(`${origin.url}/v2/health/ready`)).json();
    expect(ready.refused).toEqual([
      expect.objectContaining({
        name: 'token-sum',
        version: '0.4.0',
        code: 'manifest_invalid',
        reason: expect.stringMatching(/"ids" is int64 in the model, int32 in the manifest/),
      }),
    ]);
    expect(origin.registry.currentVersion('token-sum')).toBe('0.3.0');
  });

  it('checks the fixed leading dimension and the declared dtypes', async () => {
    const wrongRows = await infer(origin.url, 'token-sum', {
      inputs: [
        { name: 'ids', dtype: 'int64', dims: [3, 1], data: new BigInt64Array(3) },
        { name: 'scale', dtype: 'float32', dims: [1], data: new Float32Array([1]) },
      ],
    });
    expect(wrongRows.ok ? 'ok' : wrongRows.error.code).toBe('input_shape_mismatch');
    const wrongType = await infer(origin.url, 'token-sum', {
      inputs: [
        { name: 'ids', dtype: 'int32', dims: [2, 1], data: new Int32Array(2) },
        { name: 'scale', dtype: 'float32', dims: [1], data: new Float32Array([1]) },
      ],
    });
    expect(wrongType.ok ? 'ok' : wrongType.error.code).toBe('input_dtype_mismatch');
  });
});
