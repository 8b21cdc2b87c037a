/**
 * `--example FILE`: inputs kept with the version, each an OIP v2 inference request body in its JSON form
 * (`{"inputs": [{"name", "datatype", "shape", "data"}]}`), as any client would POST it. Each is decoded by
 * the shared codec, checked against the model's input signature by the origin's own rules
 * (`protocol/validate-inputs.ts`, non-finite values refused), and stored re-encoded (inputs only, canonical
 * JSON) as `example-<n>.json`, hashed into the manifest's `examples`.
 */
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { TandemError } from '../../protocol/errors.ts';
import { EXAMPLE_MEDIA_TYPE, type ManifestExample, type TensorSpec } from '../../protocol/manifest.ts';
import { decodeInferRequest, encodeInferRequest, type InferRequest } from '../../protocol/oip-codec.ts';
import { sha256Hex } from '../../protocol/sha256.ts';
import type { NamedTensors } from '../../protocol/tensor.ts';
import { checkInputs } from '../../protocol/validate-inputs.ts';

/** The manifest holds at most this many examples. */
export const MAX_EXAMPLES = 32;

export interface ExampleInput {
  /** The file it came from, for messages. */
  source: string;
  request: InferRequest;
}

/** Prefixes a codec or validation error with the file, keeping its code. */
function inFile(err: unknown, file: string): never {
  if (err instanceof TandemError) throw new TandemError(err.code, `--example ${file}: ${err.message}`, { cause: err });
  throw err;
}

/**
 * Reads and decodes one example file (JSON only; the binary extension of OIP is not taken here).
 * @throws TandemError `bad_request`, `tensor_invalid` or `payload_too_large` from the codec, naming the file.
 */
export async function readExample(file: string): Promise<ExampleInput> {
  const bytes = await readFile(file);
  try {
    const request = decodeInferRequest(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    if (request.inputs.length === 0) throw new TandemError('bad_request', 'the request has no inputs');
    return { source: file, request };
  } catch (err) {
    return inFile(err, file);
  }
}

/**
 * Checks an example against the model's inputs and returns its tensors by name.
 * @throws TandemError `input_missing`, `input_unknown`, `input_dtype_mismatch`, `input_shape_mismatch` or
 * `input_not_finite`, naming the file.
 */
export function checkExample(example: ExampleInput, specs: readonly TensorSpec[]): NamedTensors {
  try {
    checkInputs(example.request.inputs, specs, { nonFinite: 'reject' });
  } catch (err) {
    inFile(err, example.source);
  }
  return Object.fromEntries(example.request.inputs.map(({ name, dtype, dims, data }) => [name, { dtype, dims, data }]));
}

/** The file an example is stored as, and its manifest entry. */
export async function exampleFile(example: ExampleInput, index: number): Promise<{ path: string; bytes: Uint8Array; ref: ManifestExample }> {
  const path = `example-${index + 1}.json`;
  let bytes: Uint8Array;
  try {
    bytes = encodeInferRequest({ inputs: example.request.inputs }).body;
  } catch (err) {
    return inFile(err, example.source);
  }
  return { path, bytes, ref: { path, sha256: await sha256Hex(bytes), bytes: bytes.length, mediaType: EXAMPLE_MEDIA_TYPE } };
}

/** "cat.json" for messages. */
export function exampleName(example: ExampleInput): string {
  return basename(example.source);
}
