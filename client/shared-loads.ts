/**
 * One load per model and placement, shared by every caller, and kept (bounded) once done. The shared load
 * runs on its own signal, aborted only when every caller waiting on it has aborted: one caller giving up
 * must not cancel the others' download.
 *
 * Done loads past the bound go, least recently used first, and `onEvict` hears of each: a dropped model
 * releases its device session (else a second `load` of it would open a second one beside the first).
 */
import { TandemError } from '../protocol/errors.ts';
import { memoizePromises } from '../protocol/resilience/memo.ts';

export interface SharedLoads<T> {
  /**
   * The load under `key`, started with `start(signal)` unless one is in flight or done. `signal` aborts
   * this caller's wait (with `aborted`), and the load itself once no caller waits any more.
   */
  get(key: string, start: (signal: AbortSignal) => Promise<T>, signal?: AbortSignal): Promise<T>;
  /**
   * Forgets a load (a disposed model), so the next caller starts afresh. With `value`, only if the load
   * under `key` produced that value (a model disposed after the bound dropped it must not forget its successor).
   */
  delete(key: string, value?: T): void;
  clear(): void;
}

/**
 * @example
 * const loads = sharedLoads<TandemModel>(8, (model) => void model.release());
 * const model = await loads.get(`${id}|${mode}`, (signal) => loadModel(id, signal), options.signal);
 */
export function sharedLoads<T>(maxEntries: number, onEvict?: (value: T) => void): SharedLoads<T> {
  /** What each done load produced, to tell `delete(key, value)` whether it is still the one under `key`. */
  const done = new Map<string, T>();
  const loads = memoizePromises<T>(maxEntries, (key) => {
    const value = done.get(key);
    done.delete(key);
    if (value !== undefined) onEvict?.(value);
  });
  const inFlight = new Map<string, { controller: AbortController; waiters: number }>();
  return {
    get(key, start, signal) {
      const shared = loads.get(key, () => {
        const sharing = { controller: new AbortController(), waiters: 0 };
        inFlight.set(key, sharing);
        const promise = start(sharing.controller.signal);
        const forget = () => {
          if (inFlight.get(key) === sharing) inFlight.delete(key);
        };
        promise.then((value) => {
          forget();
          done.set(key, value);
        }, forget);
        return promise;
      });
      const sharing = inFlight.get(key); // undefined once the load has settled
      if (sharing) sharing.waiters++;
      if (!signal) return shared; // A caller without a signal waits to the end: the load is never aborted.
      return new Promise<T>((resolve, reject) => {
        const onAbort = () => {
          reject(new TandemError('aborted', 'the load was aborted', { cause: signal.reason }));
          if (sharing && --sharing.waiters === 0) {
            // Nobody waits any more: cancel it, and forget it now so the next caller starts afresh.
            sharing.controller.abort(signal.reason);
            loads.delete(key);
            inFlight.delete(key);
          }
        };
        if (signal.aborted) return onAbort();
        signal.addEventListener('abort', onAbort, { once: true });
        shared.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
      });
    },
    delete(key, value) {
      if (value !== undefined && done.get(key) !== value) return;
      done.delete(key);
      loads.delete(key);
    },
    clear() {
      done.clear();
      loads.clear();
    },
  };
}
