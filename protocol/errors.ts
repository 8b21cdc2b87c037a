/**
 * The one error type every tier throws and every tier understands.
 *
 * A `TandemError` carries a stable `code` (part of the public contract: clients branch on it, operators
 * alert on it) and maps to exactly one HTTP status, here and nowhere else. Over HTTP it travels as
 * `{ "error": { "code", "message", "request_id"? } }`.
 */

/** Stable error codes and the HTTP status each maps to. Never rename a code; add new ones. */
export const ERROR_STATUS = {
  // Malformed or invalid requests.
  bad_request: 400,
  tensor_invalid: 400,
  input_missing: 400,
  input_unknown: 400,
  input_dtype_mismatch: 400,
  input_shape_mismatch: 400,
  input_not_finite: 400,
  output_unknown: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  model_not_found: 404,
  method_not_allowed: 405,
  payload_too_large: 413,
  range_not_satisfiable: 416,
  unsupported_media_type: 415,
  rate_limited: 429,
  // Trust failures: the server holds something it must not serve.
  manifest_invalid: 422,
  manifest_signature_invalid: 422,
  artifact_hash_mismatch: 422,
  artifact_missing: 422,
  key_invalid: 422,
  // Update security (TUF's attacks): metadata older than what this verifier has seen, past its expiry,
  // or naming a withdrawn version.
  rollback_detected: 409,
  metadata_expired: 422,
  version_revoked: 410,
  // Server-side conditions.
  internal: 500,
  inference_failed: 500,
  origin_unavailable: 502,
  model_not_ready: 503,
  overloaded: 503,
  shutting_down: 503,
  deadline_exceeded: 504,
  // Client-side conditions (never sent by a server, but mapped for completeness).
  offline: 503,
  device_unsupported: 501,
  aborted: 499,
  // Model import (`tandem import`, `tandem publish`): a model Tandem cannot take as it is. Never sent by a
  // server; the status says what kind of failure it is.
  onnx_invalid: 422,
  onnx_external_data: 422,
  onnx_custom_domain: 422,
  onnx_training_graph: 422,
  onnx_unsupported_io: 422,
  onnx_load_failed: 422,
  version_exists: 409,
} as const satisfies Record<string, number>;

export type ErrorCode = keyof typeof ERROR_STATUS;

export const ERROR_CODES = Object.keys(ERROR_STATUS) as ErrorCode[];

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_STATUS, value);
}

export interface TandemErrorOptions {
  cause?: unknown;
  /** Seconds a client should wait before retrying (sent as `Retry-After`). */
  retryAfterSeconds?: number;
  requestId?: string;
}

/**
 * @example
 * throw new TandemError('input_shape_mismatch', 'input "x" has shape [2,3], expected [-1,256]');
 */
export class TandemError extends Error {
  override readonly name = 'TandemError';
  readonly code: ErrorCode;
  readonly retryAfterSeconds: number | undefined;
  requestId: string | undefined;

  constructor(code: ErrorCode, message: string, options: TandemErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryAfterSeconds = options.retryAfterSeconds;
    this.requestId = options.requestId;
  }

  get status(): number {
    return ERROR_STATUS[this.code];
  }

  toBody(): ErrorBody {
    return errorBody(this.code, this.message, this.requestId);
  }
}

export interface ErrorBody {
  error: { code: ErrorCode; message: string; request_id?: string };
}

export function errorBody(code: ErrorCode, message: string, requestId?: string): ErrorBody {
  return { error: requestId === undefined ? { code, message } : { code, message, request_id: requestId } };
}

/** Wraps anything thrown into a TandemError; unknown failures become `internal` with the cause kept. */
export function toTandemError(err: unknown, fallback: ErrorCode = 'internal'): TandemError {
  if (err instanceof TandemError) return err;
  if (isAbortError(err)) return new TandemError('aborted', 'the operation was aborted', { cause: err });
  const message = err instanceof Error ? err.message : String(err);
  return new TandemError(fallback, message, { cause: err });
}

function isAbortError(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { name?: unknown }).name === 'AbortError';
}

/**
 * Reads an error body received over HTTP back into a TandemError, so a client sees the server's code.
 * A body that is not ours (a proxy's HTML page, say) still yields an error with the HTTP status's meaning.
 */
export function parseErrorBody(status: number, body: unknown): TandemError {
  const error = (body as { error?: { code?: unknown; message?: unknown; request_id?: unknown } } | null)?.error;
  if (error && isErrorCode(error.code) && typeof error.message === 'string') {
    const requestId = typeof error.request_id === 'string' ? error.request_id : undefined;
    return new TandemError(error.code, error.message, { requestId });
  }
  return new TandemError(codeForStatus(status), `HTTP ${status} without a Tandem error body`);
}

function codeForStatus(status: number): ErrorCode {
  switch (status) {
    case 400: return 'bad_request';
    case 401: return 'unauthorized';
    case 403: return 'forbidden';
    case 404: return 'not_found';
    case 413: return 'payload_too_large';
    case 429: return 'rate_limited';
    case 503: return 'overloaded';
    case 504: return 'deadline_exceeded';
    default: return status >= 500 ? 'origin_unavailable' : 'bad_request';
  }
}
