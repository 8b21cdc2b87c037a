/**
 * UTF-8 for the OIP codec: the JSON header and BYTES elements.
 *
 * Decoding is strict (a `fatal` TextDecoder): invalid UTF-8 is an error, never silently replaced with
 * U+FFFD, because a replaced byte would hand the model text the client never sent. For the same reason
 * strings with lone surrogates, which UTF-8 cannot encode, are refused rather than replaced on encode.
 */
import { TandemError, type ErrorCode } from './errors.ts';

const encoder = new TextEncoder();
/** For the JSON header: a leading byte-order mark is dropped (JSON.parse would reject it). */
const headerDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });
/** For BYTES elements: a leading U+FEFF is content and is kept. */
const elementDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

// With the `u` flag a well-formed surrogate pair is one code point above U+FFFF, so this matches only
// unpaired surrogates. (String.prototype.isWellFormed is ES2024, newer than our target.)
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

/** UTF-8 bytes of text (lone surrogates become U+FFFD; check `isWellFormedText` first where that matters). */
export function encodeText(text: string): Uint8Array<ArrayBuffer> {
  // workers-types declares `Uint8Array<ArrayBufferLike>`; TextEncoder always returns a fresh ArrayBuffer.
  return encoder.encode(text) as Uint8Array<ArrayBuffer>;
}

export function isWellFormedText(text: string): boolean {
  return !LONE_SURROGATE.test(text);
}

/** @throws TandemError with `code` if `bytes` are not valid UTF-8. */
export function decodeUtf8(bytes: Uint8Array, code: ErrorCode, what: string, keepBom = false): string {
  try {
    return (keepBom ? elementDecoder : headerDecoder).decode(bytes);
  } catch (err) {
    throw new TandemError(code, `${what} is not valid UTF-8`, { cause: err });
  }
}

/** @throws TandemError with `code` if `text` holds a lone surrogate. */
export function encodeUtf8(text: string, code: ErrorCode, what: string): Uint8Array<ArrayBuffer> {
  if (!isWellFormedText(text)) throw new TandemError(code, `${what} holds a lone surrogate, which UTF-8 cannot encode`);
  return encodeText(text);
}
