import { describe, expect, it } from 'vitest';
import { exportSigningKey, generateSigningKey, importPublicKey, importSigningKey, loadTrustedKeys } from './keys.ts';
import { signEnvelope, verifyEnvelope } from './dsse.ts';

describe('keys', () => {
  it.each(['Ed25519', 'ECDSA-P256'] as const)('a %s key survives export and import and still signs', async (algorithm) => {
    const key = await generateSigningKey(algorithm);
    const file = JSON.parse(JSON.stringify(await exportSigningKey(key)));
    const imported = await importSigningKey(file);
    expect(imported.keyid).toBe(key.keyid);
    const envelope = await signEnvelope('t', new Uint8Array([1, 2, 3]), [imported]);
    const verified = await verifyEnvelope(envelope, await loadTrustedKeys([key.publicKey]));
    expect(verified.keyids).toEqual([key.keyid]);
  });

  it('derives the key id from the public key, so a record cannot claim another id', async () => {
    const [a, b] = await Promise.all([generateSigningKey(), generateSigningKey()]);
    await expect(importPublicKey({ ...a.publicKey, keyid: b.keyid })).rejects.toMatchObject({ code: 'key_invalid' });
    await expect(importPublicKey({ ...a.publicKey, publicKey: b.publicKey.publicKey })).rejects.toMatchObject({
      code: 'key_invalid',
    });
  });

  it.each([
    ['not JSON', '{'],
    ['not a list', '{"keys": 3}'],
    ['a record without an algorithm', `[{"keyid":"${'a'.repeat(64)}","publicKey":"AAAA"}`],
    ['a threshold above the key count', null],
  ])('rejects trusted keys that are %s', async (_, text) => {
    const source = text ?? JSON.stringify({ keys: [(await generateSigningKey()).publicKey], threshold: 2 });
    await expect(loadTrustedKeys(source)).rejects.toMatchObject({ code: 'key_invalid' });
  });

  it('reads a key set with its threshold from JSON text', async () => {
    const [a, b] = await Promise.all([generateSigningKey(), generateSigningKey()]);
    const set = await loadTrustedKeys(JSON.stringify({ keys: [a.publicKey, b.publicKey], threshold: 2 }));
    expect(set.threshold).toBe(2);
    expect([...set.keys.keys()].sort()).toEqual([a.keyid, b.keyid].sort());
  });

  it('rejects a key of one algorithm declared as another', async () => {
    const key = await generateSigningKey('ECDSA-P256');
    await expect(importPublicKey({ ...key.publicKey, algorithm: 'Ed25519' })).rejects.toMatchObject({ code: 'key_invalid' });
  });
});
