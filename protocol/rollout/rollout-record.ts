/**
 * The rollout record: a signed statement, per model, of which versions clients get and in what shares,
 * with the thresholds past which the edge takes the canary's share away by itself. It replaces the
 * edge's `CANARY` variable (config anyone with deploy rights could edit, that no device could check)
 * with a DSSE envelope signed by the release keys, so the edge and the SDK verify what they follow.
 *
 * Like the timestamp record (trust/timestamp.ts) its `version` only grows (a verifier refuses an older
 * one: rollout-floors.ts) and it expires, so a frozen store is noticed. One record per model, stored at
 * `_rollout/<model>.dsse.json` (repository-layout.ts).
 */
import * as z from 'zod/mini';
import { signEnvelope, verifyEnvelope, type DsseEnvelope } from '../dsse.ts';
import { TandemError } from '../errors.ts';
import type { SigningKey, TrustedKeySet } from '../keys.ts';
import { MODEL_ID_PATTERN, VERSION_PATTERN } from '../manifest.ts';
import { assertNotExpired } from '../trust/bounds.ts';
import { parseDocument, payloadJson } from '../signed-json.ts';

export const ROLLOUT_PAYLOAD_TYPE = 'application/vnd.tandem.rollout+json';

/** The largest rollout record a verifier reads: 16 KiB (a record names a few versions), checked before parsing. */
export const MAX_ROLLOUT_BYTES = 16 * 1024;

/** At most this many versions share a model's traffic. */
export const MAX_ROLLOUT_VERSIONS = 16;

/** How far a weight total may be from 100 or 1 (floating point: 0.7 + 0.2 + 0.1 is not 1). */
const SUM_TOLERANCE = 1e-6;

const semver = z.string().check(z.regex(VERSION_PATTERN, 'a semantic version'));
const share = z.number().check(z.gte(0, 'a weight must be >= 0'));
const fraction = z.number().check(z.gte(0), z.lte(1));

const thresholds = z.strictObject({
  /** The canary's share goes to 0 when more than this fraction of its runs fail. */
  maxErrorRate: fraction,
  /** ... or when the median top-class confidence of its runs falls below this. */
  minMedianConfidence: fraction,
  /** Runs of the canary seen before either threshold is judged. */
  minSamples: z.int().check(z.positive()),
});

const rolloutSchema = z
  .strictObject({
    _type: z.literal('rollout'),
    model: z.string().check(z.regex(MODEL_ID_PATTERN, 'a model id')),
    /** Grows by at least one on every change; verifiers refuse a lower one. */
    version: z.int().check(z.positive()),
    expires: z.iso.datetime(),
    /** The version whose share grows when another cannot have its own (not ready on every origin, rolled back). */
    stable: semver,
    /** Version -> weight; the weights sum to 100 (percent) or to 1. */
    weights: z.record(semver, share),
    /** Automatic rollback of the canary versions (every version but `stable` with weight). */
    rollback: thresholds,
  })
  .check(
    z.superRefine((r, ctx) => {
      const entries = Object.entries(r.weights);
      if (entries.length === 0) ctx.issues.push({ code: 'custom', path: ['weights'], message: 'at least one version', input: r.weights });
      if (entries.length > MAX_ROLLOUT_VERSIONS)
        ctx.issues.push({ code: 'custom', path: ['weights'], message: `at most ${MAX_ROLLOUT_VERSIONS} versions`, input: r.weights });
      if (!Object.hasOwn(r.weights, r.stable))
        ctx.issues.push({ code: 'custom', path: ['stable'], message: `stable version ${r.stable} is not among the weights`, input: r.stable });
      const sum = entries.reduce((total, [, w]) => total + w, 0);
      if (entries.length > 0 && Math.abs(sum - 100) > SUM_TOLERANCE && Math.abs(sum - 1) > SUM_TOLERANCE)
        ctx.issues.push({ code: 'custom', path: ['weights'], message: `weights sum to ${sum}, not 100 or 1`, input: r.weights });
    }),
  );

export type RolloutRecord = z.infer<typeof rolloutSchema>;
export type RollbackThresholds = RolloutRecord['rollback'];

const encoder = new TextEncoder();

/**
 * @throws TandemError `manifest_invalid` naming every problem (weights that do not sum to 100 or 1, a
 * negative weight, a stable version without a weight, a bad version or model id, unknown fields).
 */
export function parseRollout(value: unknown): RolloutRecord {
  return parseDocument(rolloutSchema, value, 'rollout record');
}

/**
 * Each version's share in percent (summing to 100), in the record's order, whichever scale it was written in.
 * @example
 * percentShares(record); // { '1.0.0': 90, '1.1.0': 10 } for weights { '1.0.0': 0.9, '1.1.0': 0.1 }
 */
export function percentShares(record: RolloutRecord): Record<string, number> {
  const total = Object.values(record.weights).reduce((sum, w) => sum + w, 0);
  return Object.fromEntries(Object.entries(record.weights).map(([v, w]) => [v, (w / total) * 100]));
}

/** The canary versions: every version with weight but the stable one. */
export function canaryVersions(record: RolloutRecord): string[] {
  return Object.entries(record.weights)
    .filter(([v, w]) => v !== record.stable && w > 0)
    .map(([v]) => v);
}

/**
 * Validates, then signs with every key given (the release keys).
 * @example
 * const envelope = await signRollout(record, [releaseKey]);
 */
export async function signRollout(record: RolloutRecord, keys: readonly SigningKey[]): Promise<DsseEnvelope> {
  return signEnvelope(ROLLOUT_PAYLOAD_TYPE, encoder.encode(JSON.stringify(parseRollout(record))), keys);
}

export interface VerifiedRollout {
  record: RolloutRecord;
  /** Trusted keys that signed it. */
  keyids: string[];
}

/**
 * Verifies a rollout record: signature first (nothing untrusted is parsed), then its schema, that it is
 * the record of `model` when given (a record copied to another model's key is refused), and its expiry.
 * Whether its version is new enough is the verifier's own state (`acceptRollout`).
 * @param keys the release keys: the root's release role, or the trusted keys without a root.
 * @throws TandemError `manifest_signature_invalid` (bad envelope, signature, wrong key, another model's
 * record), `manifest_invalid` (signed but not a valid record) or `metadata_expired`.
 */
export async function verifyRollout(envelope: unknown, keys: TrustedKeySet, now: number, model?: string): Promise<VerifiedRollout> {
  const { payload, keyids } = await verifyEnvelope(envelope, keys, ROLLOUT_PAYLOAD_TYPE);
  const json = payloadJson(payload, 'rollout');
  const record = parseRollout(json);
  if (model !== undefined && record.model !== model) {
    throw new TandemError('manifest_signature_invalid', `the rollout record of ${record.model} was found where ${model}'s belongs`);
  }
  assertNotExpired(`rollout record of ${record.model}`, record.version, record.expires, now);
  return { record, keyids };
}
