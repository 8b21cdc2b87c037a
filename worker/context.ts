/**
 * The hono environment of the edge: its bindings (`Env`, from `wrangler types`) and what middleware puts
 * on the context for the handlers and the request log.
 */
import type { ApiKeyRecord } from './auth/api-keys.ts';
import type { EdgeConfig } from './config.ts';
import type { OriginPool } from './origin-pool/pool.ts';

/** Fields a handler adds to the request's log line. */
export interface LogFields {
  origin?: string;
  attempts?: number;
  failures?: string[];
  model?: string;
  version?: string;
  upstream_ms?: number;
  cache?: 'hit' | 'miss';
}

export interface EdgeVariables {
  requestId: string;
  config: EdgeConfig;
  pool: OriginPool;
  apiKey: ApiKeyRecord | undefined;
  log: LogFields;
}

export interface EdgeEnv {
  Bindings: Env;
  Variables: EdgeVariables;
}
