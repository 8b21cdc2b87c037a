/**
 * Manifests as they travel: a DSSE envelope whose payload is the manifest's JSON bytes.
 * Signing validates first, so nobody signs a malformed manifest; verifying checks the signature before
 * parsing a single byte of the payload, so untrusted JSON never reaches the schema.
 */
import { signEnvelope, verifyEnvelope, type DsseEnvelope } from './dsse.ts';
import type { SigningKey, TrustedKeySet } from './keys.ts';
import { MANIFEST_PAYLOAD_TYPE, modelRef, parseManifest, type Manifest } from './manifest.ts';
import { assertNotExpired } from './trust/bounds.ts';
import { payloadJson } from './signed-json.ts';

const encoder = new TextEncoder();

/**
 * @example
 * const envelope = await signManifest(manifest, [devKey]);
 * await writeFile('manifest.dsse.json', JSON.stringify(envelope, null, 2));
 */
export async function signManifest(manifest: Manifest, keys: readonly SigningKey[]): Promise<DsseEnvelope> {
  const valid = parseManifest(manifest);
  return signEnvelope(MANIFEST_PAYLOAD_TYPE, encoder.encode(JSON.stringify(valid)), keys);
}

export interface VerifiedManifest {
  manifest: Manifest;
  /** Trusted keys that signed it. */
  keyids: string[];
  /** The exact signed bytes; their hash makes a strong ETag. */
  payload: Uint8Array;
}

/**
 * @param now the time against the manifest's `expires` (every tier refuses an expired manifest: TUF's
 * freeze defence); a manifest without `expires` does not expire.
 * @throws TandemError `manifest_signature_invalid` (bad envelope or signature), `manifest_invalid`
 * (signed, but not a valid manifest) or `metadata_expired`.
 */
export async function verifyManifest(envelope: unknown, trusted: TrustedKeySet, now: number = Date.now()): Promise<VerifiedManifest> {
  const { payload, keyids } = await verifyEnvelope(envelope, trusted, MANIFEST_PAYLOAD_TYPE);
  const json = payloadJson(payload, 'manifest');
  const manifest = parseManifest(json);
  if (manifest.expires !== undefined) assertNotExpired('manifest', modelRef(manifest), manifest.expires, now);
  return { manifest, keyids, payload };
}
