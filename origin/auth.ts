/**
 * Bearer-token middleware for the origin (the header is read by protocol/bearer-token.ts, as at the edge).
 * Missing or unknown tokens get 401 (RFC 6750 `invalid_token`);
 * a known token used where it has no rights (the inference token on an admin route) gets 403.
 * Tokens are compared as SHA-256 digests in constant time, so neither their content nor their length leaks.
 * The digest is node:crypto's synchronous one: WebCrypto's `subtle.digest` schedules a job and a promise per
 * call, and in a profile of the origin under load it took a fifth of the main thread (docs/performance.md).
 */
import { createHash } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import { parseBearer } from '../protocol/bearer-token.ts';
import { TandemError } from '../protocol/errors.ts';
import { timingSafeEqual } from '../protocol/sha256.ts';

export interface BearerAuthOptions {
  /** Tokens that may pass. */
  tokens: readonly string[];
  /** Tokens that are valid elsewhere but not here: answered with 403 instead of 401. */
  forbidden?: readonly string[];
  realm?: string;
}

export function bearerAuth(options: BearerAuthOptions): MiddlewareHandler {
  const { realm = 'tandem' } = options;
  const accepted = options.tokens.map(digest);
  const forbidden = (options.forbidden ?? []).map(digest);
  return async (c, next) => {
    const token = parseBearer(c.req.header('authorization'));
    if (token === undefined) {
      c.header('WWW-Authenticate', `Bearer realm="${realm}"`);
      throw new TandemError('unauthorized', 'a bearer token is required');
    }
    const given = digest(token);
    if (matchesAny(given, accepted)) return next();
    if (matchesAny(given, forbidden)) throw new TandemError('forbidden', 'this token may not use this route');
    c.header('WWW-Authenticate', `Bearer realm="${realm}", error="invalid_token"`);
    throw new TandemError('unauthorized', 'the bearer token is not valid');
  };
}

function digest(token: string): Uint8Array {
  return createHash('sha256').update(token, 'utf8').digest();
}

/** Compares against every candidate, so timing reveals neither which token matched nor how much of it. */
function matchesAny(given: Uint8Array, candidates: readonly Uint8Array[]): boolean {
  let found = false;
  for (const candidate of candidates) found = timingSafeEqual(given, candidate) || found;
  return found;
}
