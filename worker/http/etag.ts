/** ETags and conditional requests (RFC 9110 §8.8.3, §13.1.2). */

export function strongEtag(hex: string): string {
  return `"${hex}"`;
}

/** Whether `If-None-Match` matches the ETag (weak comparison, as the RFC asks for this header). */
export function notModified(ifNoneMatch: string | null | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false;
  if (ifNoneMatch.trim() === '*') return true;
  const bare = etag.replace(/^W\//, '');
  return ifNoneMatch.split(',').some((tag) => tag.trim().replace(/^W\//, '') === bare);
}

/**
 * Whether a list of entity-tags (an `If-Match` value, or an `If-Range` one of one tag) holds `etag` by
 * strong comparison (RFC 9110 §8.8.3.2): both strong, the same characters. A weak tag matches nothing.
 * @example
 * strongMatch('"a", "b"', '"b"'); // true
 * strongMatch('W/"b"', '"b"');    // false
 */
export function strongMatch(tags: string, etag: string): boolean {
  if (etag.startsWith('W/')) return false;
  // Split on whole tags, not on commas: an opaque-tag may hold a comma.
  return [...tags.matchAll(/(W\/)?"[^"]*"/g)].some(([tag]) => tag === etag);
}

export const IMMUTABLE = 'public, max-age=31536000, immutable';
