/**
 * `tandem import`: a user's .onnx file in, a signed model version out, in the repository layout every tier
 * reads. The steps, each refusing with a coded TandemError and writing nothing when it does:
 *
 *   1. flags and files (`import-options.ts`), before any long work;
 *   2. the graph (`read-onnx.ts`) and what Tandem cannot take from it (`refusals.ts`);
 *   3. the manifest signatures (`signature.ts`), labels and examples checked against them;
 *   4. onnxruntime-node loads it as the origin would and runs it on every example, or, without any, on
 *      the origin's warm-up input and a synthetic input (`ort-check.ts`, `sample-inputs.ts`);
 *   5. peak activations measured and requirements estimated (`requirements.ts`);
 *   6. device variants made and compared with the original (`device-variants.ts`);
 *   7. the manifest validated, signed (the release key, or the dev key) and written atomically
 *      (`write-version.ts`).
 *
 * After step 4, `row-batching-check.ts` measures whether concurrent requests may share a run: the
 * manifest's `batching`, on every variant.
 *
 * The original bytes become the `fp32` origin variant unchanged, so the signed artifact is the user's file.
 */
import { TandemError } from '../../protocol/errors.ts';
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { MANIFEST_SCHEMA_VERSION, parseManifest, type Manifest, type ManifestExample, type ManifestVariant, type TensorSpec } from '../../protocol/manifest.ts';
import type { SigningKey } from '../../protocol/keys.ts';
import { sha256Hex } from '../../protocol/sha256.ts';
import { signManifest } from '../../protocol/signed-manifest.ts';
import type { NamedTensors } from '../../protocol/tensor.ts';
import { ensureDevKey } from '../keys-store.ts';
import { ONNX_MEDIA_TYPE } from '../manifest-assembly.ts';
import { DEFAULT_TOLERANCE, outOfTolerance, toleranceMiss } from './tolerance.ts';
import { BUILT_IN_MAKERS, defaultDevices, deviceVariantName, type DeviceMakers } from './device-variants.ts';
import { checkExample, exampleFile } from './examples.ts';
import { checkImportRequest, type ImportRequest } from './import-options.ts';
import { checkLabelCount } from './labels.ts';
import { loadChecked } from './ort-check.ts';
import { defaultOpset, readOnnx, type OnnxModel } from './read-onnx.ts';
import { checkImportable } from './refusals.ts';
import { checkRowBatching, type RowBatchingCheck } from './row-batching-check.ts';
import { formatBytes } from './import-report.ts';
import { ioBytes, measureActivations, minMemoryMiB, minStorageMiB, type ActivationEstimate } from './requirements.ts';
import { DYNAMIC_DIM_DEFAULT, syntheticInputs, warmUpInputs } from './sample-inputs.ts';
import { tensorSpec } from './signature.ts';
import { writeVersion } from './write-version.ts';

/** The origin variant's name and file. */
export const ORIGIN_VARIANT = { name: 'fp32', path: 'fp32.onnx' } as const;

export interface ImportDependencies {
  /** Device variant makers by name; default the fp32 maker only. */
  makers?: DeviceMakers;
  /** Signs with this key instead of `--key` or the dev key (tests). */
  signingKey?: SigningKey;
  /** One line per long step, for stderr. */
  progress?: (line: string) => void;
  /** The manifest's `createdAt`; default now. */
  now?: () => Date;
}

export interface ImportResult {
  /** The version directory, in `repository`. */
  dir: string;
  repository: string;
  manifest: Manifest;
  /** The keyid that signed the manifest, and whether it was the dev key. */
  keyid: string;
  devKey: boolean;
  activations: ActivationEstimate;
  model: OnnxModel;
  /** Whether requests may share a run, and why (the manifest's `batching`). */
  rowBatching: RowBatchingCheck;
}

/**
 * @throws TandemError with the code of the step that refused (see the module comment); nothing is written.
 * @example
 * const { dir, manifest } = await importModel({ model: 'resnet.onnx', id: 'resnet', version: '1.0.0', repository: 'models/repository' });
 */
export async function importModel(request: ImportRequest, deps: ImportDependencies = {}): Promise<ImportResult> {
  const progress = deps.progress ?? (() => {});
  const makers = deps.makers ?? BUILT_IN_MAKERS;
  const checked = await checkImportRequest(request, makers);

  progress(`reading ${request.model} (${formatBytes(checked.modelBytes)})`);
  const file = await readFile(request.model);
  const bytes = new Uint8Array(file.buffer, file.byteOffset, file.byteLength);
  const model = readOnnx(bytes);
  checkImportable(model);
  const inputs = model.inputs.map(tensorSpec);
  const outputs = model.outputs.map(tensorSpec);
  if (checked.labels) checkLabelCount(checked.labels, outputs);
  const examples = checked.examples.map((e) => checkExample(e, inputs));
  const inputSets: NamedTensors[] = examples.length > 0 ? examples : [syntheticInputs(inputs)];
  const devices = checked.devices ?? defaultDevices(model.weightBytes, makers);

  progress(`loading in onnxruntime-node (${model.nodeCount} nodes, ${formatBytes(model.weightBytes)} of weights)`);
  const session = await loadChecked(bytes, model, inputs, outputs);
  const io: number[] = [];
  try {
    // The origin warms a version up on its signed examples when it has some (origin/warm-up.ts), else on
    // zeros with dynamic dimensions of 1. Only in that case does the synthetic input have to run: a model
    // whose inputs a guess cannot satisfy (Silero VAD needs a whole STFT window) imports with --example.
    if (examples.length === 0) await session.run(warmUpInputs(inputs), `the origin's warm-up input (zeros, dynamic dimensions = ${DYNAMIC_DIM_DEFAULT})`);
    for (const [i, feeds] of inputSets.entries()) {
      const what = examples.length > 0 ? `--example ${checked.examples[i]!.source}` : 'the synthetic input';
      io.push(ioBytes(feeds, await session.run(feeds, what)));
    }
  } finally {
    await session.release();
  }

  progress('checking whether concurrent requests may share a run');
  const rowBatching = await checkRowBatching(bytes, inputs, outputs, examples);

  progress(`measuring activations on ${inputSets.length} input set(s)`);
  const activations = await measureActivations(bytes, model, inputSets, io);
  const origin = variantEntry({
    ...ORIGIN_VARIANT,
    tier: 'origin',
    bytes,
    sha256: await sha256Hex(bytes),
    model,
    inputs,
    outputs,
    quantization: { method: 'none' },
    backends: ['cpu'],
    activations,
  });

  const variants: ManifestVariant[] = [origin];
  const files = new Map<string, Uint8Array>([[ORIGIN_VARIANT.path, bytes]]);
  const evaluation: Record<string, number> = {};
  const classifier = checked.task === 'classification';
  for (const name of devices) {
    const maker = makers[name]!;
    progress(`making the ${name} device variant`);
    const made = await maker.make(bytes);
    const sha256 = made === bytes ? origin.artifact.sha256 : await sha256Hex(made);
    const variantName = deviceVariantName(name, ORIGIN_VARIANT.name);
    const same = sha256 === origin.artifact.sha256;
    if (same && maker.quantization.method !== 'none') {
      // Nothing to quantize (no MatMul, Gemm or Conv weights it takes, or an opset it leaves alone): the
      // "variant" would be the original file under a quantized label.
      progress(`note: leaving out the ${name} variant: it would be the original file unchanged (nothing to ${name === 'int8' ? 'quantize' : 'convert'})`);
      if (checked.devices !== undefined && !devices.some((d) => d !== name))
        throw new TandemError('bad_request', `--device ${name}: the ${name} variant would be the original file unchanged; ask for fp32 instead`);
      continue;
    }
    if (!same) {
      // A rewritten model must load and agree on its signature too, or devices would be handed a broken file.
      const variantSession = await loadChecked(made, model, inputs, outputs);
      try {
        for (const feeds of inputSets) await variantSession.run(feeds, `the ${name} variant`);
      } finally {
        await variantSession.release();
      }
    }
    const figures: Record<string, number> = {};
    if (maker.evaluate && !same) {
      progress(`comparing the ${name} variant with the original in onnxruntime-node and onnxruntime-web (WASM)`);
      // Figures a maker could not compute are left out; top-1 agreement means something for classifiers only.
      // An error that is no number (NaN, ±Infinity: the variant overflows where the original does not, as
      // float16 does past 65504) cannot go into the manifest's JSON, and misses every tolerance.
      const notFinite: string[] = [];
      for (const [key, value] of Object.entries(await maker.evaluate(bytes, made, inputSets))) {
        if (!classifier && key.endsWith('top1Agreement')) continue;
        if (typeof value !== 'number') continue;
        if (Number.isFinite(value)) figures[`${name}.${key}`] = value;
        else if (/(maxAbsError|normalizedMaxError)$/.test(key)) notFinite.push(`${name}.${key} = ${value}`);
      }
      if (figures[`${name}.wasm.measured`] === 0)
        progress(`warning: onnxruntime-web (WASM) could not run the ${name} variant; its agreement there is not measured`);
      const tolerance = {
        ...DEFAULT_TOLERANCE[name]!,
        ...(request.tolerance === undefined ? {} : { maxNormalizedError: request.tolerance }),
        ...(request.minTop1 === undefined ? {} : { minTop1: request.minTop1 }),
      };
      const miss =
        notFinite.length > 0
          ? `its outputs are not finite where the original's are (${notFinite.join(', ')})`
          : toleranceMiss(name, figures, tolerance, classifier);
      if (miss !== undefined) {
        if (checked.devices === undefined) {
          progress(`warning: leaving out the ${name} variant, which the import chose by default: ${miss}`);
          continue;
        }
        if (!request.keepOutOfTolerance) throw outOfTolerance(name, miss);
        progress(`warning: keeping the ${name} variant although ${miss} (--keep-out-of-tolerance)`);
      }
    }
    Object.assign(evaluation, figures);
    if (!same) files.set(`${variantName}.onnx`, made);
    variants.push(
      variantEntry({
        name: variantName,
        path: same ? ORIGIN_VARIANT.path : `${variantName}.onnx`,
        tier: 'device',
        bytes: made,
        sha256,
        model,
        inputs,
        outputs,
        quantization: maker.quantization,
        backends: maker.backends,
        ...(maker.features ? { features: maker.features } : {}),
        activations,
      }),
    );
  }

  const exampleRefs: ManifestExample[] = [];
  for (const [i, example] of checked.examples.entries()) {
    const stored = await exampleFile(example, i);
    files.set(stored.path, stored.bytes);
    exampleRefs.push(stored.ref);
  }

  const manifest = parseManifest({
    schemaVersion: MANIFEST_SCHEMA_VERSION,
    id: request.id,
    version: request.version,
    createdAt: (deps.now?.() ?? new Date()).toISOString(),
    ...(request.description ? { description: request.description } : {}),
    task: checked.task,
    ...(checked.labels ? { classLabels: checked.labels } : {}),
    labels: importLabels(request, model, activations, examples.length),
    ...(Object.keys(evaluation).length > 0 ? { evaluation } : {}),
    ...(exampleRefs.length > 0 ? { examples: exampleRefs } : {}),
    // Every variant computes what the original does: a model whose rows depend on each other keeps that.
    variants: rowBatching.batching === undefined ? variants : variants.map((v) => ({ ...v, batching: rowBatching.batching })),
  });

  progress('signing the manifest');
  const devKey = deps.signingKey === undefined && checked.key === undefined;
  const key = deps.signingKey ?? checked.key ?? (await ensureDevKey()).key;
  const envelope = await signManifest(manifest, [key]);
  const dir = await writeVersion({
    repository: request.repository,
    id: request.id,
    version: request.version,
    files,
    envelope: `${JSON.stringify(envelope, null, 2)}\n`,
    ...(request.force ? { force: true } : {}),
  });
  return { dir, repository: request.repository, manifest, keyid: key.keyid, devKey, activations, model, rowBatching };
}

interface VariantInput {
  name: string;
  path: string;
  tier: ManifestVariant['tier'];
  bytes: Uint8Array;
  sha256: string;
  model: OnnxModel;
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  quantization: ManifestVariant['quantization'];
  backends: ManifestVariant['requirements']['backends'];
  features?: string[];
  activations: ActivationEstimate;
}

function variantEntry(v: VariantInput): ManifestVariant {
  return {
    name: v.name,
    tier: v.tier,
    artifact: { path: v.path, sha256: v.sha256, bytes: v.bytes.length, mediaType: ONNX_MEDIA_TYPE },
    opset: manifestOpset(v.model),
    inputs: v.inputs,
    outputs: v.outputs,
    quantization: v.quantization,
    requirements: {
      minMemoryMiB: minMemoryMiB(v.bytes.length, v.activations.peakBytes),
      minStorageMiB: minStorageMiB(v.bytes.length),
      backends: v.backends,
      ...(v.features ? { features: v.features } : {}),
    },
  };
}

/** The default domain's opset; a model importing only other domains records the highest of theirs. */
function manifestOpset(model: OnnxModel): number {
  return defaultOpset(model) ?? Math.max(1, ...Object.values(model.opsetImports));
}

/** Free-form facts for operators: where the model came from and how its requirements were measured. */
function importLabels(request: ImportRequest, model: OnnxModel, activations: ActivationEstimate, examples: number): Record<string, string> {
  const producer = `${model.producer.name} ${model.producer.version}`.trim();
  return {
    'import.source': basename(request.model),
    ...(producer ? { 'onnx.producer': producer } : {}),
    'onnx.irVersion': String(model.irVersion),
    'onnx.opsets': Object.entries(model.opsetImports)
      .map(([d, v]) => `${d}=${v}`)
      .join(','),
    'requirements.peakActivationBytes': String(activations.peakBytes),
    'requirements.measuredOn': examples > 0 ? `${examples} example(s)` : `a synthetic input (dynamic dimensions = ${DYNAMIC_DIM_DEFAULT})`,
    'requirements.intermediates': activations.intermediates ? 'measured' : `not measured (${(activations.fallbackReason ?? '').slice(0, 200)})`,
  };
}
