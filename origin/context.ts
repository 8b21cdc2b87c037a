/**
 * What the origin's route and middleware modules share: the hono environment (the request id and the
 * request's log fields, set by middleware and filled by handlers) and the dependencies the app is built
 * from. Types only, so routes and middleware import it without importing each other.
 */
import type { OriginConfig } from './config.ts';
import type { OriginMetrics } from './metrics.ts';
import type { ModelRegistry } from './model-registry.ts';

export interface Logger {
  info(fields: Record<string, unknown>, message?: string): void;
  warn(fields: Record<string, unknown>, message?: string): void;
  error(fields: Record<string, unknown>, message?: string): void;
  /** Writes out buffered lines, then calls back (asynchronous loggers). */
  flush?(callback?: (err?: Error) => void): void;
}

export interface OriginState {
  /** Set on SIGTERM: readiness turns false and new inference is refused. */
  draining: boolean;
}

/** The parts of the configuration the HTTP surface reads. */
export type AppConfig = Pick<OriginConfig, 'inferenceToken' | 'adminToken' | 'openObservability' | 'maxBodyBytes' | 'maxElements' | 'nonFinite' | 'repository'>;

/** Everything the app is built from; passed in, never global, so tests can build their own. */
export interface OriginDeps {
  config: AppConfig;
  registry: ModelRegistry;
  metrics: OriginMetrics;
  logger: Logger;
  state: OriginState;
}

/** Fields a handler adds to the request's log line (never input values). */
export type LogFields = Record<string, unknown>;

export interface OriginEnv {
  Variables: { requestId: string; log: LogFields };
}
