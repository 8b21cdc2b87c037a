/**
 * Where the edge's R2 bucket keeps things. Manifests follow the model repository layout
 * (`<id>/<version>/manifest.dsse.json`, protocol/repository-layout.ts); artifacts are stored once, by
 * content, under `artifacts/<sha256>` (the manifest names each artifact's hash), so the artifact route
 * needs no index and a file shared by two versions is stored once.
 */
import { ENVELOPE_FILE } from '../../protocol/repository-layout.ts';

export const ARTIFACT_PREFIX = 'artifacts/';

export function artifactObjectKey(sha256: string): string {
  return `${ARTIFACT_PREFIX}${sha256}`;
}

export const SHA256_HEX = /^[0-9a-f]{64}$/;

/** `{ id, version }` of an envelope key, or undefined for any other key. */
export function parseEnvelopeKey(key: string): { id: string; version: string } | undefined {
  const parts = key.split('/');
  if (parts.length !== 3 || parts[2] !== ENVELOPE_FILE || key.startsWith(ARTIFACT_PREFIX)) return undefined;
  const [id = '', version = ''] = parts;
  return id && version ? { id, version } : undefined;
}
