/**
 * The warm-up inference a model version runs before it is served, so the first real request doesn't pay
 * for onnxruntime's lazy initialisation, and so a version that cannot run is caught at load.
 *
 * With signed examples in the manifest (real inputs kept with the version, hashed in the signed manifest)
 * every example must verify and run: one that doesn't is a refusal naming the example. Without them the
 * origin can only guess an input (zeros, dynamic dims set to 1), and real third-party models legitimately
 * reject such guesses (Silero VAD needs a whole STFT window, an audio front end more than one sample), so
 * a failed synthetic warm-up is reported as a warning and the model is served anyway.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { TandemError, toTandemError } from '../protocol/errors.ts';
import type { Manifest, ManifestExample, ManifestVariant } from '../protocol/manifest.ts';
import { decodeInferRequest } from '../protocol/oip-codec.ts';
import { sha256Hex } from '../protocol/sha256.ts';
import { allocateTensorData, elementCount, tensorsByName, type Tensor } from '../protocol/tensor.ts';
import type { ModelSession } from './ort-session.ts';
import { validateInputs } from '../protocol/validate-inputs.ts';

/** What the warm-up ran: the examples by path, or the synthetic input and, if it failed, why. */
export type WarmUpReport = { kind: 'examples'; examples: string[] } | { kind: 'synthetic'; failure?: TandemError };

/**
 * Runs the version's signed examples, or one synthetic inference when it has none.
 * @throws TandemError for an example that is missing (`artifact_missing`), altered
 * (`artifact_hash_mismatch`), not a valid infer request for the variant (`manifest_invalid`), or that fails
 * to run (`inference_failed`); the message names the example. A synthetic failure is returned, not thrown.
 */
export async function warmUp(session: ModelSession, dir: string, manifest: Manifest, variant: ManifestVariant): Promise<WarmUpReport> {
  const examples = manifest.examples ?? [];
  if (examples.length === 0) {
    try {
      await session.run(syntheticInputs(variant));
      return { kind: 'synthetic' };
    } catch (err) {
      return { kind: 'synthetic', failure: toTandemError(err) };
    }
  }
  for (const example of examples) await runExample(session, dir, example, variant);
  return { kind: 'examples', examples: examples.map((e) => e.path) };
}

async function runExample(session: ModelSession, dir: string, example: ManifestExample, variant: ManifestVariant): Promise<void> {
  const label = `signed example ${example.path}`;
  const body = await readVerified(join(dir, example.path), example, label);
  let inputs: Record<string, Tensor>;
  let outputs: string[] | undefined;
  try {
    const request = decodeInferRequest(body, null);
    validateInputs(request.inputs, variant, { nonFinite: 'allow' });
    inputs = Object.fromEntries(request.inputs.map((t) => [t.name, { dtype: t.dtype, dims: t.dims, data: t.data } as Tensor]));
    outputs = request.outputs?.map((o) => o.name);
    for (const name of outputs ?? []) {
      if (!variant.outputs.some((o) => o.name === name)) throw new TandemError('output_unknown', `asks for output "${name}", which the model lacks`);
    }
  } catch (err) {
    const error = toTandemError(err);
    throw new TandemError('manifest_invalid', `${label} is not a valid request for this model: ${error.code}: ${error.message}`, { cause: err });
  }
  try {
    await session.run(inputs, outputs);
  } catch (err) {
    const error = toTandemError(err);
    throw new TandemError('inference_failed', `${label} failed to run: ${error.message}`, { cause: err });
  }
}

/** The example's bytes, once their size and SHA-256 match the signed manifest's, as for model artifacts. */
async function readVerified(path: string, example: ManifestExample, label: string): Promise<Uint8Array> {
  const size = await stat(path).then(
    (info) => info.size,
    (cause: NodeJS.ErrnoException) => {
      if (cause.code === 'ENOENT') throw new TandemError('artifact_missing', `${label}: no such file`, { cause });
      throw cause;
    },
  );
  if (size !== example.bytes) throw new TandemError('artifact_hash_mismatch', `${label}: ${size} bytes, manifest says ${example.bytes}`);
  const bytes = new Uint8Array(await readFile(path));
  const actual = await sha256Hex(bytes);
  if (actual !== example.sha256) throw new TandemError('artifact_hash_mismatch', `${label}: sha256 ${actual}, manifest says ${example.sha256}`);
  return bytes;
}

/** Zeros, with every dynamic dimension set to 1. */
function syntheticInputs(variant: ManifestVariant): Record<string, Tensor> {
  const inputs = tensorsByName();
  for (const spec of variant.inputs) {
    const dims = spec.shape.map((d) => (typeof d === 'number' ? d : 1));
    inputs[spec.name] = { dtype: spec.dtype, dims, data: allocateTensorData(spec.dtype, elementCount(dims)) } as Tensor;
  }
  return inputs;
}
