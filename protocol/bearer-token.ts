/**
 * The one reader of `Authorization: Bearer <token>`, for the edge (API keys) and the origin (its tokens),
 * so both accept and refuse the same headers. RFC 7235 §2.1: the scheme is case-insensitive and is
 * followed by one or more spaces; RFC 6750 §2.1: the credentials are a token68.
 */

/** `bearer`, any case; 1*SP; token68 = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=". */
const BEARER = /^bearer +([A-Za-z0-9\-._~+/]+=*)$/i;

/**
 * The token of a Bearer `Authorization` header, or undefined when the header is absent, uses another
 * scheme, or is malformed. Surrounding white space (which HTTP strips anyway) is ignored.
 * @example
 * parseBearer(request.headers.get('authorization')); // 'abc' for 'Bearer abc' or 'bearer abc'
 */
export function parseBearer(header: string | null | undefined): string | undefined {
  if (!header) return undefined;
  return BEARER.exec(header.trim())?.[1];
}
