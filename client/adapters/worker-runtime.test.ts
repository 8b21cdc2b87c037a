import { afterEach, describe, expect, it, vi } from 'vitest';
import { TandemError } from '../../protocol/errors.ts';
import { startWorkerRuntime } from './worker-runtime.ts';

/** A Worker that never answers, as a terminated one does: only an `error` event or `terminate()` can end a call. */
class SilentWorker extends EventTarget {
  static last: SilentWorker | undefined;
  terminated = false;
  constructor() {
    super();
    SilentWorker.last = this;
  }
  postMessage() {}
  terminate() {
    this.terminated = true;
  }
}

afterEach(() => {
  vi.unstubAllGlobals();
});

const notReady = { name: 'TandemError', code: 'model_not_ready' };
const input = { x: { dtype: 'float32' as const, dims: [1, 1], data: Float32Array.of(1) } };

describe('startWorkerRuntime', () => {
  it('terminate() rejects the calls pending (comlink calls and runs), and every later one', async () => {
    vi.stubGlobal('Worker', SilentWorker);
    const runtime = startWorkerRuntime();
    const pending = [runtime.init({ numThreads: 1, retry: { attempts: 1, baseDelayMs: 1, maxDelayMs: 1 } }), runtime.stats(), runtime.run('s1', input)];
    runtime.terminate?.();
    expect(SilentWorker.last!.terminated).toBe(true);
    for (const call of pending) await expect(call).rejects.toMatchObject(notReady);
    expect(runtime.crashed).toBe(true);
    await expect(runtime.run('s1', input)).rejects.toMatchObject(notReady);
    await expect(runtime.clearModelCache()).rejects.toMatchObject(notReady);
  });

  it('a crash keeps its cause when the crashed worker is terminated', async () => {
    vi.stubGlobal('Worker', SilentWorker);
    const runtime = startWorkerRuntime();
    const run = runtime.run('s1', input);
    SilentWorker.last!.dispatchEvent(Object.assign(new Event('error'), { message: 'out of memory' }));
    runtime.terminate?.();
    await expect(run).rejects.toThrow(TandemError);
    await expect(runtime.stats()).rejects.toMatchObject({ code: 'inference_failed', message: expect.stringContaining('out of memory') });
  });
});
