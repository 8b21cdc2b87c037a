import { describe, expect, it } from 'vitest';
import { TandemError } from '../../protocol/errors.ts';
import { abortError, untilAborted, webAbort } from './abort.ts';

describe('abortError', () => {
  it("is the signal's DOMException reason, as fetch rejects: AbortError, or TimeoutError from AbortSignal.timeout", () => {
    const c = new AbortController();
    c.abort();
    expect(abortError(c.signal)).toBe(c.signal.reason);
    expect(abortError(c.signal)).toMatchObject({ name: 'AbortError' });
    const timeout = new DOMException('late', 'TimeoutError');
    expect(abortError(AbortSignal.abort(timeout))).toBe(timeout);
  });

  it('is a new AbortError DOMException for any other reason, which it keeps as cause', () => {
    const why = new Error('user left');
    const err = abortError(AbortSignal.abort(why));
    expect(err).toBeInstanceOf(DOMException);
    expect(err.name).toBe('AbortError');
    expect((err as { cause?: unknown }).cause).toBe(why);
  });
});

describe('webAbort', () => {
  it('rejects at once with AbortError when the signal is already aborted, without starting the task', async () => {
    let started = false;
    await expect(
      webAbort(AbortSignal.abort(), async () => {
        started = true;
      }),
    ).rejects.toMatchObject({ name: 'AbortError' });
    expect(started).toBe(false);
  });

  it('turns an internal `aborted` into AbortError once the signal fired, and leaves other errors alone', async () => {
    const c = new AbortController();
    const aborting = webAbort(c.signal, async () => {
      c.abort();
      throw new TandemError('aborted', 'x');
    });
    await expect(aborting).rejects.toBeInstanceOf(DOMException);
    await expect(webAbort(new AbortController().signal, () => Promise.reject(new TandemError('offline', 'x')))).rejects.toMatchObject({ code: 'offline' });
    await expect(webAbort(undefined, async () => 7)).resolves.toBe(7);
  });
});

describe('untilAborted', () => {
  it('ends the wait at the abort, drops the late answer, and removes its listener', async () => {
    const c = new AbortController();
    let listeners = 0;
    const add = c.signal.addEventListener.bind(c.signal);
    const remove = c.signal.removeEventListener.bind(c.signal);
    c.signal.addEventListener = ((...args: Parameters<typeof add>) => (listeners++, add(...args))) as typeof add;
    c.signal.removeEventListener = ((...args: Parameters<typeof remove>) => (listeners--, remove(...args))) as typeof remove;
    let finish!: (v: string) => void;
    const work = new Promise<string>((resolve) => (finish = resolve));
    const waiting = untilAborted(work, c.signal);
    expect(listeners).toBe(1);
    c.abort();
    await expect(waiting).rejects.toMatchObject({ code: 'aborted' });
    finish('late');
    await work;
    await Promise.resolve();
    expect(listeners).toBe(0);
  });

  it('passes the answer through when no abort comes, and handles a late rejection after one', async () => {
    await expect(untilAborted(Promise.resolve(1), new AbortController().signal)).resolves.toBe(1);
    const c = new AbortController();
    let fail!: (e: Error) => void;
    const work = new Promise<never>((_, reject) => (fail = reject));
    const waiting = untilAborted(work, c.signal);
    c.abort();
    await expect(waiting).rejects.toMatchObject({ code: 'aborted' });
    fail(new Error('worker failed later')); // handled: no unhandled rejection fails the run
    await expect(untilAborted(Promise.resolve(1), AbortSignal.abort())).rejects.toMatchObject({ code: 'aborted' });
  });
});
