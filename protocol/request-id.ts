/**
 * Request ids, as every tier takes them: the caller's `x-request-id` when it is a sane token, else a fresh
 * one, so a caller's value never reaches a log line or a header as it came.
 */
export const REQUEST_ID_HEADER = 'x-request-id';

/** What a caller's id may look like: word characters, `.`, `:` and `-`, at most 128 of them. */
const REQUEST_ID = /^[\w.:-]{1,128}$/;

/** A caller's request id when acceptable, else a fresh one (a UUID). */
export function requestIdFrom(given: string | null | undefined): string {
  return given != null && REQUEST_ID.test(given) ? given : crypto.randomUUID();
}
