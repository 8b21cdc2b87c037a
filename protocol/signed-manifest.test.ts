import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { encodeBase64 } from './base64.ts';
import { signEnvelope } from './dsse.ts';
import { generateSigningKey, loadTrustedKeys, type SigningKey, type TrustedKeySet } from './keys.ts';
import { MANIFEST_PAYLOAD_TYPE } from './manifest.ts';
import { signManifest, verifyManifest } from './signed-manifest.ts';
import { manifestArbitrary, sampleManifest } from './test-support/manifest-arbitrary.ts';

describe('signed manifests', () => {
  let key: SigningKey;
  let trusted: TrustedKeySet;
  beforeAll(async () => {
    key = await generateSigningKey();
    trusted = await loadTrustedKeys([key.publicKey]);
  });

  it('round-trips any valid manifest', async () => {
    await fc.assert(
      fc.asyncProperty(manifestArbitrary, async (manifest) => {
        const envelope = JSON.parse(JSON.stringify(await signManifest(manifest, [key])));
        const verified = await verifyManifest(envelope, trusted);
        expect(verified.manifest).toEqual(JSON.parse(JSON.stringify(manifest))); // as JSON carries it (-0 is 0)
        expect(verified.keyids).toEqual([key.keyid]);
      }),
      { numRuns: 50 },
    );
  });

  it('refuses to sign an invalid manifest', async () => {
    await expect(signManifest({ ...sampleManifest(), id: 'Bad Id' }, [key])).rejects.toMatchObject({ code: 'manifest_invalid' });
  });

  it('rejects a validly signed payload that is not a valid manifest', async () => {
    const bytes = new TextEncoder().encode(JSON.stringify({ ...sampleManifest(), version: 'latest' }));
    const envelope = await signEnvelope(MANIFEST_PAYLOAD_TYPE, bytes, [key]);
    await expect(verifyManifest(envelope, trusted)).rejects.toMatchObject({ code: 'manifest_invalid' });
  });

  it('rejects a validly signed payload that is not JSON', async () => {
    const envelope = await signEnvelope(MANIFEST_PAYLOAD_TYPE, new Uint8Array([0xff, 0xfe]), [key]);
    await expect(verifyManifest(envelope, trusted)).rejects.toMatchObject({ code: 'manifest_invalid' });
  });

  it('rejects a manifest whose payload was swapped for another valid manifest', async () => {
    const envelope = await signManifest(sampleManifest(), [key]);
    const other = new TextEncoder().encode(JSON.stringify(sampleManifest({ version: '9.9.9' })));
    await expect(verifyManifest({ ...envelope, payload: encodeBase64(other) }, trusted)).rejects.toMatchObject({
      code: 'manifest_signature_invalid',
    });
  });
});
