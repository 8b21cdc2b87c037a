/**
 * Verifies one model version directory of a repository: the signed manifest against trusted keys, then
 * each artifact's size and SHA-256 against the manifest. What the origin runs before loading a model and
 * what `tandem verify` prints.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { TandemError } from '../protocol/errors.ts';
import type { TrustedKeySet } from '../protocol/keys.ts';
import type { Manifest, ManifestVariant } from '../protocol/manifest.ts';
import { ENVELOPE_FILE } from '../protocol/repository-layout.ts';
import { sha256Hex } from '../protocol/sha256.ts';
import { verifyManifest } from '../protocol/signed-manifest.ts';
import { readJson } from './repository.ts';

export interface VerifiedModel {
  dir: string;
  manifest: Manifest;
  keyids: string[];
  /** Hex SHA-256 of the signed manifest's payload bytes: what a timestamp record names (protocol/trust/timestamp.ts). */
  payloadSha256: string;
  /** Variants whose artifact was checked, in manifest order. */
  artifacts: { variant: ManifestVariant; path: string; bytes: Uint8Array }[];
}

export interface VerifyModelOptions {
  /** Check artifact bytes too (default true). Variants not named in `variants` are skipped. */
  artifacts?: boolean;
  variants?: readonly string[];
}

/**
 * @throws TandemError `manifest_signature_invalid`, `manifest_invalid` or `artifact_hash_mismatch`.
 */
export async function verifyModelDirectory(dir: string, trusted: TrustedKeySet, options: VerifyModelOptions = {}): Promise<VerifiedModel> {
  const { manifest, keyids, payload } = await verifyManifest(await readJson(join(dir, ENVELOPE_FILE)), trusted);
  const artifacts: VerifiedModel['artifacts'] = [];
  if (options.artifacts ?? true) {
    for (const variant of manifest.variants) {
      if (options.variants && !options.variants.includes(variant.name)) continue;
      const path = join(dir, variant.artifact.path);
      artifacts.push({ variant, path, bytes: await verifyArtifactFile(path, variant) });
    }
  }
  return { dir, manifest, keyids, payloadSha256: await sha256Hex(payload), artifacts };
}

export async function verifyArtifactFile(path: string, variant: ManifestVariant): Promise<Uint8Array> {
  const size = await stat(path).then(
    (info) => info.size,
    (cause: NodeJS.ErrnoException) => {
      if (cause.code === 'ENOENT') throw new TandemError('artifact_missing', `${path}: no such file`, { cause });
      throw cause;
    },
  );
  // Size first: a wrong-sized file is refused without reading it.
  if (size !== variant.artifact.bytes) {
    throw new TandemError('artifact_hash_mismatch', `${path}: ${size} bytes, manifest says ${variant.artifact.bytes}`);
  }
  const bytes = await readFile(path);
  await verifyArtifactBytes(bytes, variant, path);
  return bytes;
}

/** @throws TandemError `artifact_hash_mismatch` unless `bytes` are the variant's artifact. */
export async function verifyArtifactBytes(bytes: Uint8Array, variant: ManifestVariant, label: string): Promise<void> {
  const expected = variant.artifact;
  if (bytes.length !== expected.bytes) {
    throw new TandemError('artifact_hash_mismatch', `${label}: ${bytes.length} bytes, manifest says ${expected.bytes}`);
  }
  const actual = await sha256Hex(bytes);
  if (actual !== expected.sha256) {
    throw new TandemError('artifact_hash_mismatch', `${label}: sha256 ${actual}, manifest says ${expected.sha256}`);
  }
}
