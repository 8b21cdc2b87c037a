import { describe, expect, it } from 'vitest';
import { beginAttempt, canAttempt, currentState, newBreaker, recordFailure, recordSuccess } from './breaker.ts';

const options = { failureThreshold: 3, cooldownMs: 1000 };

describe('breaker', () => {
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
