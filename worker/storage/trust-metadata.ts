/**
 * The edge's update metadata (protocol/trust/), read from R2 (`_trust/`, protocol/repository-layout.ts)
 * and verified before anything relies on it: root version 1 against the pinned `ROOT_KEYS`, each next
 * root against the one before, the timestamp record against the root's timestamp role. Each isolate
 * keeps what it verified (the root chain, the freshest record, the versions seen: trust-state.ts) and
 * re-reads R2 at most every `trustTtlMs`, each read within `trustReadTimeoutMs` (slow retrieval) and
 * refused by its size before a byte of it is parsed (endless data).
 *
 * A record that fails (older than one seen: rollback; expired: freeze; a bad signature, too large, too
 * slow) is refused and logged, and the last good one stays in force while it is unexpired; after that,
 * nothing that needs a record is served, and the error names why.
 */
import { TandemError, toTandemError } from '../../protocol/errors.ts';
import type { TrustedKeySet } from '../../protocol/keys.ts';
import { rootKey, TIMESTAMP_KEY } from '../../protocol/repository-layout.ts';
import { assertWithinBound, MAX_ROOT_BYTES, MAX_TIMESTAMP_BYTES } from '../../protocol/trust/bounds.ts';
import { verifyInitialRoot, verifyNextRoot, type VerifiedRoot } from '../../protocol/trust/root.ts';
import { verifyTimestamp, type TimestampRecord } from '../../protocol/trust/timestamp.ts';
import { acceptRoot, acceptTimestamp, INITIAL_TRUST_STATE, type TrustState } from '../../protocol/trust/trust-state.ts';
import type { Tuning } from '../config.ts';
import { withR2Deadline } from './r2-deadline.ts';

/** A verified timestamp record as stored: what `/v1/trust/timestamp.json` serves, byte for byte. */
export interface StoredRecord {
  record: TimestampRecord;
  text: string;
  /** When it was written to R2 (ms since the epoch). */
  uploaded: number;
  etag: string;
}

/** What one isolate has verified, for one set of pinned root keys. */
export interface TrustView {
  root: VerifiedRoot;
  /** Each verified root version's envelope as stored, by version. */
  roots: ReadonlyMap<number, string>;
  state: TrustState;
  /** The freshest verified record, even if it has expired since (`timestampInForce` checks). */
  timestamp: StoredRecord | undefined;
  /** Why the newest read was refused, when it was: the last good record (if any) stayed in force. */
  refusal: TandemError | undefined;
}

interface IsolateTrust extends TrustView {
  checkedAt: number;
  refreshing: Promise<void> | undefined;
}

/** The part of R2 read here. */
export interface MetadataStore {
  get(key: string): Promise<{ size: number; etag: string; uploaded: Date; body: ReadableStream; text(): Promise<string> } | null>;
  head(key: string): Promise<{ size: number; etag: string } | null>;
}

const isolates = new Map<string, IsolateTrust>();

function pinnedSignature(pinned: TrustedKeySet): string {
  return `${[...pinned.keys.keys()].sort().join(',')}/${pinned.threshold}`;
}

/**
 * The isolate's verified metadata for `pinned`, re-read from R2 when older than `trustTtlMs`.
 * @throws TandemError only when no root has been verified yet: `metadata_expired` (R2 holds no root),
 * `manifest_signature_invalid` (root version 1 not signed by the pinned keys), `payload_too_large`,
 * `deadline_exceeded`.
 */
export async function trustView(store: MetadataStore, pinned: TrustedKeySet, tuning: Tuning, now: number): Promise<TrustView> {
  const signature = pinnedSignature(pinned);
  let trust = isolates.get(signature);
  if (!trust) {
    const first = await readDocument(store, rootKey(1), MAX_ROOT_BYTES, 'root version 1', tuning.trustReadTimeoutMs);
    if (!first) throw new TandemError('metadata_expired', `no root of trust: the bucket holds no ${rootKey(1)} (seed the repository's _trust/)`);
    const root = await verifyInitialRoot(parseJson(first.text, 'root version 1'), pinned);
    // Bounded: a handful of pinned key sets per isolate at most (one, outside tests).
    if (isolates.size >= 8) isolates.delete(isolates.keys().next().value!);
    trust = {
      root,
      roots: new Map([[1, first.text]]),
      state: acceptRoot(INITIAL_TRUST_STATE, 1),
      timestamp: undefined,
      refusal: undefined,
      checkedAt: -Infinity,
      refreshing: undefined,
    };
    isolates.set(signature, trust);
  }
  if (now - trust.checkedAt >= tuning.trustTtlMs) {
    const current = trust;
    current.refreshing ??= refresh(store, current, tuning, now).finally(() => (current.refreshing = undefined));
    await current.refreshing;
  }
  return trust;
}

/**
 * The record in force: the freshest verified one, while it and the root are unexpired.
 * @throws TandemError `metadata_expired`, or the code of the newest refusal (`rollback_detected`, say)
 * when that is why no unexpired record is left.
 */
export function timestampInForce(view: TrustView, now: number): StoredRecord {
  const { document } = view.root;
  const record = view.timestamp?.record;
  let problem: string | undefined;
  if (Date.parse(document.expires) <= now) problem = `root ${document.version} expired at ${document.expires}`;
  else if (!record) problem = 'no timestamp record verified';
  else if (Date.parse(record.expires) <= now) problem = `timestamp record ${record.version} expired at ${record.expires}`;
  if (problem === undefined) return view.timestamp!;
  const { refusal } = view;
  if (refusal) throw new TandemError(refusal.code, `${problem}; the newest read was refused: ${refusal.code}: ${refusal.message}`);
  throw new TandemError('metadata_expired', record ? problem : `${problem}: the bucket holds no ${TIMESTAMP_KEY}`);
}

/**
 * What `/v1/edge/status` shows: null without `ROOT_KEYS`; else the pinned keys and the freshness of the
 * verified metadata (root version, the record's version, age and expiry, the last refusal), or why there is none.
 */
export async function edgeTrustStatus(store: MetadataStore, pinned: TrustedKeySet, tuning: Tuning, now: number): Promise<Record<string, unknown> | null> {
  if (pinned.keys.size === 0) return null;
  const root_keys = { keyids: [...pinned.keys.keys()], threshold: pinned.threshold };
  try {
    return { root_keys, ...trustStatus(await trustView(store, pinned, tuning, now), now) };
  } catch (err) {
    const error = toTandemError(err);
    return { root_keys, root_version: null, timestamp: null, refused: { code: error.code, reason: error.message } };
  }
}

function trustStatus(view: TrustView, now: number): Record<string, unknown> {
  const record = view.timestamp;
  return {
    root_version: view.root.document.version,
    root_expires: view.root.document.expires,
    timestamp: record
      ? {
          version: record.record.version,
          age_seconds: Math.round((now - record.uploaded) / 1000),
          expires: record.record.expires,
          expires_in_seconds: Math.round((Date.parse(record.record.expires) - now) / 1000),
          expired: Date.parse(record.record.expires) <= now,
        }
      : null,
    highest_timestamp_version_seen: view.state.timestampVersion,
    refused: view.refusal ? { code: view.refusal.code, reason: view.refusal.message } : null,
  };
}

async function refresh(store: MetadataStore, trust: IsolateTrust, tuning: Tuning, now: number): Promise<void> {
  trust.checkedAt = now;
  try {
    // Intermediate roots may have expired; the one in force is checked by `timestampInForce`.
    for (let version = trust.root.document.version + 1; ; version++) {
      const next = await readDocument(store, rootKey(version), MAX_ROOT_BYTES, `root version ${version}`, tuning.trustReadTimeoutMs);
      if (!next) break;
      const root = await verifyNextRoot(trust.root, parseJson(next.text, `root version ${version}`));
      trust.state = acceptRoot(trust.state, root.document.version);
      trust.root = root;
      (trust.roots as Map<number, string>).set(version, next.text);
    }
    const head = await withR2Deadline(store.head(TIMESTAMP_KEY), tuning.trustReadTimeoutMs, TIMESTAMP_KEY);
    if (!head) {
      // A record deleted is not a record revoked: the last good one stays until it expires.
      if (trust.timestamp) throw new TandemError('metadata_expired', `the bucket no longer holds ${TIMESTAMP_KEY}`);
    } else if (head.etag !== trust.timestamp?.etag) {
      const read = await readDocument(store, TIMESTAMP_KEY, MAX_TIMESTAMP_BYTES, 'timestamp record', tuning.trustReadTimeoutMs, head);
      if (read) {
        const { record } = await verifyTimestamp(parseJson(read.text, 'timestamp record'), trust.root, now);
        trust.state = acceptTimestamp(trust.state, record, now);
        trust.timestamp = { record, text: read.text, uploaded: read.uploaded, etag: read.etag };
      }
    }
    trust.refusal = undefined;
  } catch (err) {
    trust.refusal = toTandemError(err);
    console.log(
      JSON.stringify({
        event: 'trust_refused',
        code: trust.refusal.code,
        reason: trust.refusal.message,
        timestamp_in_force: trust.timestamp?.record.version ?? null,
      }),
    );
  }
}

/**
 * One metadata object's text, or undefined when absent: its size (from `head`, or a head request) is
 * checked before its body is asked for.
 * @throws TandemError `payload_too_large` by its size before its body is read, `deadline_exceeded` past `timeoutMs`.
 */
async function readDocument(
  store: MetadataStore,
  key: string,
  bound: number,
  what: string,
  timeoutMs: number,
  head?: { size: number } | null,
): Promise<{ text: string; uploaded: number; etag: string } | undefined> {
  const size = (head ?? (await withR2Deadline(store.head(key), timeoutMs, key)))?.size;
  if (size === undefined) return undefined;
  assertWithinBound(what, size, bound);
  const object = await withR2Deadline(store.get(key), timeoutMs, key);
  if (!object) return undefined;
  if (object.size > bound) {
    // Replaced between the head and the get: refused all the same, its body never read.
    await object.body.cancel().catch(() => undefined);
    assertWithinBound(what, object.size, bound);
  }
  const text = await withR2Deadline(object.text(), timeoutMs, key);
  assertWithinBound(what, new TextEncoder().encode(text).byteLength, bound);
  return { text, uploaded: object.uploaded.getTime(), etag: object.etag };
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new TandemError('manifest_invalid', `${what} is not JSON`, { cause });
  }
}
