/**
 * The request log: one JSON line per inference request when it ends, with its id, method, path, status,
 * total time and what the handler added (model, version, batch size, queue and compute times, error
 * code). Never input values. Health checks and metadata are not logged: they would drown the lines
 * that matter.
 *
 * Each line names the request's W3C trace (protocol/traceparent.ts): the `traceparent` the edge forwarded
 * is continued with a span of the origin's own (`trace_id`, `span_id`, `parent_span_id`), or a trace starts
 * here when none came, so the SDK's, edge's and origin's lines of one run share one `trace_id`.
 */
import type { MiddlewareHandler } from 'hono';
import { continueTrace, parseTraceparent, TRACEPARENT_HEADER } from '../../protocol/traceparent.ts';
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
        const parent = parseTraceparent(c.req.header(TRACEPARENT_HEADER));
        const trace = continueTrace(parent);
        logger.info({
          request_id: c.get('requestId'),
          trace_id: trace.traceId,
          span_id: trace.spanId,
          ...(parent ? { parent_span_id: parent.spanId } : {}),
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
