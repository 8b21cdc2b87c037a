/**
 * Starts the module Web Worker and wraps it with comlink as a `DeviceRuntime`. `new Worker(new URL(...,
 * import.meta.url), { type: 'module' })` is the form bundlers (Vite) recognise and bundle; the SDK's build
 * keeps it, pointed at dist/worker.js, for the app's bundler (client/vite.config.ts). Runs go over a
 * channel of their own (runtime/run-port.ts: large tensors transferred, never the caller's own buffers).
 * Neither comlink nor the run channel rejects calls pending on a worker that died, so every call
 * races the worker's `error` event and fails with `inference_failed`: the SDK then falls back to the
 * origin, and replaces this runtime (`crashed`) on its next device call. `terminate()` fires no event, so
 * it rejects the calls pending itself (`model_not_ready`, as a disposed model's runs do), and later ones.
 */
import { proxy, transfer, wrap, type Remote } from 'comlink';
import { TandemError } from '../../protocol/errors.ts';
import { installErrorTransfer, type DeviceRuntime, type RestartableRuntime } from '../runtime/contract.ts';
import { runOverPort } from '../runtime/run-port.ts';
import type { WorkerApi } from '../runtime/worker.ts';

/** Typed `Required`: a member the contract adds and this wrapper forgets is a compile error, not a no-op in browsers. */
export function startWorkerRuntime(): RestartableRuntime & Required<DeviceRuntime> {
  installErrorTransfer();
  const worker = new Worker(new URL('../runtime/worker.ts', import.meta.url), { type: 'module', name: 'tandem-runtime' });
  const remote: Remote<WorkerApi> = wrap<WorkerApi>(worker);
  // Runs take a channel of their own (run-port.ts); the worker hears of it before any run can arrive.
  const { port1, port2 } = new MessageChannel();
  remote.attachRunPort(transfer(port2, [port2])).catch(() => {}); // A dead worker is reported by the error event below.
  const runs = runOverPort(port1);
  // The worker's runtime has every optional member of the contract.
  const full = remote as Remote<Required<DeviceRuntime>>;
  let crash: TandemError | undefined;
  let rejectAll: ((err: TandemError) => void)[] = [];
  /** Ends every call for good: those pending reject now, later ones at once. The first cause stays. */
  const fail = (err: TandemError) => {
    crash ??= err;
    for (const reject of rejectAll) reject(crash);
    rejectAll = [];
  };
  worker.addEventListener('error', (event) => {
    // A worker whose script failed to load reports an error event with no message.
    const why = event.message || "it did not start (is the SDK's worker.js served where index.js is?) or died without a message";
    fail(new TandemError('inference_failed', `the Tandem worker crashed: ${why}`));
  });
  const guarded = <T>(call: () => Promise<T>): Promise<T> => {
    if (crash) return Promise.reject(crash);
    return new Promise<T>((resolve, reject) => {
      rejectAll.push(reject);
      call()
        .then(resolve, reject)
        .finally(() => (rejectAll = rejectAll.filter((r) => r !== reject)));
    });
  };
  return {
    get crashed() {
      return crash !== undefined;
    },
    init: (options) => guarded(() => remote.init(options)),
    load: (request, onProgress) => guarded(() => remote.load(request, onProgress ? proxy(onProgress) : undefined)),
    run: (sessionId, inputs, outputNames, options) => guarded(() => runs(sessionId, inputs, outputNames, options)),
    release: (sessionId) => guarded(() => remote.release(sessionId)),
    cancel: (requestId) => guarded(() => remote.cancel(requestId)),
    clearModelCache: () => guarded(() => remote.clearModelCache()),
    evictVersions: (modelId, versions) => guarded(() => full.evictVersions(modelId, versions)),
    cachedArtifacts: (modelId) => guarded(() => full.cachedArtifacts(modelId)),
    evictModel: (modelId) => guarded(() => full.evictModel(modelId)),
    warmUp: () => guarded(() => full.warmUp()),
    stats: () => guarded(() => remote.stats()),
    terminate: () => {
      worker.terminate();
      fail(new TandemError('model_not_ready', 'the Tandem worker was terminated'));
    },
  };
}
