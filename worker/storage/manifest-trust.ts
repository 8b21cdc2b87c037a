/**
 * What the catalog routes ask before serving a manifest. Without `ROOT_KEYS`: the manifest verifies with
 * `TRUSTED_KEYS` and is unexpired. With `ROOT_KEYS` the record in force (trust-metadata.ts) decides: the
 * manifest verifies with the root's release keys, is unexpired, is live in the record with this very
 * digest (no mix-and-match), is not revoked, and "latest" is the record's current version (an older one
 * served as current is a rollback).
 */
import type { Context } from 'hono';
import { decodeBase64 } from '../../protocol/base64.ts';
import type { TrustedKeySet } from '../../protocol/keys.ts';
import { modelRef } from '../../protocol/manifest.ts';
import { sha256Hex } from '../../protocol/sha256.ts';
import { assertNotExpired } from '../../protocol/trust/bounds.ts';
import { checkManifest } from '../../protocol/trust/trust-state.ts';
import type { EdgeEnv } from '../context.ts';
import type { VersionChoice } from '../version-choice/stored-version.ts';
import type { ServableManifest } from './manifests.ts';
import { timestampInForce, trustView } from './trust-metadata.ts';

export interface ManifestTrust {
  /** The keys manifests must be signed by: the root's release role, or `TRUSTED_KEYS` without a root. */
  keys: TrustedKeySet;
  /** The record's current version of `id`; undefined without a record in force (the newest stored is latest). */
  current(id: string): string | undefined;
  /** `choice` with "latest" (not asked for, not a canary's pick) replaced by the record's current version. */
  choose(id: string, requested: string | undefined, choice: VersionChoice | undefined): VersionChoice | undefined;
  /**
   * @param requested the version chosen on purpose (asked for, or a canary's pick); undefined: "latest".
   * @throws TandemError `metadata_expired`, `version_revoked`, `rollback_detected` or `manifest_signature_invalid`.
   */
  check(servable: ServableManifest, requested: string | undefined): Promise<void>;
}

/** Digests of signed payloads by envelope hash: a hot manifest is hashed once per isolate. */
const payloadDigests = new Map<string, string>();

async function payloadSha256(servable: ServableManifest): Promise<string> {
  let digest = payloadDigests.get(servable.sha256);
  if (digest === undefined) {
    const { payload } = JSON.parse(servable.text) as { payload: string };
    digest = await sha256Hex(decodeBase64(payload, 'manifest_signature_invalid'));
    if (payloadDigests.size >= 1024) payloadDigests.delete(payloadDigests.keys().next().value!);
    payloadDigests.set(servable.sha256, digest);
  }
  return digest;
}

/**
 * The manifest trust of this request.
 * @throws TandemError when `ROOT_KEYS` is set and no unexpired record is in force (trust-metadata.ts).
 */
export async function manifestTrust(c: Context<EdgeEnv>): Promise<ManifestTrust> {
  const { rootKeys, trustedKeys, tuning } = c.get('config');
  const now = Date.now();
  if (rootKeys.keys.size === 0) {
    return {
      keys: trustedKeys,
      current: () => undefined,
      choose: (_id, _requested, choice) => choice,
      // A verification is remembered (manifests.ts), so its expiry is checked again on every use.
      check: async ({ manifest }) => {
        if (manifest.expires !== undefined) assertNotExpired('manifest', modelRef(manifest), manifest.expires, Date.now());
      },
    };
  }
  const view = await trustView(c.env.MODELS, rootKeys, tuning, now);
  const { record } = timestampInForce(view, now);
  return {
    keys: view.root.keysFor('release'),
    current: (id) => record.models[id]?.current,
    choose: (id, requested, choice) => {
      const current = record.models[id]?.current;
      if (choice === undefined || requested !== undefined || choice.perClient || current === undefined) return choice;
      return { version: current, perClient: false };
    },
    check: async (servable, requested) => {
      checkManifest(
        view.state,
        record,
        { manifest: servable.manifest, payloadSha256: await payloadSha256(servable), ...(requested === undefined ? {} : { requested }) },
        Date.now(),
      );
    },
  };
}

/** Codes of manifests the catalog leaves out (and the manifest route answers with), rather than failing. */
export const REFUSED_MANIFEST_CODES: readonly string[] = [
  'manifest_signature_invalid',
  'manifest_invalid',
  'metadata_expired',
  'version_revoked',
  'rollback_detected',
];
