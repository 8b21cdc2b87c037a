import { describe, expect, it } from 'vitest';
import {
  ERROR_CODE_HEADER,
  ERROR_CODES,
  ERROR_STATUS,
  ERRORS,
  TandemError,
  errorBodyFormFor,
  isRetryable,
  isServerFailure,
  parseErrorBody,
  toTandemError,
} from './errors.ts';

describe('errors', () => {
  it.each(['tandem', 'oip'] as const)('maps every code to an HTTP status and a %s body that reads back to the same code', (form) => {
    for (const code of ERROR_CODES) {
      const err = new TandemError(code, `because ${code}`, { requestId: 'r-1' });
      expect(err.status).toBe(ERROR_STATUS[code]);
      const back = parseErrorBody(err.status, JSON.parse(JSON.stringify(err.toBody(form))));
      expect(back).toMatchObject({ code, message: `because ${code}`, requestId: 'r-1' });
    }
  });

  it('says in one column which codes are retryable, read by every tier', () => {
    const retryable = ERROR_CODES.filter((code) => ERRORS[code].retryable);
    expect(retryable).toEqual(['rate_limited', 'origin_unavailable', 'overloaded', 'shutting_down', 'deadline_exceeded']);
    for (const code of ERROR_CODES) expect(isRetryable(new TandemError(code, 'x')), code).toBe(ERRORS[code].retryable);
    expect(isRetryable(new Error('plain'))).toBe(false);
  });

  it('is not retryable once the tier that owns the retries spent them', () => {
    expect(isRetryable(new TandemError('origin_unavailable', 'x', { attempts: 0 }))).toBe(true);
    expect(isRetryable(new TandemError('origin_unavailable', 'x', { attempts: 1 }))).toBe(false);
  });

  it('counts against a server only transport failures and retryable 5xx', () => {
    expect(ERROR_CODES.filter((code) => isServerFailure(new TandemError(code, 'x')))).toEqual([
      'origin_unavailable',
      'overloaded',
      'shutting_down',
      'deadline_exceeded',
    ]);
    expect(isServerFailure(new TypeError('fetch failed'))).toBe(true);
  });

  it("has the body shapes of the wire contract: OIP's on /v2, Tandem's elsewhere", () => {
    const err = new TandemError('overloaded', 'queue full');
    expect(err.toBody()).toEqual({ error: { code: 'overloaded', message: 'queue full' } });
    expect(err.toBody('tandem')).toEqual({ error: { code: 'overloaded', message: 'queue full' } });
    // OIP REST, "Inference Response JSON Error Object": `error` is the message string.
    err.requestId = 'r-2';
    expect(err.toBody('oip')).toEqual({ error: 'queue full', code: 'overloaded', request_id: 'r-2' });
    expect(['/v2', '/v2/', '/v2/health/ready', '/v2/models/m/infer'].map(errorBodyFormFor)).toEqual(['oip', 'oip', 'oip', 'oip']);
    expect(['/v1/models', '/v1/edge/status', '/v20', '/', '/metrics'].map(errorBodyFormFor)).toEqual(['tandem', 'tandem', 'tandem', 'tandem', 'tandem']);
  });

  it('reads a Triton or KServe body (the message alone), taking the code from the header, else the status', () => {
    const bare = parseErrorBody(400, { error: "Request for unknown model: 'm' is not found" });
    expect(bare).toMatchObject({ code: 'bad_request', message: "Request for unknown model: 'm' is not found" });
    const headers = new Headers({ [ERROR_CODE_HEADER]: 'model_not_found' });
    expect(parseErrorBody(404, { error: 'no model m' }, headers)).toMatchObject({ code: 'model_not_found', message: 'no model m' });
    // A HEAD answer has no body: the header still carries the code.
    expect(parseErrorBody(416, null, new Headers({ [ERROR_CODE_HEADER]: 'range_not_satisfiable' })).code).toBe('range_not_satisfiable');
    // The body's own code wins over the header's; an unknown header code is ignored.
    expect(parseErrorBody(503, { error: 'x', code: 'shutting_down' }, headers).code).toBe('shutting_down');
    expect(parseErrorBody(503, { error: 'x' }, new Headers({ [ERROR_CODE_HEADER]: 'nonsense' })).code).toBe('overloaded');
    expect(parseErrorBody(503, { error: 42 }).message).toBe('HTTP 503 without a Tandem error body');
  });

  it('is an Error with a name, a code and the cause kept', () => {
    const cause = new Error('root');
    const err = new TandemError('internal', 'wrapped', { cause });
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe('TandemError');
    expect(err.cause).toBe(cause);
  });

  it('reads foreign error bodies by status', () => {
    expect(parseErrorBody(502, '<html>bad gateway</html>').code).toBe('origin_unavailable');
    expect(parseErrorBody(429, null).code).toBe('rate_limited');
    expect(parseErrorBody(400, { error: { code: 'no_such_code', message: 'x' } }).code).toBe('bad_request');
  });

  it('wraps unknown throws, keeping TandemErrors and recognising aborts', () => {
    const own = new TandemError('overloaded', 'x');
    expect(toTandemError(own)).toBe(own);
    expect(toTandemError(new DOMException('stop', 'AbortError')).code).toBe('aborted');
    expect(toTandemError('boom')).toMatchObject({ code: 'internal', message: 'boom' });
  });
});
