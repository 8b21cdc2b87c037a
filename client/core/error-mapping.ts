/**
 * Every failure the SDK sees, mapped to a TandemError in one place: HTTP error bodies (through the shared
 * `parseErrorBody`), network failures (offline versus an unreachable edge), aborts, and device runtime
 * failures. Also which errors are worth a fallback: a bad input fails the same everywhere, so it is not.
 * Whether an error is worth a retry, and whether it counts against the origin, is the error table's
 * (protocol/errors.ts `isRetryable`, `isServerFailure`), the same rule the edge reads.
 */
import { TandemError, parseErrorBody, toTandemError, type ErrorCode } from '../../protocol/errors.ts';

/** What the client's circuit breaker counts: protocol/errors.ts `isServerFailure`, the edge's rule too. */
export { isServerFailure as isOriginFailure } from '../../protocol/errors.ts';

/**
 * Reads a non-2xx response into a TandemError with the server's code, its `Retry-After`, and the origin
 * attempts the edge already made for it (`x-tandem-attempts`), so the client does not retry those again.
 */
export async function errorFromResponse(res: Response): Promise<TandemError> {
  let text = '';
  try {
    text = await res.text();
  } catch {
    // A body that failed midway: the status still says what happened.
  }
  return errorFromAnswer(res, text);
}

/** `errorFromResponse` for a body already read (within a bound: core/bounded-read.ts `readErrorText`). */
export function errorFromAnswer(res: Response, text: string): TandemError {
  let json: unknown = null;
  try {
    json = JSON.parse(text);
  } catch {
    // Not JSON (a proxy's HTML page): parseErrorBody falls back to the status's meaning.
  }
  const err = parseErrorBody(res.status, json, res.headers);
  const retryAfter = Number(res.headers.get('retry-after'));
  const attempts = Number(res.headers.get('x-tandem-attempts') ?? NaN);
  return new TandemError(err.code, err.message, {
    ...(Number.isFinite(retryAfter) && retryAfter > 0 ? { retryAfterSeconds: retryAfter } : {}),
    ...(Number.isInteger(attempts) && attempts >= 0 ? { attempts } : {}),
    ...(err.requestId ? { requestId: err.requestId } : {}),
  });
}

/**
 * A rejected `fetch`: an abort is `aborted`, anything else (DNS, refused connection, CORS, a dropped
 * body) is `offline` when the browser says it is offline, else `origin_unavailable`.
 */
export function errorFromFetchFailure(err: unknown, online: boolean, what: string): TandemError {
  if (err instanceof TandemError) return err;
  const name = (err as { name?: unknown } | null)?.name;
  if (name === 'AbortError') return new TandemError('aborted', `${what}: aborted`, { cause: err });
  if (name === 'TimeoutError') return new TandemError('origin_unavailable', `${what}: timed out`, { cause: err });
  const message = err instanceof Error ? err.message : String(err);
  return online
    ? new TandemError('origin_unavailable', `${what}: ${message}`, { cause: err })
    : new TandemError('offline', `${what}: the device is offline`, { cause: err });
}

/** A device-side failure (onnxruntime, a crashed worker) as a TandemError; typed errors pass through. */
export function errorFromDevice(err: unknown): TandemError {
  return toTandemError(err, 'inference_failed');
}

/** Errors that would fail the same on any tier: the caller's fault or the caller's wish. */
const CALLER_ERRORS: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'aborted',
  'bad_request',
  'tensor_invalid',
  'input_missing',
  'input_unknown',
  'input_dtype_mismatch',
  'input_shape_mismatch',
  'input_not_finite',
  'output_unknown',
  'payload_too_large',
]);

/** Whether another tier (or a stale cached answer) may help after this error. */
export function canFallBack(err: unknown): boolean {
  return !(err instanceof TandemError && CALLER_ERRORS.has(err.code));
}
