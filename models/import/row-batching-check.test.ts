/**
 * The import's measured `batching`, on real onnxruntime-node: a Softmax over axis 0 (rows that read each
 * other under a signature that looks batchable) is `none`, row-wise models are `rows`, a scalar output
 * is not measured (the signature rule refuses it), and the verdict reaches the signed manifest and the
 * summary.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSigningKey, loadTrustedKeys, type SigningKey } from '../../protocol/keys.ts';
import type { TensorSpec } from '../../protocol/manifest.ts';
import type { NamedTensors } from '../../protocol/tensor.ts';
import { verifyModelDirectory } from '../../origin/verify-version.ts';
import { importModel } from './import-model.ts';
import { importReport } from './import-report.ts';
import { readOnnx } from './read-onnx.ts';
import { checkRowBatching } from './row-batching-check.ts';
import { tensorSpec } from './signature.ts';
import * as graphs from './test-graphs.ts';

function signatureOf(bytes: Uint8Array): { inputs: TensorSpec[]; outputs: TensorSpec[] } {
  const model = readOnnx(bytes);
  return { inputs: model.inputs.map(tensorSpec), outputs: model.outputs.map(tensorSpec) };
}

async function check(bytes: Uint8Array, examples: NamedTensors[] = []) {
  const { inputs, outputs } = signatureOf(bytes);
  return checkRowBatching(bytes, inputs, outputs, examples);
}

const points = (name: string, rows: number[][]): NamedTensors => ({
  [name]: { dtype: 'float32', dims: [rows.length, 4], data: Float32Array.from(rows.flat()) },
});

describe('checkRowBatching', () => {
  it('marks a Softmax over axis 0 none: merged, each row answers differently than alone', async () => {
    const result = await check(graphs.softmaxOverRows());
    expect(result).toEqual({ batching: 'none', reason: expect.stringMatching(/^none: .*answer differently from the same rows run alone/) });
  });

  it('marks it none on two examples too, even identical ones', async () => {
    const same = points('points', [[1, 2, 3, 4]]);
    expect((await check(graphs.softmaxOverRows(), [same, same])).batching).toBe('none');
  });

  it('marks a row-wise classifier rows, on synthetic inputs and on examples of several rows', async () => {
    // Measured rows, but the names already say so: nothing to record, so older tiers can read the manifest.
    expect(await check(graphs.tinyClassifier())).toEqual({ batching: undefined, reason: expect.stringMatching(/^rows: concurrent requests share a run/) });
    const examples = [
      points('x', [[1, 2, 3, 4]]),
      points('x', [[5, 6, 7, 8]]),
      points('x', [
        [0, 1, 0, 1],
        [2, 2, 2, 2],
      ]),
    ];
    expect((await check(graphs.tinyClassifier(), examples)).reason).toMatch(/^rows: /);
  });

  it('marks rows a model whose outputs lead with other names than its input (unnamed dimensions)', async () => {
    const { inputs, outputs } = signatureOf(graphs.unnamedDims());
    expect(inputs[0]!.shape[0]).not.toBe(outputs[0]!.shape[0]);
    expect((await check(graphs.unnamedDims())).batching).toBe('rows');
  });

  it('measures nothing where the signature already refuses: a scalar output', async () => {
    expect(await check(graphs.sumToScalar())).toEqual({
      batching: undefined,
      reason: expect.stringMatching(/every request runs alone: output total's first dimension is absent/),
    });
  });
});

describe('tandem import records it', () => {
  let work: string;
  let key: SigningKey;
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'tandem-row-check-'));
    key = await generateSigningKey();
  });
  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  async function imported(name: string, bytes: Uint8Array) {
    const dir = join(work, name);
    await mkdir(dir);
    const model = join(dir, `${name}.onnx`);
    await writeFile(model, bytes);
    const result = await importModel({ model, id: name, version: '1.0.0', repository: join(dir, 'repository') }, { signingKey: key });
    const verified = await verifyModelDirectory(result.dir, await loadTrustedKeys([key.publicKey]));
    return { result, manifest: verified.manifest, report: importReport(result, work) };
  }

  it('none on every variant of the softmax model, signed, and in the summary', async () => {
    const { manifest, report } = await imported('softmax', graphs.softmaxOverRows());
    expect(manifest.variants.length).toBeGreaterThan(0);
    expect(manifest.variants.map((v) => v.batching)).toEqual(manifest.variants.map(() => 'none'));
    expect(report).toContainEqual(expect.stringMatching(/^ {2}batching: none: every request runs alone/));
  });

  it('rows for the row-wise classifier; nothing for the scalar sum, whose summary says why', async () => {
    const tiny = await imported('tiny', graphs.tinyClassifier());
    expect(tiny.manifest.variants.every((v) => !('batching' in v))).toBe(true);
    expect(tiny.report).toContainEqual(expect.stringMatching(/^ {2}batching: rows: /));
    const sum = await imported('sum', graphs.sumToScalar());
    expect(sum.manifest.variants.every((v) => !('batching' in v))).toBe(true);
    expect(sum.report).toContainEqual(expect.stringMatching(/^ {2}batching: every request runs alone: output total/));
  });
});
