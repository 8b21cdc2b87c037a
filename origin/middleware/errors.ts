/**
 * Errors to HTTP, in one place: whatever a route throws leaves with the status of its code
 * (protocol/errors.ts), OIP's error body `{ "error": "<message>", "code", "request_id" }` (the origin is an
 * Open Inference Protocol server: every body it writes is OIP's, so Triton's and KServe's clients read the
 * message), the code again in `x-tandem-error-code`, and `Retry-After` when the error has one. Messages
 * never carry absolute paths (`../redact-paths.ts`), and anything that is not a TandemError is a bug: its
 * details go to the log, the caller gets `internal` and the request id. Server-side failures are logged;
 * load shedding and draining are not (they are expected under load, and counted).
 */
import type { Context, ErrorHandler, NotFoundHandler } from 'hono';
import { ERROR_CODE_HEADER, TandemError, toTandemError } from '../../protocol/errors.ts';
import type { Logger, OriginEnv } from '../context.ts';
import { redactPaths } from '../redact-paths.ts';

export interface ErrorOptions {
  logger: Logger;
  /** The model repository, whose paths are shown relative to it. */
  repository?: string;
}

/**
 * @example
 * app.onError(onError({ logger, repository: config.repository }));
 */
export function onError(options: ErrorOptions): ErrorHandler<OriginEnv> {
  const { logger, repository } = options;
  return (err, c) => {
    const error = toTandemError(err);
    if (error.status >= 500 && error.code !== 'overloaded' && error.code !== 'shutting_down') {
      logger.error({ request_id: c.get('requestId'), code: error.code, err: error.message }, 'request failed');
    }
    const message = err instanceof TandemError || error.code !== 'internal' ? redactPaths(error.message, repository) : 'internal error';
    return errorResponse(c, new TandemError(error.code, message, error.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: error.retryAfterSeconds }));
  };
}

/** Answers with `error`'s OIP body and status, its code header, `Retry-After` and the request id; records its code for the log. */
export function errorResponse(c: Context<OriginEnv>, error: TandemError): Response {
  error.requestId = c.get('requestId');
  if (error.retryAfterSeconds !== undefined) c.header('Retry-After', String(error.retryAfterSeconds));
  c.header(ERROR_CODE_HEADER, error.code);
  c.set('log', { ...c.get('log'), code: error.code });
  return c.json(error.toBody('oip'), error.status as 400);
}

export const notFound: NotFoundHandler<OriginEnv> = (c) => errorResponse(c, new TandemError('not_found', 'no such route'));
