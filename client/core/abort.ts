/**
 * Aborts as the web does them. Inside the SDK an abort is a TandemError `aborted` (it must not fall back
 * to another tier, nor be served stale); at the public edge (`load`, `run`) it becomes what `fetch`
 * rejects with, so an app's `err.name === 'AbortError'` works unchanged: the signal's reason when that is
 * a DOMException (`AbortError`, or `TimeoutError` from `AbortSignal.timeout()`), else a new `AbortError`.
 * A wait on work that cannot be stopped (a device run already computing in the Web Worker) ends at the
 * abort; the work's result is dropped when it arrives.
 */
import { TandemError } from '../../protocol/errors.ts';

/**
 * What an aborted call rejects with, as `fetch` does.
 * @example
 * if (signal.aborted) throw abortError(signal);
 */
export function abortError(signal: AbortSignal): DOMException {
  const reason: unknown = signal.reason;
  if (reason instanceof DOMException && (reason.name === 'AbortError' || reason.name === 'TimeoutError')) return reason;
  const err = new DOMException('The operation was aborted.', 'AbortError');
  // The app's own reason (`controller.abort(why)`), kept where the app can find it.
  if (reason !== undefined) Object.defineProperty(err, 'cause', { value: reason, configurable: true, writable: true });
  return err;
}

/**
 * Runs `task`, and once `signal` has fired turns whatever it rejected with into `abortError(signal)`: the
 * public face of a call whose internals throw TandemError `aborted`. Already aborted: rejects at once.
 * @example
 * return webAbort(options.signal, () => run(inputs, options));
 */
export async function webAbort<T>(signal: AbortSignal | undefined, task: () => Promise<T>): Promise<T> {
  if (signal?.aborted) throw abortError(signal);
  try {
    return await task();
  } catch (err) {
    if (signal?.aborted) throw abortError(signal);
    throw err;
  }
}

/**
 * `work`, or TandemError `aborted` as soon as `signal` fires, whichever comes first. The listener goes
 * when either settles; what `work` settles with after an abort is dropped (its rejection handled).
 * @example
 * const result = await untilAborted(runtime.run(sessionId, inputs), signal);
 */
export function untilAborted<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return work;
  if (signal.aborted) {
    work.catch(() => {});
    return Promise.reject(new TandemError('aborted', 'the operation was aborted', { cause: signal.reason }));
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      work.catch(() => {});
      reject(new TandemError('aborted', 'the operation was aborted', { cause: signal.reason }));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
