/**
 * The model's signed rollout record, checked on the device too (docs/rollout.md), so an edge cannot hand
 * an install a version the record does not roll out (a canary rolled back, a version never released):
 * part of the update framework (./trust.ts, the lazily imported trust chunk), for apps that pin `rootKeys`.
 *
 * The record comes from the edge (`GET /v1/rollout/<model>`: the record it follows, as signed) and is
 * verified as the edge verifies it (protocol/rollout/rollout-record.ts: the root's release keys, this
 * model's record, unexpired) and not older than one this install accepted (protocol/rollout/rollout-floors.ts:
 * `rollback_detected`). The last one accepted is kept per model in the trust store, with its version as the
 * floor; while the edge has none to give (404) or cannot be reached, it stays in force until it expires, as
 * at the edge. With no record in force, nothing is checked: the manifest is taken as before.
 */
import type { DsseEnvelope } from '../protocol/dsse.ts';
import { TandemError, toTandemError } from '../protocol/errors.ts';
import type { TrustedKeySet } from '../protocol/keys.ts';
import type { Manifest } from '../protocol/manifest.ts';
import { acceptRollout } from '../protocol/rollout/rollout-floors.ts';
import { MAX_ROLLOUT_BYTES, verifyRollout, type RolloutRecord } from '../protocol/rollout/rollout-record.ts';
import { type DocumentSource, fetchDocument } from './core/fetch-document.ts';
import type { KeyValueStore, Warn } from './core/store.ts';

export interface RolloutCheckDeps extends DocumentSource {
  /** The edge's base URL, without a trailing slash. */
  edge: string;
  /** The trust store; failures must read as misses (a `forgivingStore`). */
  store: KeyValueStore<unknown>;
  /** Wall-clock time, ms since the epoch. */
  now: () => number;
  warn: Warn;
}

/** What an install keeps of a model's rollout record: the last accepted, as signed; its version is the floor. */
export interface StoredRollout {
  /** The pinned root keys it was accepted under (`pinsId`): other pins start afresh. */
  pins: string;
  version: number;
  envelope: DsseEnvelope;
}

/** The trust store key of `model`'s record. */
export const rolloutStoreKey = (model: string): string => `rollout:${model}`;

function parseStored(value: unknown, pins: string): StoredRollout | undefined {
  const v = value as Partial<StoredRollout> | undefined;
  const ok = typeof v === 'object' && v !== null && v.pins === pins && Number.isInteger(v.version) && typeof v.envelope === 'object' && v.envelope !== null;
  return ok ? (v as StoredRollout) : undefined;
}

/**
 * The record of `model` in force for this install, or undefined when there is none (today's behaviour).
 * @param offline the edge was out of reach a moment ago: the stored record only.
 * @throws TandemError `rollback_detected`, `manifest_signature_invalid`, `manifest_invalid`,
 *   `payload_too_large`, `deadline_exceeded`, or the edge's error other than an unreachable edge.
 */
export async function rolloutInForce(
  deps: RolloutCheckDeps,
  keys: TrustedKeySet,
  pins: string,
  model: string,
  offline: boolean,
): Promise<RolloutRecord | undefined> {
  const key = rolloutStoreKey(model);
  const stored = parseStored(await deps.store.get(key), pins);
  let fetched: unknown;
  if (!offline) {
    try {
      fetched = await fetchDocument(`${deps.edge}/v1/rollout/${encodeURIComponent(model)}`, deps, {
        bound: MAX_ROLLOUT_BYTES,
        what: `rollout record of ${model}`,
      });
    } catch (err) {
      const e = toTandemError(err);
      if (e.code !== 'offline' && e.code !== 'origin_unavailable') throw e;
    }
  }
  const now = deps.now();
  if (fetched !== undefined) {
    let record: RolloutRecord | undefined;
    try {
      record = (await verifyRollout(fetched, keys, now, model)).record;
    } catch (err) {
      // Expired: not in force, at the edge as here (the edge then follows no record either).
      if (toTandemError(err).code !== 'metadata_expired') throw err;
      deps.warn(`the edge's rollout record of ${model} has expired: it is not in force`, err);
    }
    if (record) {
      acceptRollout(stored ? { [model]: stored.version } : {}, record);
      if (!stored || record.version > stored.version) await deps.store.set(key, { pins, version: record.version, envelope: fetched as DsseEnvelope });
      return record;
    }
  }
  if (!stored) return undefined;
  try {
    return (await verifyRollout(stored.envelope, keys, now, model)).record;
  } catch (err) {
    // Expired, or signed by release keys the root has since replaced: no longer in force.
    deps.warn(`the stored rollout record ${stored.version} of ${model} is no longer in force`, err);
    return undefined;
  }
}

/**
 * Refuses a manifest of a version the rollout record in force gives no weight to; without a record, passes.
 * @throws TandemError `version_not_in_rollout`, or `rolloutInForce`'s errors.
 * @example
 * await checkRollout(deps, view.releaseKeys, pinsId(pinned), manifest, view.offline !== undefined);
 */
export async function checkRollout(deps: RolloutCheckDeps, keys: TrustedKeySet, pins: string, manifest: Manifest, offline: boolean): Promise<void> {
  const record = await rolloutInForce(deps, keys, pins, manifest.id, offline);
  if (!record || (record.weights[manifest.version] ?? 0) > 0) return;
  const weights = Object.entries(record.weights)
    .map(([v, w]) => `${v}=${w}`)
    .join(', ');
  throw new TandemError(
    'version_not_in_rollout',
    `the edge sent ${manifest.id}@${manifest.version}, which rollout record ${record.version} of ${manifest.id} gives no weight (${weights})`,
  );
}
