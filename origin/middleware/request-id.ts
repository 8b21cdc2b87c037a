/**
 * Request ids: takes `x-request-id` from the caller when it is a sane token (or makes one), puts it on the
 * context for handlers, logs and error bodies, and returns it on every response, errors and 404s included.
 */
import type { MiddlewareHandler } from 'hono';
import type { OriginEnv } from '../context.ts';

export const REQUEST_ID_HEADER = 'x-request-id';

/** What a caller's id may look like; anything else is replaced, so it never reaches a log or header as is. */
const REQUEST_ID = /^[\w.:-]{1,128}$/;

/** A caller's request id when acceptable, else a fresh one. */
export function requestIdFrom(given: string | undefined): string {
  return given !== undefined && REQUEST_ID.test(given) ? given : crypto.randomUUID();
}

/**
 * @example
 * app.use('*', requestId());
 */
export function requestId(): MiddlewareHandler<OriginEnv> {
  return async (c, next) => {
    const id = requestIdFrom(c.req.header(REQUEST_ID_HEADER));
    c.set('requestId', id);
    c.set('log', {});
    try {
      await next();
    } finally {
      c.res.headers.set(REQUEST_ID_HEADER, id);
    }
  };
}
