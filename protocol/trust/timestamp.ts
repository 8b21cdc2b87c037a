/**
 * The timestamp record: a short-lived, signed statement of what is current, by the key of the timestamp
 * role (held by the edge's deployment). It merges TUF's snapshot and timestamp roles, which Tandem's
 * few-documents repository does not need apart: for each model, the version that is current, the digest
 * of every live version's signed manifest (so nothing can mix a manifest from one release with another's
 * record), and the versions withdrawn. Its version only grows, and it expires within hours to days, so a
 * frozen edge or cache is noticed.
 */
import * as z from 'zod/mini';
import { signEnvelope, verifyEnvelope, type DsseEnvelope } from '../dsse.ts';
import type { SigningKey } from '../keys.ts';
import { assertNotExpired } from './bounds.ts';
import type { VerifiedRoot } from './root.ts';
import { parseDocument, payloadJson } from '../signed-json.ts';

export const TIMESTAMP_PAYLOAD_TYPE = 'application/vnd.tandem.timestamp+json';

const semver = z.string().check(z.regex(/^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?$/, 'a semantic version'));
const slug = z.string().check(z.regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'a model id'));

const modelEntry = z
  .strictObject({
    /** The version a client gets when it asks for none. */
    current: semver,
    /** Every live version: the SHA-256 (hex) of its signed manifest's payload bytes, and their size. */
    versions: z.record(semver, z.strictObject({ sha256: z.string().check(z.regex(/^[0-9a-f]{64}$/)), bytes: z.int().check(z.positive()) })),
    /** Versions withdrawn: never served or run again, evicted from caches. */
    revoked: z.array(semver),
  })
  .check(
    z.superRefine((m, ctx) => {
      if (!Object.hasOwn(m.versions, m.current))
        ctx.issues.push({ code: 'custom', path: ['current'], message: `current version ${m.current} is not among the versions`, input: m.current });
      for (const v of m.revoked) {
        if (Object.hasOwn(m.versions, v))
          ctx.issues.push({ code: 'custom', path: ['revoked'], message: `revoked version ${v} is still listed as live`, input: v });
      }
    }),
  );

const timestampSchema = z.strictObject({
  _type: z.literal('timestamp'),
  /** Grows by at least one on every refresh; verifiers refuse a lower one. */
  version: z.int().check(z.positive()),
  expires: z.iso.datetime(),
  /** The root version whose timestamp key signed this (informational; verification uses the root in force). */
  rootVersion: z.int().check(z.positive()),
  models: z.record(slug, modelEntry),
});

export type TimestampRecord = z.infer<typeof timestampSchema>;
export type ModelEntry = TimestampRecord['models'][string];

const encoder = new TextEncoder();

/** @throws TandemError `manifest_invalid` naming what is wrong. */
export function parseTimestamp(value: unknown): TimestampRecord {
  return parseDocument(timestampSchema, value, 'timestamp record');
}

export async function signTimestamp(record: TimestampRecord, keys: readonly SigningKey[]): Promise<DsseEnvelope> {
  return signEnvelope(TIMESTAMP_PAYLOAD_TYPE, encoder.encode(JSON.stringify(parseTimestamp(record))), keys);
}

export interface VerifiedTimestamp {
  record: TimestampRecord;
  envelope: DsseEnvelope;
}

/**
 * Verifies a timestamp record with the root's timestamp role and checks its expiry. Whether its version
 * is new enough is the verifier's own state (trust-state.ts).
 * @throws TandemError `manifest_signature_invalid`, `manifest_invalid` or `metadata_expired`.
 */
export async function verifyTimestamp(envelope: unknown, root: VerifiedRoot, now: number): Promise<VerifiedTimestamp> {
  const { payload } = await verifyEnvelope(envelope, root.keysFor('timestamp'), TIMESTAMP_PAYLOAD_TYPE);
  const json = payloadJson(payload, 'timestamp');
  const record = parseTimestamp(json);
  assertNotExpired('timestamp record', record.version, record.expires, now);
  return { record, envelope: envelope as DsseEnvelope };
}
