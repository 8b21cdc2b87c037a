import { describe, expect, it } from 'vitest';
import { ERROR_CODES, ERROR_STATUS, ERRORS, TandemError, isRetryable, isServerFailure, parseErrorBody, toTandemError } from './errors.ts';

describe('errors', () => {
  it('maps every code to an HTTP status and a body that reads back to the same code', () => {
    for (const code of ERROR_CODES) {
      const err = new TandemError(code, `because ${code}`, { requestId: 'r-1' });
      expect(err.status).toBe(ERROR_STATUS[code]);
      const back = parseErrorBody(err.status, JSON.parse(JSON.stringify(err.toBody())));
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
    expect(ERROR_CODES.filter((code) => isServerFailure(new TandemError(code, 'x')))).toEqual(['origin_unavailable', 'overloaded', 'shutting_down', 'deadline_exceeded']);
    expect(isServerFailure(new TypeError('fetch failed'))).toBe(true);
  });

  it('has the body shape of the wire contract', () => {
    expect(new TandemError('overloaded', 'queue full').toBody()).toEqual({ error: { code: 'overloaded', message: 'queue full' } });
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
