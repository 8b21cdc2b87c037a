/**
 * The preconditions of a GET or HEAD (RFC 9110 §13), for a representation known by a strong ETag and no
 * Last-Modified (the edge's content-addressed files): what they ask of the answer, weighed in the
 * RFC's order (§13.2.2). Pure: the route first settles what it would answer without them (§13.2.1: a
 * 404 or a 422 stays so), then asks here.
 *
 * With no Last-Modified, the date preconditions have nothing to compare: `If-Unmodified-Since` and
 * `If-Modified-Since` are ignored (§13.1.4, §13.1.3), and a date in `If-Range` never matches (§13.1.5).
 */
import { notModified, strongMatch } from './etag.ts';

export interface Preconditions {
  ifMatch?: string | undefined;
  ifNoneMatch?: string | undefined;
}

/** `proceed`, or the answer instead: 412 (`precondition_failed`) or 304 (`not_modified`). */
export type PreconditionOutcome = 'proceed' | 'precondition_failed' | 'not_modified';

/**
 * What `If-Match` then `If-None-Match` ask of a GET or HEAD of an existing representation tagged `etag`.
 * @example
 * evaluatePreconditions({ ifMatch: '"nope"' }, '"abc"');    // 'precondition_failed'
 * evaluatePreconditions({ ifNoneMatch: '"abc"' }, '"abc"'); // 'not_modified'
 */
export function evaluatePreconditions(request: Preconditions, etag: string): PreconditionOutcome {
  // `*` asks only that a representation exist, which the caller has settled.
  if (request.ifMatch !== undefined && request.ifMatch.trim() !== '*' && !strongMatch(request.ifMatch, etag)) return 'precondition_failed';
  if (notModified(request.ifNoneMatch, etag)) return 'not_modified';
  return 'proceed';
}

/** Whether a request carries a precondition that {@link evaluatePreconditions} weighs. */
export function hasPreconditions(request: Preconditions): boolean {
  return request.ifMatch !== undefined || request.ifNoneMatch !== undefined;
}

/**
 * Whether a Range may be served (RFC 9110 §13.1.5): yes without `If-Range`; with one, only when it is an
 * entity-tag that strongly matches `etag`. Else the whole representation is the answer (200), so a client
 * resuming a download of other bytes never splices the two.
 * @example
 * rangeApplies('"abc"', '"abc"');                         // true
 * rangeApplies('Wed, 21 Oct 2015 07:28:00 GMT', '"abc"'); // false: no Last-Modified to equal it
 */
export function rangeApplies(ifRange: string | undefined, etag: string): boolean {
  if (ifRange === undefined) return true;
  const value = ifRange.trim();
  // One entity-tag, or an HTTP-date (told apart by the quote, §13.1.5), never a list.
  return /^(W\/)?"[^"]*"$/.test(value) && strongMatch(value, etag);
}
