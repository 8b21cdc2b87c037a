import { describe, expect, it } from 'vitest';
import { generateSigningKey } from '../../protocol/keys.ts';
import { describeTrustedKeys } from './trusted-keys.ts';

describe('describeTrustedKeys', () => {
  it('names every trusted keyid, the threshold and where the set came from', async () => {
    const [a, b] = await Promise.all([generateSigningKey(), generateSigningKey('ECDSA-P256')]);
    const line = await describeTrustedKeys(JSON.stringify({ keys: [a.publicKey, b.publicKey], threshold: 2 }), '/keys/trusted.json');
    expect(line).toBe(`trusted keys (/keys/trusted.json; 2 of 2 must sign): ${a.keyid}, ${b.keyid}`);
  });

  it('refuses a malformed set, as the edge would', async () => {
    await expect(describeTrustedKeys('[{"keyid":"nope"}]', 'TANDEM_TRUSTED_KEYS')).rejects.toMatchObject({ code: 'key_invalid' });
  });
});
