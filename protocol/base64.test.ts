import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeBase64, encodeBase64 } from './base64.ts';
import { TandemError } from './errors.ts';

const reference = (bytes: Uint8Array): string => btoa(String.fromCharCode(...bytes));

describe('base64', () => {
  it('encodes like the platform and decodes back', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const text = encodeBase64(bytes);
        expect(text).toBe(reference(bytes));
        expect(decodeBase64(text)).toEqual(bytes);
      }),
    );
  });

  it.each([
    ['QR==', 'non-zero bits after the last byte'],
    ['QUI=x', 'length'],
    ['QUJD\n', 'length'],
    ['QU I', 'character'],
    ['Q===', 'misplaced'],
    ['=QUJ', 'misplaced'],
    ['QU=D', 'misplaced'],
    ['-_-_', 'character'],
    ['QUJ', 'length'],
  ])('rejects non-canonical %j', (text, why) => {
    expect(() => decodeBase64(text)).toThrowError(why);
    expect(() => decodeBase64(text)).toThrowError(TandemError);
  });

  it('gives each byte string exactly one text: any single-character change is rejected or changes the bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 40 }), fc.nat(), fc.integer({ min: 0, max: 127 }), (bytes, at, code) => {
        const text = encodeBase64(bytes);
        const i = at % text.length;
        const changed = text.slice(0, i) + String.fromCharCode(code) + text.slice(i + 1);
        fc.pre(changed !== text);
        let decoded: Uint8Array | undefined;
        try {
          decoded = decodeBase64(changed);
        } catch (err) {
          expect(err).toBeInstanceOf(TandemError);
        }
        if (decoded) expect(decoded).not.toEqual(bytes);
      }),
      { numRuns: 500 },
    );
  });

  it('uses the error code it is given', () => {
    expect(() => decodeBase64('!!!!', 'manifest_signature_invalid')).toThrowError(expect.objectContaining({ code: 'manifest_signature_invalid' }));
  });
});
