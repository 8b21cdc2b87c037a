/**
 * The root of trust, as TUF has it: a signed document naming the keys of each role and how many of them
 * must sign (the threshold), with its own version and expiry. Apps pin only the root role's keys; every
 * other key (the release keys that sign manifests, the timestamp key the edge's deployment holds) is
 * learnt from a root document those keys signed, so rotating any key is a new root version, not a new app.
 *
 * A root version n+1 is accepted only when signed by a threshold of version n's root keys AND a threshold
 * of its own root keys (TUF 5.3.4), and only as n+1: versions never skip or go back.
 */
import * as z from 'zod/mini';
import { signEnvelope, verifyEnvelope, type DsseEnvelope } from '../dsse.ts';
import { TandemError } from '../errors.ts';
import { assertNotExpired } from './bounds.ts';
import { importPublicKey, type PublicKeyRecord, type SigningKey, type TrustedKey, type TrustedKeySet } from '../keys.ts';
import { parseDocument, payloadJson } from '../signed-json.ts';

export const ROOT_PAYLOAD_TYPE = 'application/vnd.tandem.root+json';

/** The roles of Tandem's update framework. */
export const ROLES = ['root', 'release', 'timestamp'] as const;
export type Role = (typeof ROLES)[number];

const keyid = z.string().check(z.regex(/^[0-9a-f]{64}$/, 'a keyid: 64 lowercase hex digits'));
const roleKeys = z.strictObject({
  keyids: z.array(keyid).check(z.minLength(1)),
  threshold: z.int().check(z.positive()),
});
const publicKey = z.strictObject({
  keyid,
  algorithm: z.enum(['Ed25519', 'ECDSA-P256']),
  publicKey: z.string().check(z.minLength(1)),
});

const rootSchema = z
  .strictObject({
    _type: z.literal('root'),
    version: z.int().check(z.positive()),
    expires: z.iso.datetime(),
    keys: z.record(keyid, publicKey),
    roles: z.strictObject({ root: roleKeys, release: roleKeys, timestamp: roleKeys }),
  })
  .check(
    z.superRefine((root, ctx) => {
      for (const role of ROLES) {
        const { keyids, threshold } = root.roles[role];
        for (const id of keyids) {
          if (!Object.hasOwn(root.keys, id))
            ctx.issues.push({ code: 'custom', path: ['roles', role, 'keyids'], message: `key ${id.slice(0, 12)} is not in keys`, input: id });
        }
        if (new Set(keyids).size !== keyids.length)
          ctx.issues.push({ code: 'custom', path: ['roles', role, 'keyids'], message: 'duplicate keyid', input: keyids });
        if (threshold > keyids.length)
          ctx.issues.push({
            code: 'custom',
            path: ['roles', role, 'threshold'],
            message: `threshold ${threshold} is more than the role's ${keyids.length} keys`,
            input: threshold,
          });
      }
      for (const [id, record] of Object.entries(root.keys)) {
        if (record.keyid !== id) ctx.issues.push({ code: 'custom', path: ['keys', id], message: 'the record names another keyid', input: record.keyid });
      }
    }),
  );

export type RootDocument = z.infer<typeof rootSchema>;

/** A root document whose signatures have been checked, with its roles' keys imported once. */
export interface VerifiedRoot {
  document: RootDocument;
  /** The exact signed bytes, for storage: re-verifying them later needs nothing else. */
  envelope: DsseEnvelope;
  /** A verifier's key set for a role of this root. */
  keysFor(role: Role): TrustedKeySet;
}

const encoder = new TextEncoder();

/** @throws TandemError `manifest_invalid` naming what is wrong. */
export function parseRoot(value: unknown): RootDocument {
  return parseDocument(rootSchema, value, 'root document');
}

/** Signs a root document; `keys` must include a threshold of its root role (and, on rotation, of the previous one's). */
export async function signRoot(document: RootDocument, keys: readonly SigningKey[]): Promise<DsseEnvelope> {
  return signEnvelope(ROOT_PAYLOAD_TYPE, encoder.encode(JSON.stringify(parseRoot(document))), keys);
}

/**
 * Verifies the first root an app sees against the root keys it pins.
 * @param pinned the root role's keys and threshold, as bundled with the app.
 */
export async function verifyInitialRoot(envelope: unknown, pinned: TrustedKeySet): Promise<VerifiedRoot> {
  const { payload } = await verifyEnvelope(envelope, pinned, ROOT_PAYLOAD_TYPE);
  const root = await rootFrom(envelope as DsseEnvelope, payload);
  // The pinned keys must be this root's own root keys: a root the pinned keys signed but that hands the
  // root role to other keys is a rotation, which must come as version n+1 of a root the app trusts.
  await verifyEnvelope(envelope, root.keysFor('root'), ROOT_PAYLOAD_TYPE);
  return root;
}

/**
 * Verifies root version n+1 against the trusted version n.
 * @throws TandemError `rollback_detected` for any version but n+1, `manifest_signature_invalid` unless a
 * threshold of both the old and the new root keys signed it.
 */
export async function verifyNextRoot(trusted: VerifiedRoot, envelope: unknown): Promise<VerifiedRoot> {
  const { payload } = await verifyEnvelope(envelope, trusted.keysFor('root'), ROOT_PAYLOAD_TYPE);
  const next = await rootFrom(envelope as DsseEnvelope, payload);
  if (next.document.version !== trusted.document.version + 1) {
    throw new TandemError('rollback_detected', `root version ${next.document.version} does not follow the trusted version ${trusted.document.version}`);
  }
  await verifyEnvelope(envelope, next.keysFor('root'), ROOT_PAYLOAD_TYPE);
  return next;
}

/**
 * Walks the root chain from `trusted` as far as `fetchVersion` finds versions, then checks the newest
 * is not expired (TUF 5.3: intermediate roots may have expired; the one in force may not).
 * @param fetchVersion the envelope of root version n, or undefined when there is none (yet).
 */
export async function updateRoot(
  trusted: VerifiedRoot,
  fetchVersion: (version: number) => Promise<unknown>,
  now: number,
  maxSteps = 1024,
): Promise<VerifiedRoot> {
  let current = trusted;
  for (let step = 0; step < maxSteps; step++) {
    const envelope = await fetchVersion(current.document.version + 1);
    if (envelope === undefined) break;
    current = await verifyNextRoot(current, envelope);
  }
  assertNotExpired('root', current.document.version, current.document.expires, now);
  return current;
}

async function rootFrom(envelope: DsseEnvelope, payload: Uint8Array): Promise<VerifiedRoot> {
  const json = payloadJson(payload, 'root');
  const document = parseRoot(json);
  const imported = new Map<string, TrustedKey>();
  for (const [id, record] of Object.entries(document.keys)) imported.set(id, await importPublicKey(record satisfies PublicKeyRecord));
  const sets = new Map<Role, TrustedKeySet>();
  for (const role of ROLES) {
    const { keyids, threshold } = document.roles[role];
    sets.set(role, { keys: new Map(keyids.map((id) => [id, imported.get(id)!])), threshold });
  }
  return { document, envelope, keysFor: (role) => sets.get(role)! };
}
