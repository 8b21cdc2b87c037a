/**
 * The requests a benchmark sends, built once before the load starts so the load generator only writes
 * bytes: one row of deterministic inputs for a model's input signature, as an OIP infer body in JSON or
 * with binary tensors (the binary extension both ways: binary inputs, `binary_data_output` asked for).
 */
import { encodeInferRequest, requestBinaryOutputs, type InferRequest } from '../../protocol/oip-codec.ts';
import type { TensorSpec } from '../../protocol/manifest.ts';
import { randomFloats } from '../../origin/test-support.ts';
import type { Target } from './recorder.ts';

export type BodyMode = 'json' | 'binary';

export interface InferTarget extends Target {
  body: Buffer;
}

/** A `POST /v2/models/{id}/infer` of one row, with `Authorization: Bearer <token>`. */
export function inferTarget(baseUrl: string, modelId: string, inputs: readonly TensorSpec[], mode: BodyMode, token: string): InferTarget {
  const request: InferRequest = {
    inputs: inputs.map((spec, i) => {
      if (spec.dtype !== 'float32') throw new Error(`${modelId}: input ${spec.name} is ${spec.dtype}; the benchmark sends float32 only`);
      const dims = spec.shape.map((d) => (typeof d === 'number' ? d : 1));
      return {
        name: spec.name,
        dtype: 'float32' as const,
        dims,
        data: randomFloats(
          dims.reduce((a, b) => a * b, 1),
          17 + i,
        ),
      };
    }),
  };
  const encoded = mode === 'binary' ? encodeInferRequest(requestBinaryOutputs(request), { binary: true }) : encodeInferRequest(request);
  return {
    url: `${baseUrl}/v2/models/${modelId}/infer`,
    method: 'POST',
    headers: { ...encoded.headers, authorization: `Bearer ${token}` },
    body: Buffer.from(encoded.body.buffer, encoded.body.byteOffset, encoded.body.byteLength),
  };
}

/**
 * Sends `target` once and checks the answer is 2xx, so a wrong token or body fails loudly before a cell
 * records thousands of errors. Returns the answer's size in bytes.
 */
export async function probe(target: InferTarget): Promise<number> {
  const res = await fetch(target.url, { method: target.method, headers: target.headers, body: target.body });
  const body = new Uint8Array(await res.arrayBuffer());
  if (!res.ok) throw new Error(`${target.url} answered ${res.status}: ${new TextDecoder().decode(body.subarray(0, 500))}`);
  return body.byteLength;
}
