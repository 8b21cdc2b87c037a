/**
 * The device runtime: what runs inside the Web Worker behind the contract in `contract.ts`.
 *
 * It downloads (or reads from the model cache) a device variant, checks its SHA-256 before anything else
 * sees it, caches it, and creates an onnxruntime-web session trying one backend at a time. onnxruntime-web
 * silently drops execution providers it cannot start when given a list, so a list would hide which
 * backend really runs; one at a time, each failure is recorded with its reason and the error that ends
 * the attempts lists every cause.
 *
 * Everything environmental is injected (onnxruntime itself, fetch, the caches), so the same code runs in
 * the worker, and in Node tests on onnxruntime-web's real WASM backend.
 */
import { TandemError } from '../../protocol/errors.ts';
import type { NamedTensors, Tensor, TensorDtype } from '../../protocol/tensor.ts';
import { countingFetch, emptyCounts } from '../core/counters.ts';
import { downloadArtifact } from '../core/download.ts';
import { errorFromDevice } from '../core/error-mapping.ts';
import type { ModelCache } from '../core/model-cache.ts';
import type { DeviceBackend } from '../core/placement.ts';
import { DEFAULT_RETRY, type RetryDeps } from '../core/retry.ts';
import type { Warn } from '../core/store.ts';
import type { BackendAttempt, DeviceRuntime, LoadProgress, LoadRequest, LoadResult, RunResult, RuntimeInit, RuntimeStats } from './contract.ts';

/** The slice of onnxruntime-web this runtime uses (so tests can stand in a fake backend). */
export interface OrtSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(feeds: Record<string, OrtTensor>, fetches?: readonly string[]): Promise<Record<string, OrtTensor>>;
  release(): Promise<void>;
}

export interface OrtTensor {
  readonly type: string;
  readonly dims: readonly number[];
  readonly data: unknown;
}

export interface OrtLike {
  env: { wasm: { wasmPaths?: unknown; numThreads?: number; proxy?: boolean } };
  Tensor: new (type: TensorDtype, data: Tensor['data'], dims: readonly number[]) => OrtTensor;
  InferenceSession: { create(model: Uint8Array, options: { executionProviders: string[] }): Promise<OrtSession> };
}

export interface DeviceRuntimeDeps {
  ort: OrtLike;
  fetch: typeof fetch;
  modelCache: ModelCache;
  /** Whether a WebGPU adapter exists in this worker (checked once, before a webgpu attempt). */
  webgpuAvailable?: () => Promise<boolean>;
  online?: () => boolean;
  retryDeps?: RetryDeps;
  warn?: Warn;
  now?: () => number;
}

export function createDeviceRuntime(deps: DeviceRuntimeDeps): DeviceRuntime {
  const now = deps.now ?? (() => performance.now());
  const warn = deps.warn ?? ((message: string, cause?: unknown) => console.warn(`[tandem] ${message}`, cause));
  const counts = emptyCounts();
  const fetcher = countingFetch(deps.fetch, counts);
  const sessions = new Map<string, { session: OrtSession; backend: DeviceBackend }>();
  const inFlight = new Map<string, AbortController>();
  let retryPolicy = DEFAULT_RETRY;
  let timeoutMs: number | undefined;
  let modelCacheHits = 0;
  let modelCacheMisses = 0;
  let nextSession = 0;

  async function createSession(
    bytes: Uint8Array,
    backends: readonly DeviceBackend[],
  ): Promise<{ session: OrtSession; backend: DeviceBackend; attempts: BackendAttempt[] }> {
    const attempts: BackendAttempt[] = [];
    for (const backend of backends) {
      const start = now();
      if (backend === 'webgpu' && !(await (deps.webgpuAvailable?.() ?? Promise.resolve(false)))) {
        attempts.push({ backend, ok: false, reason: 'no WebGPU adapter in this worker', ms: 0 });
        continue;
      }
      try {
        const session = await deps.ort.InferenceSession.create(bytes, { executionProviders: [backend] });
        attempts.push({ backend, ok: true, ms: now() - start });
        return { session, backend, attempts };
      } catch (err) {
        attempts.push({ backend, ok: false, reason: err instanceof Error ? err.message : String(err), ms: now() - start });
      }
    }
    const causes = attempts.map((a) => `${a.backend}: ${a.reason}`).join('; ');
    throw new TandemError('device_unsupported', `no backend could create a session (${causes || 'no backend to try'})`);
  }

  return {
    async init(options: RuntimeInit) {
      if (options.wasmPaths !== undefined) deps.ort.env.wasm.wasmPaths = options.wasmPaths;
      deps.ort.env.wasm.numThreads = options.numThreads;
      retryPolicy = options.retry;
      timeoutMs = options.timeoutMs;
    },

    async load(request: LoadRequest, onProgress?: (progress: LoadProgress) => void): Promise<LoadResult> {
      const controller = new AbortController();
      inFlight.set(request.requestId, controller);
      try {
        const { sha256, bytes: size } = request.artifact;
        const t0 = now();
        let bytes = await deps.modelCache.get(sha256).catch((err: unknown) => {
          warn('model cache read failed; downloading', err);
          return undefined;
        });
        const fromCache = bytes !== undefined;
        let cached = fromCache;
        if (bytes) modelCacheHits++;
        else {
          modelCacheMisses++;
          bytes = await downloadArtifact(request.artifact, {
            fetch: fetcher,
            headers: request.headers,
            signal: controller.signal,
            onProgress: (p) => onProgress?.({ phase: 'download', loaded: p.loaded, total: p.total }),
            retry: retryPolicy,
            ...(timeoutMs !== undefined ? { timeoutMs } : {}),
            ...(deps.retryDeps ? { retryDeps: deps.retryDeps } : {}),
            ...(deps.online ? { online: deps.online } : {}),
          });
        }
        const t1 = now();
        onProgress?.({ phase: 'verify', loaded: size, total: size });
        if (!fromCache) {
          // downloadArtifact returned only after the hash matched; now it is safe to keep.
          try {
            cached = (await deps.modelCache.put({ sha256, bytes: size, modelId: request.modelId, version: request.version }, bytes)).stored;
            if (!cached) warn(`not caching ${request.modelId}: storage quota too short even after eviction`);
          } catch (err) {
            warn('model cache write failed; the model will download again next time', err);
          }
        }
        const t2 = now();
        onProgress?.({ phase: 'session', loaded: size, total: size });
        if (controller.signal.aborted) throw new TandemError('aborted', 'the load was cancelled');
        const { session, backend, attempts } = await createSession(bytes, request.backends);
        const sessionId = `s${++nextSession}`;
        sessions.set(sessionId, { session, backend });
        return {
          sessionId,
          backend,
          attempts,
          fromCache,
          cached,
          timings: { downloadMs: t1 - t0, verifyMs: t2 - t1, sessionMs: now() - t2 },
          inputNames: [...session.inputNames],
          outputNames: [...session.outputNames],
        };
      } finally {
        inFlight.delete(request.requestId);
      }
    },

    async run(sessionId, inputs, outputNames): Promise<RunResult> {
      const entry = sessions.get(sessionId);
      if (!entry) throw new TandemError('model_not_ready', `session ${sessionId} is not loaded (released, or the worker restarted)`);
      const feeds: Record<string, OrtTensor> = {};
      for (const [name, t] of Object.entries(inputs)) feeds[name] = new deps.ort.Tensor(t.dtype, t.data, t.dims);
      const start = now();
      let results: Record<string, OrtTensor>;
      try {
        results = await entry.session.run(feeds, outputNames);
      } catch (err) {
        throw errorFromDevice(err);
      }
      const computeMs = now() - start;
      const outputs: NamedTensors = {};
      for (const [name, t] of Object.entries(results)) outputs[name] = fromOrtTensor(t);
      return { outputs, backend: entry.backend, computeMs };
    },

    async release(sessionId) {
      const entry = sessions.get(sessionId);
      sessions.delete(sessionId);
      await entry?.session.release();
    },

    async cancel(requestId) {
      inFlight.get(requestId)?.abort(new TandemError('aborted', 'the load was cancelled'));
    },

    clearModelCache: () => deps.modelCache.clear(),

    async evictVersions(modelId, versions) {
      const doomed = (await deps.modelCache.list()).filter((m) => m.modelId === modelId && m.version !== undefined && versions.includes(m.version));
      for (const m of doomed) await deps.modelCache.delete(m.sha256);
      return doomed.length;
    },

    async stats(): Promise<RuntimeStats> {
      return { network: { ...counts }, modelCacheHits, modelCacheMisses, sessions: sessions.size };
    },
  };
}

/** An onnxruntime tensor as a plain one. float16 may come back as a Float16Array: keep its raw bits. */
export function fromOrtTensor(t: OrtTensor): Tensor {
  let data = t.data as Tensor['data'];
  if (t.type === 'float16' && !(data instanceof Uint16Array) && ArrayBuffer.isView(data)) {
    const view = data as unknown as ArrayBufferView;
    data = new Uint16Array(view.buffer, view.byteOffset, view.byteLength / 2);
  }
  return { dtype: t.type as TensorDtype, dims: [...t.dims], data } as Tensor;
}
