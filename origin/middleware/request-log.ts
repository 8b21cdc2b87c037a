/**
 * The request log: one JSON line per inference request when it ends, with its id, method, path, status,
 * total time and what the handler added (model, version, batch size, queue and compute times, error
 * code). Never input values. Health checks and metadata are not logged: they would drown the lines
 * that matter.
 */
import type { MiddlewareHandler } from 'hono';
import type { Logger, OriginEnv } from '../context.ts';

export interface RequestLogOptions {
  logger: Logger;
  /** Which requests get a line. Default: inference (`POST /v2/models/...`). */
  logs?: (method: string, path: string) => boolean;
  /** Clock for timings, in milliseconds. Default `performance.now`. */
  now?: () => number;
}

const isInference = (method: string, path: string) => method === 'POST' && path.startsWith('/v2/models/');

/**
 * @example
 * app.use('*', requestLog({ logger }));
 */
export function requestLog(options: RequestLogOptions): MiddlewareHandler<OriginEnv> {
  const { logger, logs = isInference, now = () => performance.now() } = options;
  return async (c, next) => {
    const started = now();
    try {
      await next();
    } finally {
      if (logs(c.req.method, c.req.path)) {
        logger.info({
          request_id: c.get('requestId'),
          method: c.req.method,
          path: c.req.path,
          status: c.res.status,
          total_ms: roundMs(now() - started),
          ...c.get('log'),
        });
      }
    }
  };
}

/** Milliseconds to two decimals, for log lines. */
export function roundMs(ms: number): number {
  return Math.round(ms * 100) / 100;
}
