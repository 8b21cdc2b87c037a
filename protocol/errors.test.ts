import { describe, expect, it } from 'vitest';
import { ERROR_CODES, ERROR_STATUS, TandemError, parseErrorBody, toTandemError } from './errors.ts';

describe('errors', () => {
  it('maps every code to an HTTP status and a body that reads back to the same code', () => {
    for (const code of ERROR_CODES) {
      const err = new TandemError(code, `because ${code}`, { requestId: 'r-1' });
      expect(err.status).toBe(ERROR_STATUS[code]);
      const back = parseErrorBody(err.status, JSON.parse(JSON.stringify(err.toBody())));
      expect(back).toMatchObject({ code, message: `because ${code}`, requestId: 'r-1' });
    }
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
