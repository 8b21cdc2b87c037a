/**
 * Bounds of the update framework's documents. Size (TUF's endless-data defence): a verifier refuses a root
 * or a timestamp record larger than these before reading or parsing a byte of it, so a compromised store
 * or a man in the middle cannot exhaust its memory. The bounds are far above any real document: a root
 * names a few keys (about 1 KiB each), a record a few hundred bytes per model version. Age: how long a
 * device may go on with the record it holds when it cannot reach the edge, and when a signed document
 * has expired.
 */
import { TandemError } from '../errors.ts';

/** A week: how long a device may keep running cached models without a fresh timestamp record. */
export const DEFAULT_OFFLINE_MAX_AGE_MS = 7 * 24 * 60 * 60 * 1000;

/** The largest root document a verifier reads: 64 KiB. */
export const MAX_ROOT_BYTES = 64 * 1024;

/** The largest timestamp record a verifier reads: 1 MiB (thousands of model versions). */
export const MAX_TIMESTAMP_BYTES = 1024 * 1024;

/**
 * @param what names the document in the message, e.g. `root version 2`.
 * @throws TandemError `payload_too_large` when `bytes` is over `bound`.
 * @example
 * assertWithinBound('timestamp record', object.size, MAX_TIMESTAMP_BYTES); // before object.text()
 */
export function assertWithinBound(what: string, bytes: number, bound: number): void {
  if (bytes > bound) throw new TandemError('payload_too_large', `${what} is ${bytes} bytes, over the ${bound}-byte bound: refused unread`);
}

/** @throws TandemError `metadata_expired` once `expires` is reached. */
export function assertNotExpired(what: string, version: number | string, expires: string, now: number): void {
  if (Date.parse(expires) <= now) throw new TandemError('metadata_expired', `${what} ${version} expired at ${expires}`);
}
