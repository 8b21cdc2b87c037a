/**
 * Request ids and the request log: takes `x-request-id` from the client (or makes one), returns it on every
 * response, and writes one JSON line per request when it ends: request_id, method, route, status, timings,
 * and what the handler added (origin, attempts, model, version, cache).
 *
 * It also continues the caller's W3C trace (`traceparent`, protocol/traceparent.ts) with a span of the
 * edge's own, or starts one: the line names `trace_id`, `span_id` and `parent_span_id`, and the proxy
 * forwards the edge's span to the origin, whose line names the same trace.
 */
import type { MiddlewareHandler } from 'hono';
import { REQUEST_ID_HEADER, requestIdFrom } from '../../protocol/request-id.ts';
import { continueTrace, parseTraceparent, TRACEPARENT_HEADER } from '../../protocol/traceparent.ts';
import type { EdgeEnv } from '../context.ts';
import { setAnswerHeaders } from '../http/answer-headers.ts';

export interface RequestLogOptions {
  /** Where lines go. Default: `console.log`, which Workers Logs and `wrangler tail` collect. */
  write?: (line: string) => void;
  /** Clock for timings. Default `performance.now` (in workerd it advances only across I/O, which is what we time). */
  now?: () => number;
}

export function requestLog(options: RequestLogOptions = {}): MiddlewareHandler<EdgeEnv> {
  const { write = (line: string) => console.log(line), now = () => performance.now() } = options;
  return async (c, next) => {
    const started = now();
    const requestId = requestIdFrom(c.req.header(REQUEST_ID_HEADER));
    c.set('requestId', requestId);
    const parent = parseTraceparent(c.req.header(TRACEPARENT_HEADER));
    const trace = continueTrace(parent);
    c.set('trace', trace);
    c.set('log', {});
    try {
      await next();
    } finally {
      setAnswerHeaders(c, [[REQUEST_ID_HEADER, requestId]]);
      const error = c.error as { code?: unknown } | undefined;
      write(
        JSON.stringify({
          event: 'request',
          request_id: requestId,
          trace_id: trace.traceId,
          span_id: trace.spanId,
          ...(parent ? { parent_span_id: parent.spanId } : {}),
          method: c.req.method,
          route: c.req.routePath,
          path: c.req.path,
          status: c.res.status,
          ...(c.get('apiKey') ? { key: c.get('apiKey')?.name } : {}),
          ...c.get('log'),
          ...(typeof error?.code === 'string' ? { code: error.code } : {}),
          total_ms: Math.round((now() - started) * 100) / 100,
        }),
      );
    }
  };
}
