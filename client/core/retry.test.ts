import { describe, expect, it, vi } from 'vitest';
import { TandemError } from '../../protocol/errors.ts';
import { abortableSleep, backoffDelay, isTransient, retry, type RetryPolicy } from './retry.ts';

const policy: RetryPolicy = { attempts: 4, baseDelayMs: 100, maxDelayMs: 1000 };

describe('backoffDelay', () => {
  it('is full jitter under an exponential ceiling capped at maxDelayMs', () => {
    expect([0, 1, 2, 3, 4].map((a) => backoffDelay(policy, a, 0.999999))).toEqual([99, 199, 399, 799, 999]);
    expect(backoffDelay(policy, 3, 0)).toBe(0);
    expect(backoffDelay(policy, 1, 0.5)).toBe(100);
  });

  it('waits at least what Retry-After asks, within maxDelayMs', () => {
    expect(backoffDelay(policy, 0, 0, 500)).toBe(500);
    expect(backoffDelay(policy, 0, 0, 60_000)).toBe(1000);
  });
});

describe('retry', () => {
  const transient = () => new TandemError('overloaded', 'busy', { retryAfterSeconds: 0.3 });

  it('retries transient errors with backoff, then succeeds', async () => {
    const sleeps: number[] = [];
    const task = vi.fn().mockRejectedValueOnce(transient()).mockRejectedValueOnce(new TandemError('origin_unavailable', 'down')).mockResolvedValue('ok');
    const result = await retry(task, policy, {}, { sleep: async (ms) => void sleeps.push(ms), random: () => 0.5 });
    expect(result).toBe('ok');
    expect(task).toHaveBeenCalledTimes(3);
    expect(sleeps).toEqual([300, 100]); // Retry-After 0.3 s beats jitter; then 0.5 × 200.
  });

  it('gives up after `attempts` and throws the last error', async () => {
    const task = vi.fn().mockRejectedValue(new TandemError('origin_unavailable', 'down'));
    await expect(retry(task, policy, {}, { sleep: async () => {} })).rejects.toMatchObject({ code: 'origin_unavailable' });
    expect(task).toHaveBeenCalledTimes(4);
  });

  it('does not retry a caller error', async () => {
    const task = vi.fn().mockRejectedValue(new TandemError('input_shape_mismatch', 'no'));
    await expect(retry(task, policy, {}, { sleep: async () => {} })).rejects.toMatchObject({ code: 'input_shape_mismatch' });
    expect(task).toHaveBeenCalledTimes(1);
    expect(isTransient(new Error('plain'))).toBe(false);
  });

  it('an abort stops the wait at once', async () => {
    const controller = new AbortController();
    const task = vi.fn().mockRejectedValue(transient());
    const started = Date.now();
    const p = retry(task, { ...policy, baseDelayMs: 10_000, maxDelayMs: 10_000 }, { signal: controller.signal }, { random: () => 0.99 });
    setTimeout(() => controller.abort(), 20);
    await expect(p).rejects.toMatchObject({ code: 'aborted' });
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('an already aborted signal never runs the task', async () => {
    const task = vi.fn();
    await expect(retry(task, policy, { signal: AbortSignal.abort() })).rejects.toMatchObject({ code: 'aborted' });
    expect(task).not.toHaveBeenCalled();
    await expect(abortableSleep(10, AbortSignal.abort())).rejects.toMatchObject({ code: 'aborted' });
  });
});
