/**
 * Request ids: takes `x-request-id` from the caller when it is a sane token (or makes one), puts it on the
 * context for handlers, logs and error bodies, and returns it on every response, errors and 404s included.
 */
import type { MiddlewareHandler } from 'hono';
import { REQUEST_ID_HEADER, requestIdFrom } from '../../protocol/request-id.ts';
import type { OriginEnv } from '../context.ts';

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
