/**
 * `tandem import` with the real int8 and fp16 makers on the built-in MLP's fp32 file: the variants are
 * written with their measured agreement in both runtimes, a variant past its tolerance refuses the import
 * (or is kept with a warning when asked), and a default variant past it is left out.
 */
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TandemError } from '../../protocol/errors.ts';
import { generateSigningKey, type SigningKey } from '../../protocol/keys.ts';
import { thirdPartyModel } from '../third-party/catalog.ts';
import { exampleRequestBody } from '../third-party/test-support.ts';
import { sharedModelRepository, type TestModelRepository } from '../test-support.ts';
import { importModel } from './import-model.ts';
import type { ImportRequest } from './import-options.ts';
import { ALL_MAKERS } from './quantized-makers.ts';

let work: string;
let key: SigningKey;
let shared: TestModelRepository;
let counter = 0;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'tandem-quantized-import-'));
  key = await generateSigningKey();
  shared = await sharedModelRepository();
}, 300_000);
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

async function run(request: Omit<ImportRequest, 'repository' | 'model' | 'id' | 'version'>) {
  const repository = join(work, `repo${counter++}`);
  const lines: string[] = [];
  const result = await importModel(
    { model: join(shared.repository, 'mlp-classifier', '1.0.0', 'fp32.onnx'), id: 'mlp', version: '1.0.0', task: 'classification', repository, ...request },
    { signingKey: key, makers: ALL_MAKERS, progress: (l) => lines.push(l) },
  );
  return { result, repository, lines };
}

describe('tandem import with int8 and fp16 device variants', () => {
  it('writes int8 (a quarter of the size) and fp16 (half) with their agreement measured in onnxruntime-node and -web', async () => {
    const { result } = await run({ device: 'int8,fp16,fp32' });
    const variants = Object.fromEntries(result.manifest.variants.map((v) => [v.name, v]));
    const fp32 = variants.fp32!.artifact.bytes;
    expect(variants.int8!.artifact.bytes / fp32).toBeLessThan(0.3);
    expect(variants.int8!.quantization.method).toBe('dynamic-int8');
    expect(variants.fp16!.artifact.bytes / fp32).toBeGreaterThan(0.45);
    expect(variants.fp16!.artifact.bytes / fp32).toBeLessThan(0.55);
    expect(variants.fp16!.requirements).toMatchObject({ backends: ['webgpu'], features: ['shader-f16'] });
    expect(variants['fp32-device']!.artifact.path).toBe('fp32.onnx');
    const e = result.manifest.evaluation!;
    expect(e['int8.normalizedMaxError']).toBeGreaterThan(0);
    expect(e['int8.normalizedMaxError']).toBeLessThan(0.1);
    expect(e['int8.wasm.measured']).toBe(1);
    expect(e['int8.wasm.normalizedMaxError']).toBeLessThan(0.1);
    expect(e['int8.top1Agreement']).toBeGreaterThanOrEqual(0.95);
    expect(e['fp16.normalizedMaxError']).toBeLessThan(0.01);
    expect(e['fp16.top1Agreement']).toBe(1);
  }, 300_000);

  it('refuses a variant asked for by name past the tolerance, writing nothing; keeps it with a warning when told to', async () => {
    const refused = await run({ device: 'int8', tolerance: 1e-6 }).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(TandemError);
    expect((refused as TandemError).code).toBe('variant_out_of_tolerance');
    expect((refused as TandemError).message).toMatch(/int8 variant .* over the tolerance of 0\.00 %/);
    expect(await readdir(join(work, `repo${counter - 1}`)).catch(() => [])).toEqual([]);

    const kept = await run({ device: 'int8', tolerance: 1e-6, keepOutOfTolerance: true });
    expect(kept.result.manifest.variants.map((v) => v.name)).toEqual(['fp32', 'int8']);
    expect(kept.lines.some((l) => /warning: keeping the int8 variant/.test(l))).toBe(true);
  }, 300_000);

  it('by default makes int8 and fp32 device variants, and leaves out a default one past its tolerance', async () => {
    const defaults = await run({});
    expect(defaults.result.manifest.variants.map((v) => v.name)).toEqual(['fp32', 'int8', 'fp32-device']);
    const strict = await run({ tolerance: 1e-6 });
    expect(strict.result.manifest.variants.map((v) => v.name)).toEqual(['fp32', 'fp32-device']);
    expect(strict.lines.some((l) => /warning: leaving out the int8 variant, which the import chose by default/.test(l))).toBe(true);
  }, 300_000);

  it('refuses a variant whose outputs overflow where the original does not (an error that is no number misses every tolerance)', async () => {
    // openWakeWord's mel spectrogram of int16-scaled audio: its power spectrum passes float16's largest
    // value (65504), so the fp16 variant's outputs are not finite where the original's are.
    const mel = thirdPartyModel('openwakeword-melspectrogram');
    const examples: string[] = [];
    for (const [i, example] of mel.examples().slice(0, 1).entries()) {
      examples.push(join(work, `mel-${i}.json`));
      await writeFile(examples.at(-1)!, exampleRequestBody(example));
    }
    const request = { model: mel.path(), id: 'mel', version: '1.0.0', examples, device: 'fp16,fp32' };
    const refused = await importModel({ ...request, repository: join(work, `repo${counter++}`) }, { signingKey: key, makers: ALL_MAKERS }).catch(
      (err: unknown) => err,
    );
    expect(refused).toMatchObject({
      code: 'variant_out_of_tolerance',
      message: expect.stringMatching(/fp16 variant .*outputs are not finite where the original's are \(fp16\.maxAbsError = Infinity/),
    });
    const lines: string[] = [];
    const kept = await importModel(
      { ...request, repository: join(work, `repo${counter++}`), keepOutOfTolerance: true },
      { signingKey: key, makers: ALL_MAKERS, progress: (l) => lines.push(l) },
    );
    expect(kept.manifest.evaluation?.['fp16.maxAbsError']).toBeUndefined();
    expect(lines.some((l) => /warning: keeping the fp16 variant although its outputs are not finite/.test(l))).toBe(true);
  }, 300_000);

  it('leaves out an int8 variant that would be the original file (nothing to quantize), and refuses it alone', async () => {
    const unchanged = { ...ALL_MAKERS, int8: { ...ALL_MAKERS.int8!, make: async (bytes: Uint8Array) => bytes } };
    const model = join(shared.repository, 'mlp-classifier', '1.0.0', 'fp32.onnx');
    const lines: string[] = [];
    const result = await importModel(
      { model, id: 'same', version: '1.0.0', repository: join(work, `repo${counter++}`), device: 'int8,fp32' },
      { signingKey: key, makers: unchanged, progress: (l) => lines.push(l) },
    );
    expect(result.manifest.variants.map((v) => v.name)).toEqual(['fp32', 'fp32-device']);
    expect(lines.some((l) => /leaving out the int8 variant: it would be the original file unchanged/.test(l))).toBe(true);
    const alone = await importModel(
      { model, id: 'same', version: '1.0.0', repository: join(work, `repo${counter++}`), device: 'int8' },
      { signingKey: key, makers: unchanged },
    ).catch((err: unknown) => err);
    expect(alone).toMatchObject({ code: 'bad_request' });
  }, 300_000);
});
