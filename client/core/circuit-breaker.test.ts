import { describe, expect, it } from 'vitest';
import { TandemError } from '../../protocol/errors.ts';
import { createCircuitBreaker } from './circuit-breaker.ts';
import { isOriginFailure } from './error-mapping.ts';

const fail = () => Promise.reject(new TandemError('origin_unavailable', 'down'));

describe('circuit breaker', () => {
  it('opens after the threshold of consecutive failures and then fails fast without calling', async () => {
    let now = 0;
    const breaker = createCircuitBreaker({ failureThreshold: 3, cooldownMs: 1000 }, isOriginFailure, () => now);
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

  it('caller errors (a bad input) do not count against the origin', async () => {
    const breaker = createCircuitBreaker({ failureThreshold: 1, cooldownMs: 1000 }, isOriginFailure);
    await expect(breaker.call(() => Promise.reject(new TandemError('input_shape_mismatch', 'x')))).rejects.toThrow();
    expect(breaker.state).toBe('closed');
  });
});
