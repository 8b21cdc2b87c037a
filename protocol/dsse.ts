/**
 * DSSE (Dead Simple Signing Envelope) v1, the signature container of in-toto and OpenSSF model signing.
 *
 * Signatures cover the pre-authentication encoding PAE(payloadType, payload) of the exact payload bytes,
 * so no JSON canonicalisation is needed and the payload type can't be swapped. Spec:
 * https://github.com/secure-systems-lab/dsse/blob/master/envelope.md
 *
 * Stricter than the spec in two places, on purpose: base64 must be canonical standard base64 (the spec
 * also allows URL-safe), and every signature must name a `keyid`; a verifier only counts signatures whose
 * keyid is in its trusted set. Both make any edit to an envelope field fail verification.
 */
import { decodeBase64, encodeBase64 } from './base64.ts';
import { TandemError } from './errors.ts';
import { SIGN_PARAMS, type SigningKey, type TrustedKey, type TrustedKeySet } from './keys.ts';

export interface DsseSignature {
  keyid: string;
  sig: string;
}

export interface DsseEnvelope {
  payloadType: string;
  /** base64 of the payload bytes. */
  payload: string;
  signatures: DsseSignature[];
}

export interface VerifiedPayload {
  payloadType: string;
  payload: Uint8Array;
  /** The trusted keys whose signatures verified. */
  keyids: string[];
}

const encoder = new TextEncoder();

/** PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body, LEN in ASCII decimal bytes. */
export function preAuthEncoding(payloadType: string, payload: Uint8Array): Uint8Array<ArrayBuffer> {
  const type = encoder.encode(payloadType);
  const head = encoder.encode(`DSSEv1 ${type.length} `);
  const middle = encoder.encode(` ${payload.length} `);
  const out = new Uint8Array(head.length + type.length + middle.length + payload.length);
  out.set(head, 0);
  out.set(type, head.length);
  out.set(middle, head.length + type.length);
  out.set(payload, head.length + type.length + middle.length);
  return out;
}

/**
 * Signs `payload` with every key given.
 * @example
 * const envelope = await signEnvelope('application/vnd.tandem.manifest+json', bytes, [key]);
 */
export async function signEnvelope(payloadType: string, payload: Uint8Array, keys: readonly SigningKey[]): Promise<DsseEnvelope> {
  if (keys.length === 0) throw new TandemError('key_invalid', 'at least one signing key is needed');
  const pae = preAuthEncoding(payloadType, payload);
  const signatures: DsseSignature[] = [];
  for (const key of keys) {
    const sig = new Uint8Array(await crypto.subtle.sign(SIGN_PARAMS[key.algorithm], key.privateKey, pae));
    signatures.push({ keyid: key.keyid, sig: encodeBase64(sig) });
  }
  return { payloadType, payload: encodeBase64(payload), signatures };
}

/** Checks an unknown value has the envelope's shape. @throws TandemError `manifest_signature_invalid` */
export function parseEnvelope(value: unknown): DsseEnvelope {
  const fail = (why: string): never => {
    throw new TandemError('manifest_signature_invalid', `not a DSSE envelope: ${why}`);
  };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail('expected an object');
  const v = value as Record<string, unknown>;
  if (typeof v.payloadType !== 'string' || v.payloadType === '') fail('"payloadType" must be a non-empty string');
  if (typeof v.payload !== 'string') fail('"payload" must be a base64 string');
  if (!Array.isArray(v.signatures) || v.signatures.length === 0) fail('"signatures" must be a non-empty array');
  const signatures = (v.signatures as unknown[]).map((s, i): DsseSignature => {
    const sig = s as Record<string, unknown> | null;
    if (typeof sig !== 'object' || sig === null) return fail(`signatures[${i}] must be an object`);
    if (typeof sig.keyid !== 'string' || sig.keyid === '') return fail(`signatures[${i}].keyid must be a non-empty string`);
    if (typeof sig.sig !== 'string') return fail(`signatures[${i}].sig must be a base64 string`);
    return { keyid: sig.keyid, sig: sig.sig };
  });
  return { payloadType: v.payloadType as string, payload: v.payload as string, signatures };
}

/**
 * Verifies an envelope against a trusted key set and returns the payload bytes.
 * @throws TandemError `manifest_signature_invalid` unless at least `trusted.threshold` distinct trusted keys
 * signed exactly these bytes with exactly this payload type (and, when given, the type is `expectedType`).
 */
export async function verifyEnvelope(value: unknown, trusted: TrustedKeySet, expectedType?: string): Promise<VerifiedPayload> {
  const envelope = parseEnvelope(value);
  if (expectedType !== undefined && envelope.payloadType !== expectedType) {
    throw new TandemError('manifest_signature_invalid', `payload type "${envelope.payloadType}" is not "${expectedType}"`);
  }
  const payload = decodeBase64(envelope.payload, 'manifest_signature_invalid');
  const pae = preAuthEncoding(envelope.payloadType, payload);
  const verified = new Set<string>();
  for (const { keyid, sig } of envelope.signatures) {
    const key = trusted.keys.get(keyid);
    if (!key || verified.has(keyid)) continue;
    if (await signatureVerifies(key, sig, pae)) verified.add(keyid);
  }
  if (verified.size < trusted.threshold) {
    const named = envelope.signatures.map((s) => s.keyid.slice(0, 12)).join(', ');
    throw new TandemError('manifest_signature_invalid', `${verified.size} of ${trusted.threshold} required trusted signatures verified (signed by: ${named})`);
  }
  return { payloadType: envelope.payloadType, payload, keyids: [...verified] };
}

/** A malformed signature counts as no signature, so the others may still meet the threshold. */
async function signatureVerifies(key: TrustedKey, sig: string, pae: Uint8Array<ArrayBuffer>): Promise<boolean> {
  try {
    const bytes = decodeBase64(sig, 'manifest_signature_invalid');
    return await crypto.subtle.verify(SIGN_PARAMS[key.record.algorithm], key.key, bytes, pae);
  } catch {
    return false;
  }
}
