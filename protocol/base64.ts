/**
 * Standard base64 (RFC 4648 §4, with padding), decoded strictly.
 *
 * `atob` is lenient: it skips whitespace and ignores the unused low bits of the last character, so several
 * strings decode to the same bytes. Signed envelopes need the opposite: every text has one meaning and a
 * changed character either changes the bytes or is rejected. Hence this decoder accepts only the
 * canonical encoding.
 */
import { TandemError, type ErrorCode } from './errors.ts';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const LOOKUP = new Int16Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) LOOKUP[ALPHABET.charCodeAt(i)] = i;

export function encodeBase64(bytes: Uint8Array): string {
  let out = '';
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out += ALPHABET[n >> 18]! + ALPHABET[(n >> 12) & 63]! + ALPHABET[(n >> 6) & 63]! + ALPHABET[n & 63]!;
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const n = bytes[i]! << 16;
    out += `${ALPHABET[n >> 18]! + ALPHABET[(n >> 12) & 63]!}==`;
  } else if (rest === 2) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8);
    out += `${ALPHABET[n >> 18]! + ALPHABET[(n >> 12) & 63]! + ALPHABET[(n >> 6) & 63]!}=`;
  }
  return out;
}

/**
 * @throws TandemError with `code` (default `bad_request`) if `text` is not canonical padded base64.
 */
export function decodeBase64(text: string, code: ErrorCode = 'bad_request'): Uint8Array<ArrayBuffer> {
  const fail = (why: string): never => {
    throw new TandemError(code, `invalid base64: ${why}`);
  };
  if (typeof text !== 'string') fail('not a string');
  if (text.length % 4 !== 0) fail('length is not a multiple of 4');
  const padding = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  const out = new Uint8Array((text.length / 4) * 3 - padding);
  let o = 0;
  for (let i = 0; i < text.length; i += 4) {
    const last = i + 4 === text.length;
    let n = 0;
    for (let j = 0; j < 4; j++) {
      const c = text.charCodeAt(i + j);
      const isPad = c === 61; /* '=' */
      if (isPad) {
        if (!last || j < 4 - padding) fail(`misplaced "=" at ${i + j}`);
        n <<= 6;
        continue;
      }
      const v = c < 128 ? LOOKUP[c]! : -1;
      if (v < 0) fail(`character ${JSON.stringify(text[i + j])} at ${i + j}`);
      n = (n << 6) | v;
    }
    out[o++] = n >> 16;
    if (o < out.length) out[o++] = (n >> 8) & 255;
    if (o < out.length) out[o++] = n & 255;
    if (last && padding > 0) {
      const unused = padding === 2 ? n & 0xffff : n & 0xff;
      if (unused !== 0) fail('non-zero bits after the last byte');
    }
  }
  return out;
}
