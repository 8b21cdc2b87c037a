import { describe, expect, it } from 'vitest';
import { parseBearer } from './bearer-token.ts';

describe('parseBearer', () => {
  it('reads the scheme in any case, with one or more spaces', () => {
    expect(parseBearer('Bearer abc')).toBe('abc');
    expect(parseBearer('bearer abc')).toBe('abc');
    expect(parseBearer('BEARER  abc')).toBe('abc');
    expect(parseBearer(' Bearer abc ')).toBe('abc');
  });

  it('takes a token68: letters, digits, -._~+/ and trailing =', () => {
    expect(parseBearer('Bearer a-b.c_d~e+f/g==')).toBe('a-b.c_d~e+f/g==');
    expect(parseBearer('Bearer dev-api-key')).toBe('dev-api-key');
  });

  it('refuses other schemes, missing tokens and what is not a token68', () => {
    for (const header of [
      null,
      undefined,
      '',
      'Bearer',
      'Bearer ',
      'Basic YWJj',
      'Bearerabc',
      'Bearer a b',
      'Bearer a=b',
      'Bearer =abc',
      'Bearer a,b',
      'Bearer\tabc',
      'Token abc',
    ]) {
      expect(parseBearer(header), JSON.stringify(header)).toBeUndefined();
    }
  });
});
