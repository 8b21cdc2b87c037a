/**
 * The update framework on the device (docs/security.md), when the app pins `rootKeys`: at each contact
 * with the edge, the root chain is walked from the highest root this install verified (or from version 1
 * with the pinned keys), the timestamp record is fetched, verified with the root's timestamp role and
 * taken only if it is not older than one seen and not expired; the release keys that verify manifests are
 * the root's. What was accepted is kept in IndexedDB (one value: root, record and floors together), so a
 * reload cannot be rolled back either. Revocations new in a record are evicted from the caches at once.
 *
 * The model's signed rollout record is checked here too (./rollout-check.ts), its floor kept in the same store.
 *
 * When the edge cannot be reached, the stored record stands in for `offlineMaxAgeMs` after the last fresh
 * one, then the SDK refuses (`metadata_expired`). Any other failure (a forged, old, expired, oversized or
 * too slow document) refuses the load with its code and changes nothing kept.
 */
import { decodeBase64 } from '../protocol/base64.ts';
import { verifyEnvelope } from '../protocol/dsse.ts';
import { TandemError, toTandemError } from '../protocol/errors.ts';
import { loadTrustedKeys, type TrustedKeySet } from '../protocol/keys.ts';
import type { Manifest } from '../protocol/manifest.ts';
import { sha256Hex } from '../protocol/sha256.ts';
import { MAX_ROOT_BYTES, MAX_TIMESTAMP_BYTES } from '../protocol/trust/bounds.ts';
import { parseRoot, updateRoot, verifyInitialRoot, type VerifiedRoot } from '../protocol/trust/root.ts';
import { parseTimestamp, TIMESTAMP_PAYLOAD_TYPE, verifyTimestamp, type TimestampRecord } from '../protocol/trust/timestamp.ts';
import { acceptRoot, acceptTimestamp, assertFreshEnough, checkManifest, INITIAL_TRUST_STATE, type TrustState } from '../protocol/trust/trust-state.ts';
import { type DocumentSource, fetchDocument } from './core/fetch-document.ts';
import { checkRollout } from './rollout-check.ts';
import type { KeyValueStore, Warn } from './core/store.ts';
import { newlyRevoked, parseStoredTrust, pinsId, requestedVersion, TRUST_KEY, type StoredTrust } from './core/trust-rules.ts';

export interface TrustDeps extends DocumentSource {
  /** The edge's base URL, without a trailing slash. */
  edge: string;
  /** The pinned root keys. */
  rootKeys: Promise<TrustedKeySet>;
  /** Where the install's trust is kept; failures must read as misses (a `forgivingStore`). */
  store: KeyValueStore<unknown>;
  offlineMaxAgeMs: number;
  /** Wall-clock time, ms since the epoch. */
  now: () => number;
  /** Evicts versions a record newly revokes from every cache. */
  evict: (modelId: string, versions: string[]) => Promise<void>;
  warn: Warn;
}

/** What one contact established. */
export interface TrustView {
  /** The release role's keys of the root in force: the only keys manifests verify with. */
  releaseKeys: TrustedKeySet;
  /** The freshest verified record: from the edge now, or the stored one when the edge was unreachable. */
  record: TimestampRecord;
  state: TrustState;
  /** Why the edge could not be asked (the record is the stored one); undefined when it is fresh. */
  offline: TandemError | undefined;
}

export interface Trust {
  /**
   * Walks the root chain and takes the edge's record (shared by concurrent callers), or, with the edge
   * unreachable, the stored record within `offlineMaxAgeMs`.
   * @throws TandemError `rollback_detected`, `metadata_expired`, `manifest_signature_invalid`,
   *   `manifest_invalid`, `payload_too_large`, `deadline_exceeded`, or the network's error when nothing is stored.
   */
  contact(): Promise<TrustView>;
  /**
   * Checks a verified manifest against the view: unexpired, not revoked, named by the record with this
   * payload's digest, and the record's current version unless the edge picked a newer one on purpose; and,
   * for a version the edge chose (`requested` undefined), one the model's signed rollout record gives
   * weight to, when it has one (./rollout-check.ts).
   * @throws TandemError `metadata_expired`, `version_revoked`, `rollback_detected`, `manifest_signature_invalid`
   *   or `version_not_in_rollout`.
   */
  check(view: TrustView, manifest: Manifest, payload: Uint8Array, requested?: string): Promise<void>;
  /** Whether the freshest record this SDK holds revokes `id@version`. */
  revoked(id: string, version: string): boolean;
}

const decoder = new TextDecoder();

/**
 * @example
 * const trust = createTrust({ edge, fetch, headers, rootKeys: loadTrustedKeys(config.rootKeys), store, online, retry, timeoutMs: 30_000, offlineMaxAgeMs: DEFAULT_OFFLINE_MAX_AGE_MS, now: Date.now, evict, warn });
 * const view = await trust.contact();
 */
export function createTrust(deps: TrustDeps): Trust {
  let latest: TimestampRecord | undefined;
  let inFlight: Promise<TrustView> | undefined;
  /** The last root revived from the store, by its signed payload: verified once per page. */
  let revived: { payload: string; root: Promise<VerifiedRoot> } | undefined;

  const fetchJson = async (path: string, bound: number, what: string) => fetchDocument(`${deps.edge}/v1/trust/${path}`, deps, { bound, what });
  const fetchRoot = (version: number) => fetchJson(`root/${version}.json`, MAX_ROOT_BYTES, `root version ${version}`);
  const required = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new TandemError('not_found', `the edge serves no ${what}: rootKeys needs an edge with a root of trust (ROOT_KEYS)`);
    return value;
  };

  /**
   * A stored root, checked against its own root keys: the store is the app origin's own (whoever can
   * write it can run script in the page), so this catches corruption; where it came from, the pins say.
   */
  const reviveRoot = (envelope: StoredTrust['root']): Promise<VerifiedRoot> => {
    if (revived?.payload !== envelope.payload) {
      const root = (async () => {
        const document = parseRoot(JSON.parse(decoder.decode(decodeBase64(envelope.payload, 'manifest_invalid'))));
        const { keyids, threshold } = document.roles.root;
        return verifyInitialRoot(
          envelope,
          await loadTrustedKeys(
            keyids.map((id) => document.keys[id]),
            threshold,
          ),
        );
      })();
      revived = { payload: envelope.payload, root };
      root.catch(() => (revived = undefined));
    }
    return revived.root;
  };

  /** A stored record, verified with the root it was accepted under; its expiry is the caller's business. */
  const readRecord = async (envelope: unknown, root: VerifiedRoot): Promise<TimestampRecord> => {
    const { payload } = await verifyEnvelope(envelope, root.keysFor('timestamp'), TIMESTAMP_PAYLOAD_TYPE);
    return parseTimestamp(JSON.parse(decoder.decode(payload)));
  };

  /** Keeps what was accepted, unless another tab of the app meanwhile kept a newer record. */
  const save = async (next: StoredTrust) => {
    const kept = parseStoredTrust(await deps.store.get(TRUST_KEY), next.pins);
    if (kept && kept.state.timestampVersion > next.state.timestampVersion) return;
    await deps.store.set(TRUST_KEY, next);
  };

  async function contact(): Promise<TrustView> {
    const pinned = await deps.rootKeys;
    const pins = pinsId(pinned);
    const now = deps.now();
    let stored = parseStoredTrust(await deps.store.get(TRUST_KEY), pins);
    let trusted: VerifiedRoot | undefined;
    if (stored) {
      try {
        trusted = await reviveRoot(stored.root);
      } catch (err) {
        deps.warn('the stored root of trust does not verify; starting over from root version 1', err);
        stored = undefined;
      }
    }
    let state = stored?.state ?? INITIAL_TRUST_STATE;
    try {
      let root = trusted ?? (await verifyInitialRoot(required(await fetchRoot(1), 'root version 1'), pinned));
      root = await updateRoot(root, fetchRoot, now);
      state = acceptRoot(state, root.document.version);
      const envelope = required(await fetchJson('timestamp.json', MAX_TIMESTAMP_BYTES, 'timestamp record'), 'timestamp record');
      const { record } = await verifyTimestamp(envelope, root, now);
      state = acceptTimestamp(state, record, now);
      const previous = stored && trusted ? await readRecord(stored.timestamp, trusted).catch(() => undefined) : undefined;
      await save({ pins, root: root.envelope, timestamp: envelope as StoredTrust['timestamp'], state });
      latest = record;
      for (const [id, versions] of newlyRevoked(record, previous)) {
        await deps.evict(id, versions).catch((err: unknown) => deps.warn(`evicting revoked ${id} ${versions.join(', ')} failed`, err));
      }
      return { releaseKeys: root.keysFor('release'), record, state, offline: undefined };
    } catch (err) {
      const error = toTandemError(err);
      if (!stored || !trusted || (error.code !== 'offline' && error.code !== 'origin_unavailable')) throw error;
      // The edge is out of reach: what this install last verified stands in, for a while.
      assertFreshEnough(stored.state, now, deps.offlineMaxAgeMs);
      const record = await readRecord(stored.timestamp, trusted);
      latest ??= record;
      return { releaseKeys: trusted.keysFor('release'), record, state: stored.state, offline: error };
    }
  }

  return {
    contact: () => (inFlight ??= contact().finally(() => (inFlight = undefined))),
    async check(view, manifest, payload, asked) {
      // A version the app asked for by name is checked as asked for (live, this digest, not revoked).
      const requested = asked ?? requestedVersion(view.record, manifest);
      checkManifest(view.state, view.record, { manifest, payloadSha256: await sha256Hex(payload), ...(requested ? { requested } : {}) }, deps.now());
      // The version the edge chose (none asked for by name) must be one the signed rollout record rolls out.
      if (asked === undefined) await checkRollout(deps, view.releaseKeys, pinsId(await deps.rootKeys), manifest, view.offline !== undefined);
    },
    revoked: (id, version) => latest?.models[id]?.revoked.includes(version) ?? false,
  };
}
