/**
 * The origin's view of its repository's root of trust (protocol/trust/): the root chain verified from the
 * pinned root keys, the release keys that root names (what manifests are verified with, in place of
 * TANDEM_TRUSTED_KEYS), and the freshest verified timestamp record, with the verifier state that refuses
 * to go back (trust-state.ts). `check` says whether one model version may be served now: not expired,
 * not revoked, released with this very manifest. `refresh` re-reads the documents when their files change,
 * so a revocation or a rotation reaches a running origin.
 *
 * A record that fails (a bad signature, a version older than one seen, past its bound) is refused and
 * logged, and the last good one stays in force until it expires; then nothing is served until a fresh one
 * is written (TUF's freeze defence: an origin that cannot know what is revoked serves nothing).
 */
import { decodeBase64 } from '../../protocol/base64.ts';
import { TandemError, toTandemError } from '../../protocol/errors.ts';
import { loadTrustedKeys, type TrustedKeySet } from '../../protocol/keys.ts';
import type { Manifest } from '../../protocol/manifest.ts';
import { assertNotExpired } from '../../protocol/trust/bounds.ts';
import { parseRoot, verifyInitialRoot, verifyNextRoot, type VerifiedRoot } from '../../protocol/trust/root.ts';
import { verifyTimestamp, type TimestampRecord, type VerifiedTimestamp } from '../../protocol/trust/timestamp.ts';
import { acceptRoot, acceptTimestamp, checkManifest, INITIAL_TRUST_STATE, type TrustState } from '../../protocol/trust/trust-state.ts';
import { readRootVersion, readTimestampRecord, trustFingerprint } from './metadata-files.ts';

/** What is checked of a model version: its verified manifest and the digest of its signed payload. */
export interface Candidate {
  id: string;
  version: string;
  manifest: Manifest;
  payloadSha256: string;
}

export interface RepositoryTrustOptions {
  repository: string;
  /** The root keys this origin pins; undefined: root version 1 is trusted on first use (development only). */
  pinned: TrustedKeySet | undefined;
  now?: () => number;
  /** `trust_refused` (a document refused, with its code) and `trust_updated` (a new root or record in force). */
  onEvent?: (event: string, fields: Record<string, unknown>) => void;
}

/** What readiness and the start log show. */
export interface TrustStatus {
  root_version: number;
  root_expires: string;
  pinned: boolean;
  timestamp_version: number | null;
  timestamp_expires: string | null;
  /** Why the newest document read was refused, when it was. */
  refused: { code: string; reason: string } | null;
}

/** Refusal codes that a later root or record can lift: versions refused for these are tried again. */
export const TRUST_CODES: ReadonlySet<string> = new Set(['metadata_expired', 'version_revoked', 'rollback_detected', 'manifest_signature_invalid']);

export class RepositoryTrust {
  private state: TrustState;
  private timestamp: VerifiedTimestamp | undefined;
  private refusal: TandemError | undefined;
  private fingerprint = '';
  private refreshing: Promise<boolean> | undefined;
  private readonly now: () => number;

  private constructor(
    private readonly options: RepositoryTrustOptions,
    private root: VerifiedRoot,
  ) {
    this.now = options.now ?? Date.now;
    this.state = acceptRoot(INITIAL_TRUST_STATE, root.document.version);
  }

  /**
   * Verifies root version 1 against the pinned keys and walks the chain; undefined when the repository
   * has no root (the origin then verifies with its trusted keys, as before roots existed).
   * @throws TandemError `manifest_signature_invalid` when root version 1 is not signed by the pinned keys.
   */
  static async open(options: RepositoryTrustOptions): Promise<RepositoryTrust | undefined> {
    const first = await readRootVersion(options.repository, 1);
    if (first === undefined) return undefined;
    const root = await verifyInitialRoot(first, options.pinned ?? (await selfSignedRootKeys(first)));
    const trust = new RepositoryTrust(options, root);
    await trust.refresh(true);
    return trust;
  }

  /** The release role's keys of the root in force: what manifests must be signed by. */
  releaseKeys(): TrustedKeySet {
    return this.root.keysFor('release');
  }

  rootVersion(): number {
    return this.root.document.version;
  }

  /** The version the record in force makes current for `id`, if it names the model. */
  current(id: string): string | undefined {
    return this.timestamp?.record.models[id]?.current;
  }

  record(): TimestampRecord | undefined {
    return this.timestamp?.record;
  }

  /**
   * Re-reads the root chain and the record when their files changed (or `force`).
   * @returns whether the root or the record in force changed.
   */
  refresh(force = false): Promise<boolean> {
    this.refreshing ??= this.reread(force).finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  /**
   * Whether `candidate` may be served now.
   * @throws TandemError `metadata_expired` (root, record or manifest past its expiry, or no record),
   * `version_revoked`, `rollback_detected` (older than the record's current and no longer listed) or
   * `manifest_signature_invalid` (not released, or released with another manifest: mix-and-match).
   */
  check(candidate: Candidate): void {
    const now = this.now();
    const { document } = this.root;
    assertNotExpired('root', document.version, document.expires, now);
    if (!this.timestamp) {
      throw new TandemError(
        'metadata_expired',
        `no timestamp record verified${this.refusal ? ` (${this.refusal.code}: ${this.refusal.message})` : ' yet: the repository has a root but no release (tandem release)'}`,
      );
    }
    const { record } = this.timestamp;
    assertNotExpired('timestamp record', record.version, record.expires, now);
    checkManifest(this.state, record, { manifest: candidate.manifest, payloadSha256: candidate.payloadSha256, requested: candidate.version }, now);
  }

  status(): TrustStatus {
    const record = this.timestamp?.record;
    return {
      root_version: this.root.document.version,
      root_expires: this.root.document.expires,
      pinned: this.options.pinned !== undefined,
      timestamp_version: record?.version ?? null,
      timestamp_expires: record?.expires ?? null,
      refused: this.refusal ? { code: this.refusal.code, reason: this.refusal.message } : null,
    };
  }

  private async reread(force: boolean): Promise<boolean> {
    const { repository } = this.options;
    const fingerprint = await trustFingerprint(repository);
    if (!force && fingerprint === this.fingerprint) return false;
    this.fingerprint = fingerprint;
    const before = `${this.root.document.version}/${this.timestamp?.record.version}`;
    const now = this.now();
    this.refusal = undefined;
    try {
      // Intermediate roots may have expired; the one in force is checked in `check`.
      for (let version = this.root.document.version + 1; ; version++) {
        const envelope = await readRootVersion(repository, version);
        if (envelope === undefined) break;
        this.root = await verifyNextRoot(this.root, envelope);
        this.state = acceptRoot(this.state, this.root.document.version);
      }
      const envelope = await readTimestampRecord(repository);
      if (envelope === undefined) {
        // A record deleted is not a record revoked: the last good one stays until it expires.
        if (this.timestamp)
          throw new TandemError(
            'metadata_expired',
            `the timestamp record is gone; record ${this.timestamp.record.version} stays in force until ${this.timestamp.record.expires}`,
          );
      } else {
        const verified = await verifyTimestamp(envelope, this.root, now);
        this.state = acceptTimestamp(this.state, verified.record, now);
        this.timestamp = verified;
      }
    } catch (err) {
      this.refusal = toTandemError(err);
      this.options.onEvent?.('trust_refused', { code: this.refusal.code, reason: this.refusal.message, in_force: this.status() });
    }
    const changed = before !== `${this.root.document.version}/${this.timestamp?.record.version}`;
    if (changed) this.options.onEvent?.('trust_updated', { ...this.status() });
    return changed;
  }
}

/**
 * Trust on first use: root version 1's own root keys, read from its unverified payload. Only as good as
 * the copy of the repository it was read from; the origin does this in development only, and says so.
 */
async function selfSignedRootKeys(envelope: unknown): Promise<TrustedKeySet> {
  const payload = (envelope as { payload?: unknown } | null)?.payload;
  if (typeof payload !== 'string') throw new TandemError('manifest_signature_invalid', 'root version 1 is not a DSSE envelope');
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(decodeBase64(payload, 'manifest_signature_invalid')));
  } catch (cause) {
    throw new TandemError('manifest_invalid', 'root version 1 payload is not UTF-8 JSON', { cause });
  }
  const document = parseRoot(json);
  return loadTrustedKeys({ keys: document.roles.root.keyids.map((id) => document.keys[id]), threshold: document.roles.root.threshold });
}
