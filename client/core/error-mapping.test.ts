import { describe, expect, it } from 'vitest';
import { TandemError, isRetryable } from '../../protocol/errors.ts';
import { canFallBack, errorFromDevice, errorFromFetchFailure, errorFromResponse, isOriginFailure } from './error-mapping.ts';

describe('error mapping', () => {
  it('reads a Tandem error body with its code, request id and Retry-After', async () => {
    const res = new Response(JSON.stringify({ error: { code: 'overloaded', message: 'queue full', request_id: 'r1' } }), {
      status: 503,
      headers: { 'retry-after': '2' },
    });
    const err = await errorFromResponse(res);
    expect([err.code, err.message, err.requestId, err.retryAfterSeconds, err.attempts]).toEqual(['overloaded', 'queue full', 'r1', 2, undefined]);
  });

  it('keeps the origin attempts the edge already made, so they are not retried again', async () => {
    const body = JSON.stringify({ error: { code: 'origin_unavailable', message: 'no origin could answer' } });
    const spent = await errorFromResponse(new Response(body, { status: 502, headers: { 'x-tandem-attempts': '3', 'retry-after': '1' } }));
    expect([spent.attempts, spent.retryAfterSeconds, isRetryable(spent)]).toEqual([3, 1, false]);
    const none = await errorFromResponse(new Response(body, { status: 502, headers: { 'x-tandem-attempts': '0' } }));
    expect([none.attempts, isRetryable(none)]).toEqual([0, true]);
    expect((await errorFromResponse(new Response(body, { status: 502, headers: { 'x-tandem-attempts': 'x' } }))).attempts).toBeUndefined();
  });

  it('maps a body that is not ours by status', async () => {
    expect((await errorFromResponse(new Response('<html>bad gateway</html>', { status: 502 }))).code).toBe('origin_unavailable');
    expect((await errorFromResponse(new Response('nope', { status: 401 }))).code).toBe('unauthorized');
    expect((await errorFromResponse(new Response('', { status: 429 }))).code).toBe('rate_limited');
  });

  it('a failed fetch is offline when the browser says so, else origin_unavailable; an abort is aborted', () => {
    expect(errorFromFetchFailure(new TypeError('Failed to fetch'), false, 'manifest').code).toBe('offline');
    expect(errorFromFetchFailure(new TypeError('Failed to fetch'), true, 'manifest').code).toBe('origin_unavailable');
    expect(errorFromFetchFailure(new DOMException('x', 'AbortError'), true, 'infer').code).toBe('aborted');
    expect(errorFromFetchFailure(new DOMException('x', 'TimeoutError'), true, 'infer').code).toBe('origin_unavailable');
    const typed = new TandemError('rate_limited', 'x');
    expect(errorFromFetchFailure(typed, true, 'x')).toBe(typed);
  });

  it('a device failure is inference_failed unless already typed', () => {
    expect(errorFromDevice(new Error('Out of memory')).code).toBe('inference_failed');
    expect(errorFromDevice(new TandemError('device_unsupported', 'x')).code).toBe('device_unsupported');
  });

  it('caller errors never fall back; tier failures do', () => {
    expect(canFallBack(new TandemError('input_shape_mismatch', 'x'))).toBe(false);
    expect(canFallBack(new TandemError('aborted', 'x'))).toBe(false);
    expect(canFallBack(new TandemError('inference_failed', 'x'))).toBe(true);
    expect(canFallBack(new TandemError('origin_unavailable', 'x'))).toBe(true);
    expect(canFallBack(new Error('worker crashed'))).toBe(true);
    expect(isOriginFailure(new TandemError('unauthorized', 'x'))).toBe(false);
    expect(isOriginFailure(new TandemError('overloaded', 'x'))).toBe(true);
    // A model refused at load, or failing on one input, is an answer about that model: the origin is up.
    expect(isOriginFailure(new TandemError('model_not_ready', 'x'))).toBe(false);
    expect(isOriginFailure(new TandemError('inference_failed', 'x'))).toBe(false);
  });
});
