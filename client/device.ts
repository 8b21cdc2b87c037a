/**
 * The device side as the page sees it: the probed capabilities (once), the device runtime (the SDK's Web
 * Worker, started on first use and replaced after a crash), and opening a model variant in it. A crashed
 * worker takes its sessions with it; the model notices (`session.runtime.crashed`) and reopens from the
 * model cache in the new one. Dispose ends the runtime for good: every device call after it rejects.
 */
import { TandemError } from '../protocol/errors.ts';
import type { Manifest } from '../protocol/manifest.ts';
import { withOverrides, type DeviceCapabilities } from './core/capabilities.ts';
import type { PlacementChoice } from './core/placement.ts';
import type { RetryPolicy } from './core/retry.ts';
import type { Warn } from './core/store.ts';
import {
  variantSignature,
  type CachedArtifact,
  type LoadProgress,
  type LoadResult,
  type MicroBatchOptions,
  type RestartableRuntime,
  type RuntimeStats,
} from './runtime/contract.ts';

/** A device session and the runtime that holds it (gone if that runtime crashed). */
export interface DeviceSession extends LoadResult {
  runtime: RestartableRuntime;
}

export interface DeviceDeps {
  /** The edge's base URL, without a trailing slash (artifacts are fetched from it, by the worker). */
  edge: string;
  /** The headers of every edge request (API key, client id). */
  headers: () => Promise<Record<string, string>>;
  probe: () => Promise<DeviceCapabilities>;
  /** The app's overrides of probed capabilities. */
  overrides: Partial<DeviceCapabilities> | undefined;
  /** The first runtime, when the app or a test brings its own. */
  runtime?: RestartableRuntime;
  /** Starts a runtime: the first (unless `runtime` is given) and each one after a crash. */
  startRuntime: () => RestartableRuntime;
  wasmPaths: string | undefined;
  retry: RetryPolicy;
  /** How long an artifact read may stall, and the fixed part of its deadline, ms. */
  timeoutMs: number;
  /** The bytes of weights the runtime's open sessions may hold together (`RuntimeInit.memoryBudgetBytes`). */
  memoryBudgetBytes?: number;
  /** How the runtime coalesces concurrent runs (`RuntimeInit.microBatch`); `false`: never. Default: the runtime's. */
  microBatch?: MicroBatchOptions | false;
  /** Asks for persistent storage (once, on the first device load); undefined: never. */
  persist: (() => Promise<boolean>) | undefined;
  warn: Warn;
}

export interface OpenOptions {
  signal?: AbortSignal;
  onProgress?: (progress: LoadProgress) => void;
}

export interface Device {
  capabilities(): Promise<DeviceCapabilities>;
  /**
   * Starts the runtime if need be, and onnxruntime-web's WASM in it, without waiting: for a load about to
   * open a session here, so that the compile overlaps its manifest and download. What fails is left to
   * the open that follows to report.
   */
  warmUp(): void;
  /** Downloads (or reads from the model cache), verifies and opens `choice.variant` in the runtime. */
  open(manifest: Manifest, choice: PlacementChoice, options?: OpenOptions): Promise<DeviceSession>;
  /** The runtime's counters; undefined before it started or after it crashed (its counts died with it); rejects after dispose. */
  stats(): Promise<RuntimeStats | undefined>;
  clearModelCache(): Promise<void>;
  /** Deletes the cached bytes of these versions of a model (revoked), starting the runtime if need be. */
  evictVersions(modelId: string, versions: string[]): Promise<void>;
  /** The cached artifacts of a model, starting the runtime if need be ([] for a runtime that cannot tell). */
  cachedArtifacts(modelId: string): Promise<CachedArtifact[]>;
  /** Deletes every cached artifact of a model, starting the runtime if need be. */
  evictModel(modelId: string): Promise<void>;
  /** Whether the browser granted persistent storage; undefined until asked. */
  readonly persisted: boolean | undefined;
  /** Terminates the runtime (its calls in flight reject); every later call rejects with `model_not_ready`. */
  dispose(): Promise<void>;
}

/**
 * @example
 * const device = createDevice({ edge, headers, probe: probeCapabilities, overrides: undefined, startRuntime: startWorkerRuntime, wasmPaths: undefined, retry: DEFAULT_RETRY, timeoutMs: 30_000, persist: undefined, warn });
 * const session = await device.open(manifest, decision);
 */
export function createDevice(deps: DeviceDeps): Device {
  let capabilities: Promise<DeviceCapabilities> | undefined;
  let runtime: Promise<RestartableRuntime> | undefined;
  let runtimeStarts = 0;
  let nextRequest = 0;
  let persisted: boolean | undefined;
  /** The runtime asked to warm up (one ask per runtime: a new one after a crash is asked again). */
  let warmed: RestartableRuntime | undefined;
  /** The runtime started last, before its `init` answers: dispose must not wait on that. */
  let newest: RestartableRuntime | undefined;
  /** Set by dispose: no runtime starts again, so later calls cannot wait on a terminated worker forever. */
  let disposed: TandemError | undefined;

  const getCapabilities = () => (capabilities ??= deps.probe().then((probed) => withOverrides(probed, deps.overrides)));

  const getRuntime = async (): Promise<RestartableRuntime> => {
    const current = runtime;
    const started = current && (await current.catch(() => undefined));
    if (disposed) throw disposed;
    if (started?.crashed && runtime === current) {
      // A crashed worker is replaced on next use; the sessions it held died with it.
      started.terminate?.();
      runtime = undefined;
      deps.warn('the device runtime crashed; starting a new one');
    }
    return (runtime ??= (async () => {
      const rt = (newest = ++runtimeStarts === 1 && deps.runtime ? deps.runtime : deps.startRuntime());
      const caps = await getCapabilities();
      await rt.init({
        ...(deps.wasmPaths !== undefined ? { wasmPaths: deps.wasmPaths } : {}),
        numThreads: caps.crossOriginIsolated ? Math.min(4, caps.cores ?? 1) : 1,
        retry: deps.retry,
        timeoutMs: deps.timeoutMs,
        ...(deps.memoryBudgetBytes !== undefined ? { memoryBudgetBytes: deps.memoryBudgetBytes } : {}),
        ...(deps.microBatch !== undefined ? { microBatch: deps.microBatch } : {}),
      });
      return rt;
    })());
  };

  const askPersistence = () => {
    if (!deps.persist || persisted !== undefined) return;
    persisted = false;
    deps.persist().then(
      (ok) => (persisted = ok),
      (err: unknown) => deps.warn('navigator.storage.persist() failed', err),
    );
  };

  return {
    capabilities: getCapabilities,
    warmUp() {
      void (async () => {
        const rt = await getRuntime();
        if (warmed === rt || !(await getCapabilities()).wasm) return;
        warmed = rt;
        await rt.warmUp?.();
      })().catch(() => {});
    },
    async open(manifest, choice, options = {}) {
      const rt = await getRuntime();
      // Aborted while the runtime started (a model disposed at once): no download, no session.
      if (options.signal?.aborted) throw new TandemError('aborted', `${manifest.id}: the device load was aborted`);
      askPersistence();
      const { sha256, bytes } = choice.variant.artifact;
      const requestId = `load-${++nextRequest}`;
      const onAbort = () => void rt.cancel(requestId);
      options.signal?.addEventListener('abort', onAbort, { once: true });
      try {
        const loaded = await rt.load(
          {
            requestId,
            modelId: manifest.id,
            version: manifest.version,
            variant: choice.variant.name,
            artifact: { url: `${deps.edge}/v1/artifacts/${sha256}`, sha256, bytes },
            headers: await deps.headers(),
            backends: choice.backends,
            signature: variantSignature(choice.variant),
          },
          options.onProgress,
        );
        return { ...loaded, runtime: rt };
      } finally {
        options.signal?.removeEventListener('abort', onAbort);
      }
    },
    async stats() {
      if (disposed) throw disposed;
      return runtime ? runtime.then((rt) => rt.stats()).catch(() => undefined) : undefined;
    },
    async clearModelCache() {
      await (await getRuntime()).clearModelCache();
    },
    async evictVersions(modelId, versions) {
      await (await getRuntime()).evictVersions?.(modelId, versions);
    },
    async cachedArtifacts(modelId) {
      return (await (await getRuntime()).cachedArtifacts?.(modelId)) ?? [];
    },
    async evictModel(modelId) {
      await (await getRuntime()).evictModel?.(modelId);
    },
    get persisted() {
      return persisted;
    },
    async dispose() {
      disposed ??= new TandemError('model_not_ready', 'the Tandem instance was disposed');
      newest?.terminate?.();
    },
  };
}
