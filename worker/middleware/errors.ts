/**
 * Errors to HTTP, in one place: every error leaves the edge with its code's status (protocol/errors.ts),
 * its code in `x-tandem-error-code`, `Retry-After` and `x-tandem-attempts` when the error has them, and the
 * body its route speaks (`errorBodyFormFor`): on the Open Inference Protocol's `/v2` routes OIP's
 * `{ "error": "<message>", "code", "request_id" }`, which Triton's and KServe's clients read, the same body
 * the origins write; on the edge's own `/v1` routes `{ "error": { "code", "message", "request_id" } }`.
 * Anything not a TandemError is a bug: logged with its stack, sent as `internal` without details.
 */
import type { Context, ErrorHandler, NotFoundHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { ERROR_CODE_HEADER, TandemError, errorBodyFormFor } from '../../protocol/errors.ts';
import type { EdgeEnv } from '../context.ts';

export function toEdgeError(err: unknown): TandemError {
  if (err instanceof TandemError) return err;
  if (err instanceof HTTPException && err.status === 413) return new TandemError('payload_too_large', 'request body is too large');
  if (err instanceof HTTPException && err.status < 500) return new TandemError('bad_request', err.message);
  return new TandemError('internal', 'internal error', { cause: err });
}

export function errorResponse(c: Context<EdgeEnv>, error: TandemError): Response {
  error.requestId ??= c.get('requestId');
  const headers: Record<string, string> = { [ERROR_CODE_HEADER]: error.code };
  if (error.retryAfterSeconds !== undefined) headers['retry-after'] = String(error.retryAfterSeconds);
  // Upstream attempts already made for this request (the proxy's): a client does not retry them again.
  if (error.attempts !== undefined) headers['x-tandem-attempts'] = String(error.attempts);
  return c.json(error.toBody(errorBodyFormFor(c.req.path)), error.status as 400, headers);
}

export const onError: ErrorHandler<EdgeEnv> = (err, c) => {
  const error = toEdgeError(err);
  if (error.code === 'internal') {
    console.error(JSON.stringify({ event: 'error', request_id: c.get('requestId'), message: String(err), stack: (err as Error).stack }));
  }
  // The request log reads the code from c.error.
  c.error = error;
  return errorResponse(c, error);
};

/** A path the 404 may name: printable ASCII and short; anything else (line breaks, markup) is not echoed. */
const ECHOABLE_PATH = /^\/[\w.~\-/]{0,200}$/;

export const notFound: NotFoundHandler<EdgeEnv> = (c) => {
  const path = ECHOABLE_PATH.test(c.req.path) ? c.req.path : 'this path';
  const error = new TandemError('not_found', `no route ${c.req.method} ${path}`);
  c.error = error;
  return errorResponse(c, error);
};
