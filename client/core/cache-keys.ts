/**
 * Cache keys. A result is addressed by model id, model version and the SHA-256 of its inputs (names,
 * dtypes, dims and bytes, in a fixed order), so the same question to the same model version hits, and any
 * other version misses. Model bytes are addressed by their SHA-256 alone: the same artifact shared by two
 * manifests is stored once.
 */
import { sha256Hex } from '../../protocol/sha256.ts';
import { tensorBytes, type NamedTensors } from '../../protocol/tensor.ts';

const encoder = new TextEncoder();

/**
 * The bytes the input hash covers. Each input contributes a JSON header line (name, dtype, dims, byte
 * length) followed by its data bytes; the header's length prefix makes the encoding unambiguous.
 */
export function inputDigestBytes(inputs: NamedTensors): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const name of Object.keys(inputs).sort()) {
    const t = inputs[name]!;
    const data = Array.isArray(t.data) ? encoder.encode(JSON.stringify(t.data)) : tensorBytes(t.data);
    const header = encoder.encode(JSON.stringify({ name, dtype: t.dtype, dims: t.dims, bytes: data.byteLength }));
    const length = new Uint8Array(4);
    new DataView(length.buffer).setUint32(0, header.byteLength, true);
    parts.push(length, header, data);
  }
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.byteLength;
  }
  return out;
}

/** The prefix every result key of one model version shares: `result:{id}@{version}:`. */
export function resultKeyPrefix(modelId: string, version: string): string {
  return `result:${modelId}@${version}:`;
}

/**
 * @example
 * await resultCacheKey('mlp-classifier', '1.0.0', { x: { dtype: 'float32', dims: [1, 256], data } });
 * // 'result:mlp-classifier@1.0.0:3f1c…'
 */
export async function resultCacheKey(modelId: string, version: string, inputs: NamedTensors): Promise<string> {
  return `${resultKeyPrefix(modelId, version)}${await sha256Hex(inputDigestBytes(inputs))}`;
}

/** Model bytes are keyed by their verified SHA-256. */
export function artifactCacheKey(sha256: string): string {
  return `artifact:${sha256}`;
}

/** The last verified manifest envelope of a model, for offline starts. */
export function manifestCacheKey(modelId: string): string {
  return `manifest:${modelId}`;
}
