/**
 * The request log: one JSON line per inference request when it ends, with its id, method, path, status,
 * total time and what the handler added (model, version, batch size, queue and compute times, error
 * code). Never input values. Health checks and metadata are not logged: they would drown the lines
 * that matter.
 *
 * Each line names the request's W3C trace (protocol/traceparent.ts): the `traceparent` the edge forwarded
 * is continued with a span of the origin's own (`trace_id`, `span_id`, `parent_span_id`), or a trace starts
 * here when none came, so the SDK's, edge's and origin's lines of one run share one `trace_id`. The ids'
 * random bytes come from the OS in blocks (`pooledRandom`): one `getRandomValues` call per id cost some
 * 12 µs of every request, more than the rest of its log line.
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
  const random = pooledRandom();
  return async (c, next) => {
    const started = now();
    try {
      await next();
    } finally {
      if (logs(c.req.method, c.req.path)) {
        const parent = parseTraceparent(c.req.header(TRACEPARENT_HEADER));
        const trace = continueTrace(parent, random);
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

/**
 * Fills arrays with cryptographically random bytes taken from a block drawn `blockBytes` at a time, as
 * node:crypto's `randomUUID` does: the same source, one call per block instead of one per id, and each
 * byte handed out once.
 * @example
 * const random = pooledRandom();
 * const span = continueTrace(parent, random);
 */
export function pooledRandom(blockBytes = 4096): (bytes: Uint8Array<ArrayBuffer>) => void {
  let block = new Uint8Array(0);
  let at = 0;
  return (bytes) => {
    if (bytes.length > blockBytes) {
      crypto.getRandomValues(bytes);
      return;
    }
    if (at + bytes.length > block.length) {
      block = crypto.getRandomValues(new Uint8Array(blockBytes));
      at = 0;
    }
    bytes.set(block.subarray(at, at + bytes.length));
    at += bytes.length;
  };
}
