/**
 * Signed manifests in R2, verified before anything is served. A verification is remembered per object
 * version (R2 key + etag), so a re-seeded object is verified again and a hot manifest costs one R2 read.
 */
import { TandemError } from '../../protocol/errors.ts';
import type { TrustedKeySet } from '../../protocol/keys.ts';
import type { Manifest } from '../../protocol/manifest.ts';
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

const verified = memoizePromises<ServableManifest>(512);

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
  return verified.get(`${key}\u0000${head.etag}\u0000${trust}`, async () => {
    const object = await bucket.get(key);
    if (!object) throw new TandemError('model_not_found', `no model ${id}@${version}`);
    const text = await object.text();
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
    return { manifest, text, sha256: await sha256Hex(new TextEncoder().encode(text)), keyids };
  });
}
