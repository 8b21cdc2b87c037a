/**
 * WebCrypto types named once, derived from `crypto.subtle` itself: the DOM, Node and workerd typings
 * spell them differently (`CryptoKey` vs `webcrypto.CryptoKey`, `EcKeyImportParams` vs
 * `SubtleCryptoImportKeyAlgorithm`), while the runtime API is the same.
 */

export type CryptoKeyHandle = Awaited<ReturnType<typeof crypto.subtle.importKey>>;
export type ImportAlgorithm = Parameters<typeof crypto.subtle.importKey>[2];
export type SignAlgorithm = Parameters<typeof crypto.subtle.sign>[0];

/** Bytes as WebCrypto takes them; typed arrays over a SharedArrayBuffer are not accepted. */
export type CryptoBytes = Uint8Array<ArrayBuffer>;
