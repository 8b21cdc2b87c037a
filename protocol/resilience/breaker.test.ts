import { describe, expect, it } from 'vitest';
import { TandemError, isServerFailure } from '../errors.ts';
import { beginAttempt, canAttempt, createCircuitBreaker, currentState, newBreaker, recordAbandoned, recordFailure, recordSuccess } from './breaker.ts';

const options = { failureThreshold: 3, cooldownMs: 1000 };

describe('breaker transitions', () => {
  it('opens after N consecutive failures, not before', () => {
    let b = newBreaker();
    b = recordFailure(b, 0, options);
    b = recordFailure(b, 0, options);
    expect(currentState(b, 0, options)).toBe('closed');
    expect(canAttempt(b, 0, options)).toBe(true);
    b = recordFailure(b, 10, options);
    expect(currentState(b, 10, options)).toBe('open');
    expect(canAttempt(b, 500, options)).toBe(false);
  });

  it('a success resets the failure count', () => {
    let b = recordFailure(recordFailure(newBreaker(), 0, options), 0, options);
    b = recordSuccess(b);
    b = recordFailure(b, 0, options);
    expect(currentState(b, 0, options)).toBe('closed');
  });

  it('half-opens after the cooldown and admits one probe at a time', () => {
    let b = newBreaker();
    for (let i = 0; i < 3; i++) b = recordFailure(b, 0, options);
    expect(currentState(b, 1000, options)).toBe('half-open');
    expect(canAttempt(b, 1000, options)).toBe(true);
    b = beginAttempt(b, 1000, options);
    expect(b.probing).toBe(true);
    expect(canAttempt(b, 1001, options)).toBe(false);
    expect(canAttempt(recordAbandoned(b), 1001, options)).toBe(true);
  });

  it('a good probe closes it; a bad probe reopens it with a fresh cooldown', () => {
    let b = newBreaker();
    for (let i = 0; i < 3; i++) b = recordFailure(b, 0, options);
    const probing = beginAttempt(b, 1000, options);
    expect(currentState(recordSuccess(probing), 1000, options)).toBe('closed');
    const reopened = recordFailure(probing, 1200, options);
    expect(currentState(reopened, 1300, options)).toBe('open');
    expect(currentState(reopened, 2200, options)).toBe('half-open');
  });
});

describe('createCircuitBreaker', () => {
  const fail = () => Promise.reject(new TandemError('origin_unavailable', 'down'));

  it('opens after the threshold of consecutive failures and then fails fast without calling', async () => {
    const now = 0;
    const breaker = createCircuitBreaker({ failureThreshold: 3, cooldownMs: 1000 }, isServerFailure, () => now);
    for (let i = 0; i < 3; i++) await expect(breaker.call(fail)).rejects.toThrow('down');
    expect(breaker.state).toBe('open');
    let called = false;
    await expect(breaker.call(async () => (called = true))).rejects.toMatchObject({ code: 'origin_unavailable', retryAfterSeconds: 1 });
    expect(called).toBe(false);
  });

  it('a success resets the count', async () => {
    const breaker = createCircuitBreaker({ failureThreshold: 2, cooldownMs: 1000 });
    await expect(breaker.call(fail)).rejects.toThrow();
    await breaker.call(async () => 1);
    await expect(breaker.call(fail)).rejects.toThrow();
    expect(breaker.state).toBe('closed');
  });

  it('half-opens after the cooldown: one trial; success closes, failure reopens', async () => {
    let now = 0;
    const breaker = createCircuitBreaker({ failureThreshold: 1, cooldownMs: 1000 }, undefined, () => now);
    await expect(breaker.call(fail)).rejects.toThrow();
    now = 1000;
    expect(breaker.state).toBe('half-open');
    let release!: () => void;
    const trial = breaker.call(() => new Promise<void>((r) => (release = r)));
    await expect(breaker.call(async () => 1)).rejects.toMatchObject({ code: 'origin_unavailable' }); // Only one trial.
    release();
    await trial;
    expect(breaker.state).toBe('closed');
    await expect(breaker.call(fail)).rejects.toThrow();
    now = 2500;
    await expect(breaker.call(fail)).rejects.toThrow('down');
    expect(breaker.state).toBe('open');
  });

  it('typed answers about one request or one model do not count against the upstream', async () => {
    let now = 0;
    const breaker = createCircuitBreaker({ failureThreshold: 1, cooldownMs: 1000 }, isServerFailure, () => now);
    for (const code of ['input_shape_mismatch', 'model_not_ready', 'model_not_found', 'inference_failed', 'rate_limited'] as const) {
      await expect(breaker.call(() => Promise.reject(new TandemError(code, 'x')))).rejects.toThrow();
      expect(breaker.state, code).toBe('closed');
    }
    await expect(breaker.call(() => Promise.reject(new TandemError('overloaded', 'x')))).rejects.toThrow();
    expect(breaker.state).toBe('open');
    // A probe that gets a typed answer shows the upstream up: closed again.
    now = 1000;
    await expect(breaker.call(() => Promise.reject(new TandemError('model_not_ready', 'x')))).rejects.toThrow();
    expect(breaker.state).toBe('closed');
  });
});
