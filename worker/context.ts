/**
 * The hono environment of the edge: its bindings (`Env`, from `wrangler types`) and what middleware puts
 * on the context for the handlers and the request log.
 */
import type { ApiKeyRecord } from './auth/api-keys.ts';
import type { EdgeConfig } from './config.ts';
import type { OriginPool } from './origin-pool/pool.ts';
import type { TraceContext } from '../protocol/traceparent.ts';

/** Fields a handler adds to the request's log line. */
export interface LogFields {
  origin?: string;
  attempts?: number;
  failures?: string[];
  model?: string;
  version?: string;
  upstream_ms?: number;
  cache?: 'hit' | 'miss';
  /** Telemetry: records in the batch, counted (not past the series bound), of versions the edge does not serve, and dropped by the SDK. */
  records?: number;
  counted?: number;
  unknown?: number;
  dropped?: number;
}

export interface EdgeVariables {
  requestId: string;
  /** This request's span of the caller's W3C trace (or of a trace started here); forwarded to the origin. */
  trace: TraceContext;
  config: EdgeConfig;
  pool: OriginPool;
  apiKey: ApiKeyRecord | undefined;
  log: LogFields;
}

export interface EdgeEnv {
  Bindings: Env;
  Variables: EdgeVariables;
}
