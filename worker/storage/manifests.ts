/**
 * Signed manifests in R2, verified before anything is served. A verification is remembered per object
 * version (R2 key + etag), so a re-seeded object is verified again and a hot manifest costs one R2 read;
 * a refusal is remembered the same way, so a bad envelope is not verified again on every request that
 * skips it (the same bytes under the same keys fail the same way).
 */
import { TandemError, type ErrorCode } from '../../protocol/errors.ts';
import type { TrustedKeySet } from '../../protocol/keys.ts';
import { modelRef, type Manifest } from '../../protocol/manifest.ts';
import { assertNotExpired } from '../../protocol/trust/bounds.ts';
import { envelopeKey } from '../../protocol/repository-layout.ts';
import { sha256Hex } from '../../protocol/sha256.ts';
import { verifyManifest } from '../../protocol/signed-manifest.ts';
import { memoizePromises } from '../../protocol/resilience/memo.ts';
import { parseEnvelopeKey } from './layout.ts';

export interface ServableManifest {
  manifest: Manifest;
  /** The envelope exactly as stored: what clients get and verify again. */
  text: string;
  /** Hex SHA-256 of `text`, the strong ETag. */
  sha256: string;
  keyids: string[];
}

/** A verification's outcome: a refusal is an outcome too (only a failed R2 read is not, and is retried). */
type Verification = { ok: ServableManifest } | { refused: { code: ErrorCode; message: string } };

const verified = memoizePromises<Verification>(512);

/**
 * Whether an error from `loadManifest` means this stored version must not be served (its envelope fails
 * verification, or it is gone), as opposed to a failure of R2 or of the edge.
 */
export function isRefusal(err: unknown): err is TandemError {
  return err instanceof TandemError && err.code !== 'internal' && err.status >= 400 && err.status < 500;
}

/** Every stored version, by model id. */
export async function listStoredVersions(bucket: R2Bucket, id?: string): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  let cursor: string | undefined;
  do {
    const page = await bucket.list({ ...(id === undefined ? {} : { prefix: `${id}/` }), ...(cursor ? { cursor } : {}) });
    for (const object of page.objects) {
      const ref = parseEnvelopeKey(object.key);
      if (!ref) continue;
      out.set(ref.id, [...(out.get(ref.id) ?? []), ref.version]);
    }
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
  return out;
}

/**
 * @throws TandemError `model_not_found`, or `manifest_signature_invalid` / `manifest_invalid` for an
 * envelope that must not be served (also when its manifest names another id or version than its key).
 */
export async function loadManifest(bucket: R2Bucket, id: string, version: string, trusted: TrustedKeySet): Promise<ServableManifest> {
  const key = envelopeKey(id, version);
  const head = await bucket.head(key);
  if (!head) throw new TandemError('model_not_found', `no model ${id}@${version}`);
  // The trusted set is part of the key: after a key is dropped, what it alone signed is refused at once.
  const trust = `${[...trusted.keys.keys()].sort().join(',')}/${trusted.threshold}`;
  const outcome = await verified.get(`${key}\u0000${head.etag}\u0000${trust}`, async (): Promise<Verification> => {
    const object = await bucket.get(key);
    if (!object) throw new TandemError('model_not_found', `no model ${id}@${version}`);
    const text = await object.text();
    try {
      let envelope: unknown;
      try {
        envelope = JSON.parse(text);
      } catch (cause) {
        throw new TandemError('manifest_signature_invalid', `${key} is not a JSON envelope`, { cause });
      }
      const { manifest, keyids } = await verifyManifest(envelope, trusted);
      if (manifest.id !== id || manifest.version !== version) {
        throw new TandemError('manifest_invalid', `${key} holds a manifest for ${manifest.id}@${manifest.version}`);
      }
      return { ok: { manifest, text, sha256: await sha256Hex(new TextEncoder().encode(text)), keyids } };
    } catch (err) {
      if (isRefusal(err)) return { refused: { code: err.code, message: err.message } };
      throw err;
    }
  });
  // A fresh error per request: the error handler stamps it with the request's id.
  if ('refused' in outcome) throw new TandemError(outcome.refused.code, outcome.refused.message);
  const { manifest } = outcome.ok;
  // Remembered verifications outlive a manifest's expiry: check it on every serve.
  if (manifest.expires !== undefined) assertNotExpired('manifest', modelRef(manifest), manifest.expires, Date.now());
  return outcome.ok;
}
