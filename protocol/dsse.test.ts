import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { preAuthEncoding, signEnvelope, verifyEnvelope, type DsseEnvelope } from './dsse.ts';
import { TandemError } from './errors.ts';
import { generateSigningKey, loadTrustedKeys, type SigningKey, type TrustedKeySet } from './keys.ts';

const TYPE = 'application/vnd.tandem.test+json';
const payload = new TextEncoder().encode('{"hello":"world"}');
const text = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);

async function expectRejected(envelope: unknown, trusted: TrustedKeySet): Promise<void> {
  await expect(verifyEnvelope(envelope, trusted, TYPE)).rejects.toMatchObject({ code: 'manifest_signature_invalid' });
}

describe('DSSE pre-authentication encoding', () => {
  it('matches the DSSE specification test vector', () => {
    const pae = preAuthEncoding('http://example.com/HelloWorld', new TextEncoder().encode('hello world'));
    expect(text(pae)).toBe('DSSEv1 29 http://example.com/HelloWorld 11 hello world');
  });

  it('counts bytes, not characters', () => {
    expect(text(preAuthEncoding('t', new TextEncoder().encode('é')))).toBe('DSSEv1 1 t 2 é');
  });
});

describe.each(['Ed25519', 'ECDSA-P256'] as const)('DSSE with %s', (algorithm) => {
  let key: SigningKey;
  let trusted: TrustedKeySet;
  let envelope: DsseEnvelope;

  beforeAll(async () => {
    key = await generateSigningKey(algorithm);
    trusted = await loadTrustedKeys([key.publicKey]);
    envelope = await signEnvelope(TYPE, payload, [key]);
  });

  it('round-trips: the verified payload is the signed bytes, credited to the signing key', async () => {
    const verified = await verifyEnvelope(envelope, trusted, TYPE);
    expect(verified.payload).toEqual(payload);
    expect(verified.keyids).toEqual([key.keyid]);
  });

  it('survives JSON serialisation', async () => {
    const verified = await verifyEnvelope(JSON.parse(JSON.stringify(envelope)), trusted, TYPE);
    expect(text(verified.payload)).toBe('{"hello":"world"}');
  });

  it('fails with a key it does not trust', async () => {
    const other = await generateSigningKey(algorithm);
    await expectRejected(envelope, await loadTrustedKeys([other.publicKey]));
  });

  it('fails when another key signs under this key id', async () => {
    const other = await generateSigningKey(algorithm);
    const forged = await signEnvelope(TYPE, payload, [{ ...other, keyid: key.keyid }]);
    await expectRejected(forged, trusted);
  });

  it('fails for a payload type other than the expected one, even if validly signed', async () => {
    const signed = await signEnvelope('application/other', payload, [key]);
    await expect(verifyEnvelope(signed, trusted, TYPE)).rejects.toThrowError(/payload type/);
  });

  const fields = ['payload', 'payloadType', 'sig', 'keyid'] as const;
  it.each(fields)('any single-byte change to %s fails verification', async (field) => {
    await fc.assert(
      fc.asyncProperty(fc.nat(), fc.integer({ min: 32, max: 126 }), async (at, code) => {
        const copy = structuredClone(envelope);
        const holder = field === 'sig' || field === 'keyid' ? copy.signatures[0]! : copy;
        const original = (holder as unknown as Record<string, string>)[field]!;
        const i = at % original.length;
        const changed = original.slice(0, i) + String.fromCharCode(code) + original.slice(i + 1);
        fc.pre(changed !== original);
        (holder as unknown as Record<string, string>)[field] = changed;
        await expectRejected(copy, trusted);
      }),
      { numRuns: 60 },
    );
  });
});

describe('DSSE key rotation and thresholds', () => {
  it('accepts either of two trusted keys, and not a retired one', async () => {
    const [oldKey, newKey, retired] = await Promise.all([generateSigningKey(), generateSigningKey(), generateSigningKey()]);
    const trusted = await loadTrustedKeys([oldKey.publicKey, newKey.publicKey]);
    for (const key of [oldKey, newKey]) {
      const verified = await verifyEnvelope(await signEnvelope(TYPE, payload, [key]), trusted, TYPE);
      expect(verified.keyids).toEqual([key.keyid]);
    }
    await expectRejected(await signEnvelope(TYPE, payload, [retired]), trusted);
  });

  it('a threshold of two needs two distinct trusted keys, and one key signing twice is not two', async () => {
    const [a, b] = await Promise.all([generateSigningKey(), generateSigningKey('ECDSA-P256')]);
    const trusted = await loadTrustedKeys([a.publicKey, b.publicKey], 2);
    const both = await verifyEnvelope(await signEnvelope(TYPE, payload, [a, b]), trusted, TYPE);
    expect(both.keyids.sort()).toEqual([a.keyid, b.keyid].sort());
    await expect(verifyEnvelope(await signEnvelope(TYPE, payload, [a, a]), trusted, TYPE)).rejects.toThrowError(/1 of 2 required/);
  });

  it('a bad signature beside a good one still verifies at threshold one', async () => {
    const [a, b] = await Promise.all([generateSigningKey(), generateSigningKey()]);
    const envelope = await signEnvelope(TYPE, payload, [a, b]);
    envelope.signatures[0]!.sig = 'AAAA';
    const verified = await verifyEnvelope(envelope, await loadTrustedKeys([a.publicKey, b.publicKey]), TYPE);
    expect(verified.keyids).toEqual([b.keyid]);
  });

  it('refuses to sign with no keys', async () => {
    await expect(signEnvelope(TYPE, payload, [])).rejects.toMatchObject({ code: 'key_invalid' });
  });
});

describe('DSSE malformed envelopes', () => {
  it.each([
    null,
    [],
    'envelope',
    {},
    { payloadType: TYPE, payload: 'e30=' },
    { payloadType: TYPE, payload: 'e30=', signatures: [] },
    { payloadType: TYPE, payload: 'e30=', signatures: [null] },
    { payloadType: TYPE, payload: 'e30=', signatures: [{ sig: 'AAAA' }] },
    { payloadType: TYPE, payload: 42, signatures: [{ keyid: 'k', sig: 'AAAA' }] },
    { payloadType: '', payload: 'e30=', signatures: [{ keyid: 'k', sig: 'AAAA' }] },
    { payloadType: TYPE, payload: 'not base64!', signatures: [{ keyid: 'k', sig: 'AAAA' }] },
  ])('rejects %j with a typed error', async (value) => {
    const trusted = await loadTrustedKeys([(await generateSigningKey()).publicKey]);
    await expectRejected(value, trusted);
  });

  it('never throws anything but a TandemError for arbitrary input', async () => {
    const trusted = await loadTrustedKeys([(await generateSigningKey()).publicKey]);
    await fc.assert(
      fc.asyncProperty(fc.anything(), async (value) => {
        const outcome = await verifyEnvelope(value, trusted).then(
          () => 'verified',
          (err: unknown) => err,
        );
        expect(outcome).toBeInstanceOf(TandemError);
      }),
      { numRuns: 300 },
    );
  });
});
