/**
 * CORS for every route: any page may call the edge (no cookies, so no credentials), send the headers the
 * SDK sends, and read the headers it reads. A preflight is answered by hono's `cors`. Any other answer gets
 * its two headers once the route has made it: hono's `cors` writes them on a placeholder Response before
 * the route runs and hono then copies them into the route's, a second Response per request (about 60 µs
 * of workerd's CPU per proxied inference, measured with bench:edge:compare).
 */
import type { MiddlewareHandler } from 'hono';
import { cors } from 'hono/cors';
import { setAnswerHeaders } from '../http/answer-headers.ts';

/** Headers a browser client may read from responses. */
export const EXPOSED_HEADERS = [
  'x-request-id',
  'x-model-version',
  'x-tandem-origin',
  'x-tandem-attempts',
  'x-tandem-error-code',
  'content-length',
  'content-range',
  'etag',
  'inference-header-content-length',
  'retry-after',
  'accept-ranges',
];

const preflight = cors({
  origin: '*',
  allowMethods: ['GET', 'HEAD', 'POST', 'OPTIONS'],
  allowHeaders: [
    'authorization',
    'x-api-key',
    'content-type',
    'inference-header-content-length',
    'x-client-id',
    'x-request-id',
    'traceparent',
    'range',
    'if-none-match',
  ],
  exposeHeaders: EXPOSED_HEADERS,
  maxAge: 86400,
});

/** What `cors({ origin: '*', exposeHeaders })` writes on an answer that is not a preflight's. */
const ANSWER_HEADERS = [
  ['access-control-allow-origin', '*'],
  ['access-control-expose-headers', EXPOSED_HEADERS.join(',')],
] as const;

export function corsForBrowsers(): MiddlewareHandler {
  return async (c, next) => {
    if (c.req.method === 'OPTIONS') return preflight(c, next);
    await next();
    setAnswerHeaders(c, ANSWER_HEADERS);
  };
}
