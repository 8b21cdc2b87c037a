/**
 * TEST SUPPORT ONLY, not an importer (`tandem import` is built elsewhere): lays a catalogued third-party
 * model out as a signed model-repository version, with a manifest written from what onnxruntime-node
 * reads in the model (names, dtypes, shapes), so tests can put real foreign models in front of the origin.
 *
 * Dynamic dims the exporter left unnamed (onnxruntime reports them as "" or -1) get a name of their own,
 * `<tensor>:<axis>`: the manifest schema has no unnamed dims, and two unnamed dims must not be taken for
 * the same one (Silero's input batch and its state's batch sit on different axes).
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import type { SigningKey } from '../../protocol/keys.ts';
import { EXAMPLE_MEDIA_TYPE, MANIFEST_SCHEMA_VERSION, type Manifest, type ManifestExample, type TensorSpec } from '../../protocol/manifest.ts';
import { encodeInferRequest, type NamedInferTensor } from '../../protocol/oip-codec.ts';
import { ENVELOPE_FILE } from '../../protocol/repository-layout.ts';
import { sha256Hex } from '../../protocol/sha256.ts';
import { signManifest } from '../../protocol/signed-manifest.ts';
import type { TensorDtype } from '../../protocol/tensor.ts';
import { decodeModel } from '../onnx/onnx-proto.ts';
import type { OrtLikeTensor, ThirdPartyExample, ThirdPartyModel } from './catalog.ts';

export const MODEL_FILE = 'model.onnx';
const MIB = 1024 * 1024;

/** The manifest's signature of a value list, from onnxruntime's metadata. */
export function specsFromMetadata(metadata: readonly ort.InferenceSession.ValueMetadata[]): TensorSpec[] {
  return metadata.map((meta) => {
    if (!meta.isTensor) throw new Error(`${meta.name} is not a tensor`);
    return {
      name: meta.name,
      dtype: meta.type as TensorDtype,
      shape: meta.shape.map((dim, axis) =>
        typeof dim === 'number' ? (dim >= 0 ? dim : `${meta.name}:${axis}`) : dim.trim() === '' ? `${meta.name}:${axis}` : dim,
      ),
    };
  });
}

/** The default-domain opset the model imports. */
export function defaultOpset(bytes: Uint8Array): number {
  const model = decodeModel(bytes) as { opset_import?: { domain?: string; version?: number | { toNumber(): number } }[] };
  const entry = model.opset_import?.find((o) => !o.domain);
  const version = entry?.version;
  return typeof version === 'number' ? version : (version?.toNumber() ?? 1);
}

/** An example as the JSON body of an OIP infer request (`{"inputs":[...]}`). */
export function exampleRequestBody(example: ThirdPartyExample): Uint8Array {
  const inputs = Object.entries(example.inputs).map(([name, t]): NamedInferTensor => ({ name, ...toProtocolTensor(t) }));
  return encodeInferRequest({ inputs }).body;
}

/** onnxruntime's `{type, dims, data}` as the protocol's `{dtype, dims, data}`. */
export function toProtocolTensor(t: OrtLikeTensor): { dtype: OrtLikeTensor['type']; dims: readonly number[]; data: OrtLikeTensor['data'] } {
  return { dtype: t.type, dims: t.dims, data: t.data } as never;
}

export interface LayOutOptions {
  repository: string;
  key: SigningKey;
  /** Model id; the catalog key by default. */
  id?: string;
  version?: string;
  /** Examples to store with the version and name in the manifest (none by default). */
  examples?: readonly ThirdPartyExample[];
  /** Changes the manifest before it is signed (e.g. to tamper with an example's hash). */
  edit?: (manifest: Manifest) => Manifest;
}

/**
 * Writes `<repository>/<id>/<version>/` with the model file, its example request bodies and a signed
 * manifest; returns the manifest.
 * @example
 * await layOutThirdPartyVersion(thirdPartyModel('silero-vad-v5'), { repository, key, examples: model.examples() });
 */
export async function layOutThirdPartyVersion(model: ThirdPartyModel, options: LayOutOptions): Promise<Manifest> {
  const bytes = new Uint8Array(await readFile(model.path()));
  const session = await ort.InferenceSession.create(bytes);
  const inputs = specsFromMetadata(session.inputMetadata);
  const outputs = specsFromMetadata(session.outputMetadata);
  await session.release();
  const id = options.id ?? model.key;
  const version = options.version ?? '1.0.0';
  const dir = join(options.repository, id, version);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, MODEL_FILE), bytes);
  const examples: ManifestExample[] = [];
  for (const [i, example] of (options.examples ?? []).entries()) {
    const body = exampleRequestBody(example);
    const path = `example-${i}-${example.name}.json`;
    await writeFile(join(dir, path), body);
    examples.push({ path, sha256: await sha256Hex(body), bytes: body.length, mediaType: EXAMPLE_MEDIA_TYPE });
  }
  let manifest: Manifest = {
    schemaVersion: MANIFEST_SCHEMA_VERSION,
    id,
    version,
    createdAt: '2026-11-01T00:00:00Z',
    description: `${model.package}@${model.version} ${model.file} (test fixture)`,
    task: model.task,
    labels: { source: `npm:${model.package}@${model.version}`, family: model.family.slice(0, 120) },
    ...(examples.length > 0 ? { examples } : {}),
    variants: [
      {
        name: 'fp32',
        tier: 'origin',
        artifact: { path: MODEL_FILE, sha256: await sha256Hex(bytes), bytes: bytes.length, mediaType: 'application/vnd.onnx' },
        opset: defaultOpset(bytes),
        inputs,
        outputs,
        quantization: { method: 'none' },
        requirements: { minMemoryMiB: Math.ceil((4 * bytes.length) / MIB) + 16, minStorageMiB: Math.ceil(bytes.length / MIB), backends: ['cpu'] },
      },
    ],
  };
  if (options.edit) manifest = options.edit(manifest);
  await writeFile(join(dir, ENVELOPE_FILE), JSON.stringify(await signManifest(manifest, [options.key]), null, 2));
  return manifest;
}
