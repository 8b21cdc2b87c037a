/**
 * The origin's answer, read and held to the manifest before a run returns it (or the result cache keeps
 * it). A 200 is the origin's word, not proof: a captive portal's page, a body cut off mid-stream, another
 * model's or version's outputs, or outputs of other names, dtypes or ranks than the signed variant's are
 * a server fault (`origin_unavailable`: retried, counted by the breaker, then the fallback tier or a
 * stale answer), never the caller's (`bad_request` would stop all of those) and never a result. Part of
 * the origin chunk (origin-chunk.ts), so it costs the main-thread SDK nothing.
 */
import { TandemError } from '../protocol/errors.ts';
import { variantForTier, type Manifest } from '../protocol/manifest.ts';
import { decodeInferResponse, INFERENCE_HEADER_CONTENT_LENGTH, type NamedInferTensor } from '../protocol/oip-codec.ts';

export interface OriginOutputs {
  outputs: NamedInferTensor[];
  /** The version that answered: the URL names `manifest.version`, so anything else is refused. */
  version: string;
}

/**
 * @param asked the outputs the run asked for, or undefined for every output of the origin variant.
 * @throws TandemError `origin_unavailable` naming what was wrong with the answer.
 */
export async function readOriginAnswer(res: Response, manifest: Manifest, asked: readonly string[] | undefined): Promise<OriginOutputs> {
  const unusable = (why: string) => new TandemError('origin_unavailable', `${manifest.id}@${manifest.version}: the origin's answer ${why}`);
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await res.arrayBuffer());
  } catch (err) {
    // The caller's abort stays an abort; anything else broke the answer off.
    if ((err as { name?: unknown })?.name === 'AbortError') throw err;
    throw unusable(`broke off (${err instanceof Error ? err.message : String(err)})`);
  }
  let decoded: ReturnType<typeof decodeInferResponse>;
  try {
    decoded = decodeInferResponse(bytes, res.headers.get(INFERENCE_HEADER_CONTENT_LENGTH));
  } catch (err) {
    throw unusable(`is not an OIP answer (${err instanceof Error ? err.message : String(err)})`);
  }
  if (decoded.modelName !== manifest.id) throw unusable(`is model "${decoded.modelName}"'s`);
  const version = res.headers.get('x-model-version') ?? decoded.modelVersion ?? manifest.version;
  if (version !== manifest.version) throw unusable(`is version ${version}'s`);
  const specs = variantForTier(manifest, 'origin')?.outputs;
  if (specs) {
    const wanted = asked ?? specs.map((s) => s.name);
    const names = decoded.outputs.map((t) => t.name);
    if (names.length !== wanted.length || wanted.some((name) => !names.includes(name))) {
      throw unusable(`has outputs [${names.join(', ')}], asked for [${wanted.join(', ')}]`);
    }
    for (const tensor of decoded.outputs) {
      const spec = specs.find((s) => s.name === tensor.name);
      if (!spec) continue; // Asked for by name, checked against the signature when the run was validated.
      const fits = spec.shape.length === tensor.dims.length && spec.shape.every((dim, axis) => typeof dim !== 'number' || dim === tensor.dims[axis]);
      if (spec.dtype !== tensor.dtype || !fits) {
        throw unusable(`has "${tensor.name}" as ${tensor.dtype} [${tensor.dims.join(',')}], the manifest says ${spec.dtype} [${spec.shape.join(',')}]`);
      }
    }
  }
  return { outputs: decoded.outputs, version };
}
