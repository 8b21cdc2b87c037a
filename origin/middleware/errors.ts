/**
 * Errors to HTTP, in one place: whatever a route throws leaves as `{ error: { code, message, request_id } }`
 * with the status of its code (protocol/errors.ts) and `Retry-After` when the error has one. Server-side
 * failures are logged; load shedding and draining are not (they are expected under load, and counted).
 */
import type { ErrorHandler, NotFoundHandler } from 'hono';
import { TandemError, toTandemError } from '../../protocol/errors.ts';
import type { Logger, OriginEnv } from '../context.ts';

/**
 * @example
 * app.onError(onError({ logger }));
 */
export function onError(options: { logger: Logger }): ErrorHandler<OriginEnv> {
  const { logger } = options;
  return (err, c) => {
    const error = toTandemError(err);
    error.requestId = c.get('requestId');
    if (error.retryAfterSeconds !== undefined) c.header('Retry-After', String(error.retryAfterSeconds));
    c.set('log', { ...c.get('log'), code: error.code });
    if (error.status >= 500 && error.code !== 'overloaded' && error.code !== 'shutting_down') {
      logger.error({ request_id: error.requestId, code: error.code, err: error.message }, 'request failed');
    }
    return c.json(error.toBody(), error.status as 400);
  };
}

export const notFound: NotFoundHandler<OriginEnv> = () => {
  throw new TandemError('not_found', 'no such route');
};
