/**
 * While the server drains (after SIGTERM), every response says `Connection: close`, so a keep-alive
 * client's connection ends with the answer it is getting instead of carrying new requests into a server
 * that refuses them: the client reconnects to another origin, the server's connections run out, and it
 * can exit once the work it admitted is done.
 */
import type { MiddlewareHandler } from 'hono';
import type { OriginEnv, OriginState } from '../context.ts';

/**
 * @example
 * app.use('*', closeWhileDraining(state));
 */
export function closeWhileDraining(state: OriginState): MiddlewareHandler<OriginEnv> {
  return async (c, next) => {
    try {
      await next();
    } finally {
      // Read after the handler: a request admitted before SIGTERM and answered after it closes too.
      if (state.draining) c.res.headers.set('Connection', 'close');
    }
  };
}
