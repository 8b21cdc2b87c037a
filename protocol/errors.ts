/**
 * The one error type every tier throws and every tier understands.
 *
 * A `TandemError` carries a stable `code` (part of the public contract: clients branch on it, operators
 * alert on it) and maps to exactly one HTTP status, here and nowhere else.
 *
 * Over HTTP it travels in one of two bodies, chosen by the route (`errorBodyFormFor`):
 * - on Open Inference Protocol routes (`/v2` and below, origin and edge), OIP's error body: `"error"` is the
 *   message string, as the OIP REST specification's `$inference_error_response` has it and Triton's and
 *   KServe's clients read it, with Tandem's code and the request id beside it:
 *   `{ "error": "<message>", "code": "<code>", "request_id": "<id>" }`;
 * - on Tandem's own routes (the edge's `/v1`: catalog, manifests, artifacts, admin),
 *   `{ "error": { "code", "message", "request_id" } }`.
 * Every error response also names its code in the `x-tandem-error-code` header (a HEAD answer has no
 * body). `parseErrorBody` reads either body, and a bare OIP body (`{ "error": "<message>" }`) from a
 * server that is not Tandem's, so a client gets the code whichever it was sent.
 */

/** What a code means on the wire: its one HTTP status, and whether trying again may help. */
export interface ErrorSpec {
  status: number;
  /**
   * Whether another attempt, later or at another server, may succeed: the condition belongs to a server
   * or the path to it, not to the request. A retryable 5xx also says that server is unwell, so it is what
   * circuit breakers count (`isServerFailure`). Every tier reads this column: the client's retries, the
   * edge's choice of retrying an origin's answer on another origin, and both tiers' breakers.
   */
  retryable: boolean;
}

/** Stable error codes, each with its HTTP status and whether it is retryable. Never rename a code; add new ones. */
export const ERRORS = {
  // Malformed or invalid requests: the same request fails the same way anywhere.
  bad_request: { status: 400, retryable: false },
  tensor_invalid: { status: 400, retryable: false },
  input_missing: { status: 400, retryable: false },
  input_unknown: { status: 400, retryable: false },
  input_dtype_mismatch: { status: 400, retryable: false },
  input_shape_mismatch: { status: 400, retryable: false },
  input_not_finite: { status: 400, retryable: false },
  output_unknown: { status: 400, retryable: false },
  unauthorized: { status: 401, retryable: false },
  forbidden: { status: 403, retryable: false },
  not_found: { status: 404, retryable: false },
  model_not_found: { status: 404, retryable: false },
  method_not_allowed: { status: 405, retryable: false },
  precondition_failed: { status: 412, retryable: false },
  payload_too_large: { status: 413, retryable: false },
  range_not_satisfiable: { status: 416, retryable: false },
  expectation_failed: { status: 417, retryable: false },
  unsupported_media_type: { status: 415, retryable: false },
  // Over the caller's rate: the same request succeeds after `Retry-After`.
  rate_limited: { status: 429, retryable: true },
  // Trust failures: the server holds something it must not serve.
  manifest_invalid: { status: 422, retryable: false },
  manifest_signature_invalid: { status: 422, retryable: false },
  artifact_hash_mismatch: { status: 422, retryable: false },
  artifact_missing: { status: 422, retryable: false },
  key_invalid: { status: 422, retryable: false },
  // Update security (TUF's attacks): metadata older than what this verifier has seen, past its expiry,
  // or naming a withdrawn version. Retrying the same source gives the same answer.
  rollback_detected: { status: 409, retryable: false },
  metadata_expired: { status: 422, retryable: false },
  version_revoked: { status: 410, retryable: false },
  // A manifest of a version the model's signed rollout record gives no weight to (an edge handing out a
  // version the record does not roll out, such as a canary rolled back).
  version_not_in_rollout: { status: 409, retryable: false },
  // Server-side conditions. A bug, a model that fails on this input, or a model refused at load answer
  // the same on a retry and say nothing about the server's health; the rest are the server's state.
  internal: { status: 500, retryable: false },
  inference_failed: { status: 500, retryable: false },
  origin_unavailable: { status: 502, retryable: true },
  model_not_ready: { status: 503, retryable: false },
  overloaded: { status: 503, retryable: true },
  shutting_down: { status: 503, retryable: true },
  deadline_exceeded: { status: 504, retryable: true },
  // Client-side conditions (never sent by a server, but mapped for completeness).
  offline: { status: 503, retryable: false },
  device_unsupported: { status: 501, retryable: false },
  aborted: { status: 499, retryable: false },
  // Model import (`tandem import`, `tandem publish`): a model Tandem cannot take as it is. Never sent by a
  // server; the status says what kind of failure it is.
  onnx_invalid: { status: 422, retryable: false },
  onnx_external_data: { status: 422, retryable: false },
  onnx_custom_domain: { status: 422, retryable: false },
  onnx_training_graph: { status: 422, retryable: false },
  onnx_unsupported_io: { status: 422, retryable: false },
  onnx_load_failed: { status: 422, retryable: false },
  version_exists: { status: 409, retryable: false },
  variant_out_of_tolerance: { status: 422, retryable: false },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;

export const ERROR_CODES = Object.keys(ERRORS) as ErrorCode[];

/** The HTTP status of each code (the `status` column of `ERRORS`). */
export const ERROR_STATUS = Object.fromEntries(ERROR_CODES.map((code) => [code, ERRORS[code].status])) as {
  readonly [C in ErrorCode]: (typeof ERRORS)[C]['status'];
};

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERRORS, value);
}

export interface TandemErrorOptions {
  cause?: unknown;
  /** Seconds a client should wait before retrying (sent as `Retry-After`). */
  retryAfterSeconds?: number;
  requestId?: string;
  /**
   * Upstream attempts the tier that answered already made for this request (the edge's origin attempts,
   * sent as `x-tandem-attempts`). One tier owns the retries of a request: an error after one or more
   * attempts has had its retries, and `isRetryable` says no.
   */
  attempts?: number;
}

/**
 * @example
 * throw new TandemError('input_shape_mismatch', 'input "x" has shape [2,3], expected [-1,256]');
 */
export class TandemError extends Error {
  override readonly name = 'TandemError';
  readonly code: ErrorCode;
  readonly retryAfterSeconds: number | undefined;
  readonly attempts: number | undefined;
  requestId: string | undefined;

  constructor(code: ErrorCode, message: string, options: TandemErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryAfterSeconds = options.retryAfterSeconds;
    this.requestId = options.requestId;
    this.attempts = options.attempts;
  }

  get status(): number {
    return ERRORS[this.code].status;
  }

  /** The error's body in `form` (default Tandem's; `errorBodyFormFor` picks by route). */
  toBody(form?: 'tandem'): ErrorBody;
  toBody(form: 'oip'): OipErrorBody;
  toBody(form: ErrorBodyForm): ErrorBody | OipErrorBody;
  toBody(form: ErrorBodyForm = 'tandem'): ErrorBody | OipErrorBody {
    return form === 'oip' ? oipErrorBody(this.code, this.message, this.requestId) : errorBody(this.code, this.message, this.requestId);
  }
}

/** Tandem's error body, on the edge's `/v1` routes. */
export interface ErrorBody {
  error: { code: ErrorCode; message: string; request_id?: string };
}

/**
 * OIP's error body (`$inference_error_response`: `"error"` is the message), with Tandem's code and the
 * request id beside it; on every `/v2` route.
 */
export interface OipErrorBody {
  error: string;
  code: ErrorCode;
  request_id?: string;
}

/** Which body an error answer carries: `oip` ({@link OipErrorBody}) or `tandem` ({@link ErrorBody}). */
export type ErrorBodyForm = 'oip' | 'tandem';

/** The header every error response names its code in, whatever its body. */
export const ERROR_CODE_HEADER = 'x-tandem-error-code';

/**
 * The body form for a request path: OIP's on the Open Inference Protocol's routes (`/v2` and below),
 * Tandem's elsewhere.
 * @example
 * errorBodyFormFor('/v2/models/m/infer'); // 'oip'
 * errorBodyFormFor('/v1/models');         // 'tandem'
 */
export function errorBodyFormFor(path: string): ErrorBodyForm {
  return path === '/v2' || path.startsWith('/v2/') ? 'oip' : 'tandem';
}

export function errorBody(code: ErrorCode, message: string, requestId?: string): ErrorBody {
  return { error: requestId === undefined ? { code, message } : { code, message, request_id: requestId } };
}

export function oipErrorBody(code: ErrorCode, message: string, requestId?: string): OipErrorBody {
  return requestId === undefined ? { error: message, code } : { error: message, code, request_id: requestId };
}

/**
 * Whether to try again: a TandemError whose code is retryable (`ERRORS`) and whose retries no tier has
 * spent already (`attempts` unset or 0). Anything else (a plain Error, a caller's mistake) is not.
 * @example
 * await retry(() => fetchManifest(id), policy, { shouldRetry: isRetryable });
 */
export function isRetryable(err: unknown): boolean {
  return err instanceof TandemError && ERRORS[err.code].retryable && !(err.attempts !== undefined && err.attempts > 0);
}

/**
 * Whether an error says the server (or the path to it) is unwell: what a circuit breaker counts and what
 * the edge retries on another origin. A failure with no typed answer (a refused connection, a timeout, a
 * body that is not ours) counts; a typed answer counts only when its code is retryable and a 5xx
 * (`overloaded`, `shutting_down`, `deadline_exceeded`, `origin_unavailable`). A typed answer about one
 * request or one model (any 4xx, `model_not_ready`, `inference_failed`) shows the server up and answering.
 */
export function isServerFailure(err: unknown): boolean {
  if (!(err instanceof TandemError)) return true;
  const spec: ErrorSpec = ERRORS[err.code];
  return spec.retryable && spec.status >= 500;
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
 * Reads an error answer received over HTTP back into a TandemError, so a client sees the server's code.
 * Reads Tandem's body (`{ error: { code, message, request_id } }`), OIP's body with Tandem's code beside
 * the message (`{ error, code, request_id }`), and a bare OIP body from another server
 * (`{ error: "<message>" }`: the message kept, the code from `x-tandem-error-code` when `headers` has it,
 * else the status's meaning). A body that is not JSON of either form (a proxy's HTML page, say) still
 * yields an error with the header's code or the status's meaning.
 * @example
 * parseErrorBody(404, { error: 'no model m', code: 'model_not_found' }).code; // 'model_not_found'
 * parseErrorBody(400, { error: 'unknown model' }).code;                       // 'bad_request'
 */
export function parseErrorBody(status: number, body: unknown, headers?: { get(name: string): string | null }): TandemError {
  const headerCode = headers?.get(ERROR_CODE_HEADER);
  const fallbackCode = isErrorCode(headerCode) ? headerCode : codeForStatus(status);
  const fields = typeof body === 'object' && body !== null ? (body as { error?: unknown; code?: unknown; request_id?: unknown }) : {};
  const error = fields.error;
  if (typeof error === 'string') {
    const requestId = typeof fields.request_id === 'string' ? fields.request_id : undefined;
    return new TandemError(isErrorCode(fields.code) ? fields.code : fallbackCode, error, { requestId });
  }
  if (typeof error === 'object' && error !== null) {
    const nested = error as { code?: unknown; message?: unknown; request_id?: unknown };
    if (typeof nested.message === 'string') {
      const requestId = typeof nested.request_id === 'string' ? nested.request_id : undefined;
      return new TandemError(isErrorCode(nested.code) ? nested.code : fallbackCode, nested.message, { requestId });
    }
  }
  return new TandemError(fallbackCode, `HTTP ${status} without a Tandem error body`);
}

function codeForStatus(status: number): ErrorCode {
  switch (status) {
    case 400:
      return 'bad_request';
    case 401:
      return 'unauthorized';
    case 403:
      return 'forbidden';
    case 404:
      return 'not_found';
    case 413:
      return 'payload_too_large';
    case 429:
      return 'rate_limited';
    case 503:
      return 'overloaded';
    case 504:
      return 'deadline_exceeded';
    default:
      return status >= 500 ? 'origin_unavailable' : 'bad_request';
  }
}
