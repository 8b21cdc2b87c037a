import { describe, expect, it, vi } from 'vitest';
import { TandemError } from '../../protocol/errors.ts';
import { abortableSleep, retry, type RetryPolicy } from './retry.ts';

const policy: RetryPolicy = { attempts: 4, baseDelayMs: 100, maxDelayMs: 1000 };

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
  });

  it("does not retry what a tier that owns the retries already retried (the edge's origin attempts)", async () => {
    const spent = new TandemError('origin_unavailable', 'no origin could answer', { attempts: 3 });
    const task = vi.fn().mockRejectedValue(spent);
    await expect(retry(task, policy, {}, { sleep: async () => {} })).rejects.toBe(spent);
    expect(task).toHaveBeenCalledTimes(1);
    // No origin was tried (every breaker open; the edge's rate limit): the client may try again.
    const none = vi
      .fn()
      .mockRejectedValueOnce(new TandemError('origin_unavailable', 'every origin is marked down', { attempts: 0 }))
      .mockResolvedValue('ok');
    expect(await retry(none, policy, {}, { sleep: async () => {} })).toBe('ok');
  });

  it('retries by the error table: not a bug (internal) nor a model refused at load', async () => {
    for (const code of ['internal', 'model_not_ready', 'inference_failed'] as const) {
      const task = vi.fn().mockRejectedValue(new TandemError(code, 'x'));
      await expect(retry(task, policy, {}, { sleep: async () => {} })).rejects.toMatchObject({ code });
      expect(task, code).toHaveBeenCalledTimes(1);
    }
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
