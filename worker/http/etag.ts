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

export const IMMUTABLE = 'public, max-age=31536000, immutable';
