/**
 * The rollout record of a model in R2 (`_rollout/<model>.dsse.json`, protocol/repository-layout.ts),
 * verified before the edge follows it: signed by the release keys (the root's release role with
 * `ROOT_KEYS`, else `TRUSTED_KEYS`), the record of this very model, unexpired, and not older than one
 * this isolate has seen (protocol/rollout/rollout-floors.ts). Each isolate re-reads R2 at most every
 * `trustTtlMs`, each read within `trustReadTimeoutMs`, the object's size checked before its body is read.
 *
 * A record that fails is refused and logged (`rollout_refused`), and the last good one stays in force
 * while it is unexpired, as with the timestamp record; a record deleted from R2 likewise (a record is
 * replaced by a newer one, never removed, or an attacker with write access could bring back an old split).
 */
import { TandemError, toTandemError } from '../../protocol/errors.ts';
import type { TrustedKeySet } from '../../protocol/keys.ts';
import { rolloutKey } from '../../protocol/repository-layout.ts';
import { acceptRollout, type RolloutFloors } from '../../protocol/rollout/rollout-floors.ts';
import { MAX_ROLLOUT_BYTES, verifyRollout, type RolloutRecord } from '../../protocol/rollout/rollout-record.ts';
import { assertWithinBound } from '../../protocol/trust/bounds.ts';
import type { Tuning } from '../config.ts';
import type { MetadataStore } from './trust-metadata.ts';
import { withR2Deadline } from './r2-deadline.ts';

export interface RolloutInForce {
  /** The verified record in force; undefined when none was ever verified, or the last one expired. */
  record: RolloutRecord | undefined;
  /** `record`'s envelope as stored (the JSON text): what `GET /v1/rollout/<model>` serves for clients to verify. */
  envelope?: string | undefined;
  /** Why the newest read was refused (the last good record, if any, stayed in force). */
  refusal: TandemError | undefined;
  /** Whether R2 held a record at the last read. */
  stored: boolean;
}

interface ModelEntry {
  record: RolloutRecord | undefined;
  text: string | undefined;
  etag: string | undefined;
  refusal: TandemError | undefined;
  stored: boolean;
  checkedAt: number;
  refreshing: Promise<void> | undefined;
}

/** Per isolate: the record of each model (per set of release keys), and the highest record version seen. */
const entries = new Map<string, ModelEntry>();
let floors: RolloutFloors = {};

function keySignature(keys: TrustedKeySet): string {
  return `${[...keys.keys.keys()].sort().join(',')}/${keys.threshold}`;
}

/**
 * The verified record of `model` in force, re-read from R2 when older than `trustTtlMs`. Never throws for
 * a bad or missing record: it reports it in `refusal` and keeps the last good one.
 */
export async function rolloutInForce(store: MetadataStore, model: string, keys: TrustedKeySet, tuning: Tuning, now: number): Promise<RolloutInForce> {
  const id = `${keySignature(keys)}\u0000${model}`;
  let entry = entries.get(id);
  if (!entry) {
    // Bounded: one entry per model the edge serves (a handful), a hostile model name never reaches here
    // (the route checks it first).
    if (entries.size >= 1024) entries.delete(entries.keys().next().value!);
    entry = { record: undefined, text: undefined, etag: undefined, refusal: undefined, stored: false, checkedAt: -Infinity, refreshing: undefined };
    entries.set(id, entry);
  }
  if (now - entry.checkedAt >= tuning.trustTtlMs) {
    const current = entry;
    current.refreshing ??= refresh(store, model, keys, current, tuning, now).finally(() => (current.refreshing = undefined));
    await current.refreshing;
  }
  const record = entry.record && Date.parse(entry.record.expires) > now ? entry.record : undefined;
  const refusal =
    entry.record && !record
      ? (entry.refusal ?? new TandemError('metadata_expired', `rollout record ${entry.record.version} of ${model} expired at ${entry.record.expires}`))
      : entry.refusal;
  return { record, envelope: record && entry.text, refusal, stored: entry.stored };
}

async function refresh(store: MetadataStore, model: string, keys: TrustedKeySet, entry: ModelEntry, tuning: Tuning, now: number): Promise<void> {
  entry.checkedAt = now;
  const key = rolloutKey(model);
  try {
    const head = await withR2Deadline(store.head(key), tuning.trustReadTimeoutMs, key);
    entry.stored = head !== null;
    if (!head) {
      if (entry.record) throw new TandemError('metadata_expired', `the bucket no longer holds ${key}: the last record stays in force until it expires`);
    } else if (head.etag !== entry.etag) {
      assertWithinBound(`rollout record of ${model}`, head.size, MAX_ROLLOUT_BYTES);
      const object = await withR2Deadline(store.get(key), tuning.trustReadTimeoutMs, key);
      if (object) {
        if (object.size > MAX_ROLLOUT_BYTES) {
          await object.body.cancel().catch(() => undefined);
          assertWithinBound(`rollout record of ${model}`, object.size, MAX_ROLLOUT_BYTES);
        }
        const text = await withR2Deadline(object.text(), tuning.trustReadTimeoutMs, key);
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch (cause) {
          throw new TandemError('manifest_invalid', `${key} is not JSON`, { cause });
        }
        const { record } = await verifyRollout(json, keys, now, model);
        floors = acceptRollout(floors, record);
        entry.record = record;
        entry.text = text;
        entry.etag = object.etag;
      }
    }
    entry.refusal = undefined;
  } catch (err) {
    const previous = entry.refusal;
    entry.refusal = toTandemError(err);
    // Logged once per distinct refusal, not on every re-read of the same bad object.
    if (previous?.code === entry.refusal.code && previous.message === entry.refusal.message) return;
    console.log(
      JSON.stringify({
        event: 'rollout_refused',
        model,
        code: entry.refusal.code,
        reason: entry.refusal.message,
        record_in_force: entry.record?.version ?? null,
      }),
    );
  }
}

/** Forgets what this isolate verified (tests). */
export function resetRolloutRecords(): void {
  entries.clear();
  floors = {};
}
