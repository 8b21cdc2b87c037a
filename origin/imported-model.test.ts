/**
 * The origin serves what `tandem import` writes: versions of foreign-looking models (exporter dim names,
 * unnamed dims, a device variant sharing the origin's file, stored examples) load, pass the origin's
 * signature check and warm-up, and answer the stored example with the model's own numbers.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importModel } from '../models/import/import-model.ts';
import * as graphs from '../models/import/test-graphs.ts';
import { sharedModelRepository } from '../models/test-support.ts';
import { generateSigningKey } from '../protocol/keys.ts';
import { decodeInferRequest } from '../protocol/oip-codec.ts';
import type { RunningOrigin } from './server.ts';
import { infer, startTestOrigin, type TestRepository } from './test-support.ts';

let repo: TestRepository;
let origin: RunningOrigin;
let work: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'tandem-origin-imported-'));
  const repository = join(work, 'repository');
  const key = await generateSigningKey();
  const write = async (name: string, content: Uint8Array | string) => {
    const path = join(work, name);
    await writeFile(path, content);
    return path;
  };
  const example = await write('example.json', JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [2, 4], data: [1, 2, 3, 4, -1, 0, 0, 2] }] }));
  const deps = { signingKey: key };
  await importModel(
    {
      model: await write('tiny.onnx', graphs.tinyClassifier()),
      id: 'tiny',
      version: '1.0.0',
      repository,
      examples: [example],
      labels: await write('labels.txt', 'a\nb\nc\n'),
    },
    deps,
  );
  await importModel({ model: await write('unnamed.onnx', graphs.unnamedDims()), id: 'unnamed', version: '1.0.0', repository }, deps);
  const shared = await sharedModelRepository();
  await importModel({ model: join(shared.repository, 'shapes-cnn', '1.0.0', 'fp32.onnx'), id: 'my-cnn', version: '0.1.0', repository, device: 'none' }, deps);
  repo = { repository, key, trustedKeys: JSON.stringify([key.publicKey]), cleanup: () => rm(work, { recursive: true, force: true }) };
  ({ origin } = await startTestOrigin(repo));
});
afterAll(async () => {
  await origin?.shutdown();
  await repo?.cleanup();
});

describe('origin serving imported versions', () => {
  it('loads every imported version, refusing none', async () => {
    const ready: any = await (await fetch(`${origin.url}/v2/health/ready`)).json();
    expect(ready.refused ?? []).toEqual([]);
    expect(
      origin.registry
        .list()
        .map((m) => `${m.id}@${m.version}:${m.variant.name}`)
        .sort(),
    ).toEqual(['my-cnn@0.1.0:fp32', 'tiny@1.0.0:fp32', 'unnamed@1.0.0:fp32']);
  });

  it("answers the stored example with the model's numbers: relu(W x + b)", async () => {
    const stored = await readFile(join(repo.repository, 'tiny', '1.0.0', 'example-1.json'));
    const result = await infer(origin.url, 'tiny', decodeInferRequest(new Uint8Array(stored)));
    if (!result.ok) throw result.error;
    const logits = result.response.outputs.find((o) => o.name === 'logits')!;
    expect(logits.dims).toEqual([2, 3]);
    // W rows pick x0, x1, x2 + x3; b = [0, 0.5, -0.5].
    expect(Array.from(logits.data as Float32Array)).toEqual([1, 2.5, 6.5, 0, 0.5, 1.5]);
  });

  it('serves unnamed dimensions as independent dynamic sizes, batching included', async () => {
    const rows = (n: number) => ({ inputs: [{ name: 'x', dtype: 'float32' as const, dims: [n, 4], data: new Float32Array(n * 4).fill(1) }] });
    const [one, three] = await Promise.all([infer(origin.url, 'unnamed', rows(1)), infer(origin.url, 'unnamed', rows(3))]);
    if (!one.ok || !three.ok) throw new Error('inference failed');
    expect(one.response.outputs[0]!.dims).toEqual([1, 3]);
    expect(three.response.outputs[0]!.dims).toEqual([3, 3]);
  });
});
