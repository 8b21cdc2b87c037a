/**
 * The device runtime: what runs inside the Web Worker behind the contract in `contract.ts`.
 *
 * It downloads (or reads from the model cache) a device variant, checks its SHA-256 before anything else
 * sees it, caches it, and creates an onnxruntime-web session trying one backend at a time. onnxruntime-web
 * silently drops execution providers it cannot start when given a list, so a list would hide which
 * backend really runs; one at a time, each failure is recorded with its reason and the error that ends
 * the attempts lists every cause.
 *
 * Memory: every session counts the bytes of its model's weights (the artifact's size, as the manifest
 * states it) against a budget (`RuntimeInit.memoryBudgetBytes`). Before a session opens, the least
 * recently used ones are released (`session.release()`) until it fits; a model larger than the whole
 * budget still opens, alone. A released session's handle stays valid: its next run reopens it from the
 * model cache (or downloads again), evicting others in turn. A session released while a run is using it
 * is released when that run ends.
 *
 * Start-up: onnxruntime-web compiles its WASM (seconds on a first visit) inside its first session's
 * creation. `warmUp` starts it early with a 94-byte model (`warm-model.ts`), so that it overlaps the
 * manifest check and the download; and a downloaded artifact is written to the model cache while its
 * session is created, not before.
 *
 * Concurrent runs of a session whose variant can batch are coalesced into one `session.run`
 * (`micro-batch.ts`, `RuntimeInit.microBatch`); the others run as they come.
 *
 * Everything environmental is injected (onnxruntime itself, fetch, the caches), so the same code runs in
 * the worker, and in Node tests on onnxruntime-web's real WASM backend.
 */
import { TandemError } from '../../protocol/errors.ts';
import { tensorsByName, type NamedTensors, type Tensor, type TensorDtype } from '../../protocol/tensor.ts';
import { countingFetch, emptyCounts } from '../core/counters.ts';
import { downloadArtifact } from '../core/download.ts';
import { errorFromDevice } from '../core/error-mapping.ts';
import type { ModelCache } from '../core/model-cache.ts';
import type { DeviceBackend } from '../core/placement.ts';
import { DEFAULT_RETRY, type RetryDeps } from '../core/retry.ts';
import type { Warn } from '../core/store.ts';
import {
  DEFAULT_MEMORY_BUDGET_BYTES,
  DEFAULT_MICRO_BATCH,
  type BackendAttempt,
  type MicroBatchOptions,
  type DeviceRuntime,
  type LoadProgress,
  type LoadRequest,
  type LoadResult,
  type RunResult,
  type RuntimeInit,
  type RuntimeStats,
} from './contract.ts';
import { batchingRefusal, createMicroBatcher, type MicroBatcher } from './micro-batch.ts';
import { WARM_MODEL_BYTES } from './warm-model.ts';

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
  /** Schedules a micro-batch dispatch on the next task (micro-batch.ts `nextTask`). */
  nextTask?: (fn: () => void) => void;
}

/** An open session as the memory budget sees it. */
export interface BudgetedSession {
  id: string;
  /** The bytes of its model's weights (the artifact's size). */
  bytes: number;
  /** Grows with each use: the smallest is the least recently used. */
  lastUsed: number;
}

/**
 * Which open sessions to release, least recently used first, so that one more of `needBytes` fits in
 * `budgetBytes` beside `pinnedBytes` (sessions that cannot go now: being created, or running). When even
 * releasing all of them is not enough, all go and the new session opens alone.
 * @example
 * sessionsToRelease([{ id: 'a', bytes: 60, lastUsed: 1 }, { id: 'b', bytes: 30, lastUsed: 2 }], 40, 100); // ['a']
 */
export function sessionsToRelease(open: readonly BudgetedSession[], needBytes: number, budgetBytes: number, pinnedBytes = 0): string[] {
  let used = pinnedBytes + open.reduce((sum, s) => sum + s.bytes, 0);
  const victims: string[] = [];
  for (const s of [...open].sort((a, b) => a.lastUsed - b.lastUsed)) {
    if (used + needBytes <= budgetBytes) break;
    victims.push(s.id);
    used -= s.bytes;
  }
  return victims;
}

/** A session handed to the page: open, or released by the budget and reopened on its next run. */
interface Entry {
  readonly id: string;
  /** What opened it, to open it again (its headers too, should the bytes have to be downloaded again). */
  readonly request: LoadRequest;
  readonly bytes: number;
  backend: DeviceBackend;
  session: OrtSession | undefined;
  reopening: Promise<OrtSession> | undefined;
  lastUsed: number;
  /** Coalesces its concurrent runs; absent when micro-batching is off or the variant cannot batch. */
  batcher: MicroBatcher | undefined;
}

/** Tries before a run gives up on a session that the budget keeps taking back (models racing for too small a budget). */
const REOPEN_TRIES = 3;

export function createDeviceRuntime(deps: DeviceRuntimeDeps): DeviceRuntime {
  const now = deps.now ?? (() => performance.now());
  const warn = deps.warn ?? ((message: string, cause?: unknown) => console.warn(`[tandem] ${message}`, cause));
  const counts = emptyCounts();
  const fetcher = countingFetch(deps.fetch, counts);
  const entries = new Map<string, Entry>();
  /** Runs in progress per session: a running session is never released under it. */
  const running = new Map<OrtSession, number>();
  /** Sessions the page released while a run used them: released when that run ends. */
  const releaseAfterRun = new Set<OrtSession>();
  /** Loads and queued runs that `cancel` can abort, by request id. */
  const inFlight = new Map<string, AbortController>();
  let microBatch: MicroBatchOptions | false = DEFAULT_MICRO_BATCH;
  const batching = { runs: 0, callers: 0 };
  let retryPolicy = DEFAULT_RETRY;
  let timeoutMs: number | undefined;
  let budgetBytes = DEFAULT_MEMORY_BUDGET_BYTES;
  /** Bytes of sessions being created (counted against the budget before they exist). */
  let reserved = 0;
  let tick = 0;
  let modelCacheHits = 0;
  let modelCacheMisses = 0;
  let nextSession = 0;
  const memory = { released: 0, reopened: 0, peakSessions: 0, peakBytes: 0 };
  /**
   * onnxruntime-web's start: the first session creation (the warm-up's or a model's), settled. Every later
   * creation waits for it, since onnxruntime-web throws "multiple calls to 'initWasm()'" when a second
   * backend starts while the first is starting (and then refuses that backend for good). Never rejects.
   */
  let ortStart: Promise<void> | undefined;

  const openEntries = () => [...entries.values()].filter((e) => e.session !== undefined);
  /** A loop, not `openEntries()`: every run asks (`afterRun`). */
  const openBytes = () => {
    let sum = 0;
    for (const e of entries.values()) if (e.session !== undefined) sum += e.bytes;
    return sum;
  };
  const openCount = () => openEntries().length + releaseAfterRun.size;

  async function releaseNow(session: OrtSession): Promise<void> {
    try {
      await session.release();
    } catch (err) {
      warn('releasing a session failed', err);
    }
  }

  /**
   * Releases the least recently used idle sessions so that `needBytes` more fit, and reserves them. Runs
   * synchronously up to the releases, so two loads at once cannot both count the same room.
   */
  function makeRoom(needBytes: number): Promise<void> {
    const idle: BudgetedSession[] = [];
    let pinned = reserved;
    for (const e of openEntries()) {
      if (running.has(e.session!)) pinned += e.bytes;
      else idle.push({ id: e.id, bytes: e.bytes, lastUsed: e.lastUsed });
    }
    const victims = sessionsToRelease(idle, needBytes, budgetBytes, pinned).map((id) => {
      const e = entries.get(id)!;
      const session = e.session!;
      e.session = undefined;
      memory.released++;
      return session;
    });
    reserved += needBytes;
    return Promise.all(victims.map(releaseNow)).then(() => undefined);
  }

  async function readBytes(
    request: LoadRequest,
    signal: AbortSignal | undefined,
    onProgress?: (progress: LoadProgress) => void,
  ): Promise<{ bytes: Uint8Array; fromCache: boolean; stored: Promise<boolean> }> {
    const { sha256, bytes: size } = request.artifact;
    const cachedBytes = await deps.modelCache.get(sha256, { modelId: request.modelId, version: request.version }).catch((err: unknown) => {
      warn('model cache read failed; downloading', err);
      return undefined;
    });
    if (cachedBytes) {
      modelCacheHits++;
      return { bytes: cachedBytes, fromCache: true, stored: Promise.resolve(true) };
    }
    modelCacheMisses++;
    const bytes = await downloadArtifact(request.artifact, {
      fetch: fetcher,
      headers: request.headers,
      ...(signal ? { signal } : {}),
      onProgress: (p) => onProgress?.({ phase: 'download', loaded: p.loaded, total: p.total }),
      retry: retryPolicy,
      ...(timeoutMs !== undefined ? { timeoutMs } : {}),
      ...(deps.retryDeps ? { retryDeps: deps.retryDeps } : {}),
      ...(deps.online ? { online: deps.online } : {}),
    });
    onProgress?.({ phase: 'verify', loaded: size, total: size });
    // downloadArtifact returned only after the hash matched; now it is safe to keep. Not awaited here:
    // the write goes on while the session is created.
    const stored = deps.modelCache.put({ sha256, bytes: size, modelId: request.modelId, version: request.version }, bytes).then(
      (put) => {
        if (!put.stored) warn(`not caching ${request.modelId}: storage quota too short even after eviction`);
        return put.stored;
      },
      (err: unknown) => {
        warn('model cache write failed; the model will download again next time', err);
        return false;
      },
    );
    return { bytes, fromCache: false, stored };
  }

  /** `InferenceSession.create` on one backend, after onnxruntime-web's start (`ortStart`) if another began it. */
  function createOrtSession(bytes: Uint8Array, backend: DeviceBackend): Promise<OrtSession> {
    const create = () => deps.ort.InferenceSession.create(bytes, { executionProviders: [backend] });
    if (ortStart) return ortStart.then(create);
    const first = create();
    ortStart = first.then(
      () => undefined,
      () => undefined,
    );
    return first;
  }

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
        const session = await createOrtSession(bytes, backend);
        attempts.push({ backend, ok: true, ms: now() - start });
        return { session, backend, attempts };
      } catch (err) {
        attempts.push({ backend, ok: false, reason: err instanceof Error ? err.message : String(err), ms: now() - start });
      }
    }
    const causes = attempts.map((a) => `${a.backend}: ${a.reason}`).join('; ');
    throw new TandemError('device_unsupported', `no backend could create a session (${causes || 'no backend to try'})`);
  }

  /** Opens `entry`'s session within the budget; the entry holds it before the room reserved for it is given back. */
  async function open(entry: Entry, bytes: Uint8Array, backends: readonly DeviceBackend[]): Promise<BackendAttempt[]> {
    const room = makeRoom(entry.bytes);
    try {
      await room;
      const created = await createSession(bytes, backends);
      if (entries.get(entry.id) !== entry) {
        // Released by the page while it opened.
        await releaseNow(created.session);
        throw new TandemError('model_not_ready', `session ${entry.id} was released while it opened`);
      }
      entry.session = created.session;
      entry.backend = created.backend;
      return created.attempts;
    } finally {
      reserved -= entry.bytes;
      memory.peakSessions = Math.max(memory.peakSessions, openCount());
      memory.peakBytes = Math.max(memory.peakBytes, openBytes());
    }
  }

  /** Opens again a session the budget released, from the model cache (or the network), on the backend it had. */
  const reopen = (entry: Entry): Promise<OrtSession> =>
    (entry.reopening ??= (async () => {
      try {
        const { bytes, stored } = await readBytes(entry.request, undefined);
        await open(entry, bytes, [entry.backend]);
        await stored;
        memory.reopened++;
        return entry.session!;
      } finally {
        entry.reopening = undefined;
      }
    })());

  /** After a run: a session the page released goes now; and sessions over the budget (left running) go too. */
  async function afterRun(session: OrtSession): Promise<void> {
    const left = (running.get(session) ?? 1) - 1;
    if (left > 0) return void running.set(session, left);
    running.delete(session);
    if (releaseAfterRun.delete(session)) await releaseNow(session);
    if (openBytes() > budgetBytes) await makeRoom(0);
  }

  /** One `session.run` of the entry's session (reopened if the budget released it). */
  async function runOnce(entry: Entry, inputs: NamedTensors, outputNames: readonly string[] | undefined): Promise<RunResult> {
    // A run that waited in a micro-batch queue may find its session released by the page meanwhile.
    if (entries.get(entry.id) !== entry) throw new TandemError('model_not_ready', `session ${entry.id} was released`);
    entry.lastUsed = ++tick;
    let session: OrtSession | undefined;
    for (let tries = 0; session === undefined; tries++) {
      if (tries === REOPEN_TRIES)
        throw new TandemError('model_not_ready', `session ${entry.id} keeps being released: the memory budget is too small for the models running at once`);
      const candidate = entry.session ?? (await reopen(entry));
      // Still this entry's after the await: another load may have taken it back meanwhile.
      if (entry.session === candidate) session = candidate;
    }
    running.set(session, (running.get(session) ?? 0) + 1);
    try {
      const feeds: Record<string, OrtTensor> = {};
      for (const [name, t] of Object.entries(inputs)) feeds[name] = new deps.ort.Tensor(t.dtype, t.data, t.dims);
      const start = now();
      let results: Record<string, OrtTensor>;
      try {
        results = await session.run(feeds, outputNames);
      } catch (err) {
        throw errorFromDevice(err);
      }
      const computeMs = now() - start;
      const outputs = tensorsByName();
      for (const [name, t] of Object.entries(results)) outputs[name] = fromOrtTensor(t);
      return { outputs, backend: entry.backend, computeMs };
    } finally {
      await afterRun(session);
    }
  }

  /** A micro-batcher for the entry's session, when micro-batching is on and its variant can batch. */
  function batcherFor(entry: Entry): MicroBatcher | undefined {
    if (microBatch === false) return undefined;
    const signature = entry.request.signature;
    if (batchingRefusal(signature) !== undefined) return undefined;
    const maxBatch = Math.min(microBatch.maxBatch, signature?.maxBatch ?? Number.POSITIVE_INFINITY);
    if (maxBatch < 2) return undefined;
    return createMicroBatcher({
      execute: (inputs, outputNames) => runOnce(entry, inputs, outputNames),
      options: { maxBatch, maxDelayMs: microBatch.maxDelayMs },
      stats: batching,
      now,
      warn,
      ...(deps.nextTask ? { nextTask: deps.nextTask } : {}),
    });
  }

  return {
    async warmUp() {
      if (ortStart) return ortStart; // Started already, by a warm-up or a model.
      try {
        // A copy: a proxied onnxruntime-web would transfer (detach) the bytes it is given.
        await releaseNow(await createOrtSession(WARM_MODEL_BYTES.slice(), 'wasm'));
      } catch (err) {
        warn('starting onnxruntime-web ahead of the load failed; the load will start it and report what fails', err);
      }
    },

    async init(options: RuntimeInit) {
      if (options.wasmPaths !== undefined) deps.ort.env.wasm.wasmPaths = options.wasmPaths;
      deps.ort.env.wasm.numThreads = options.numThreads;
      retryPolicy = options.retry;
      timeoutMs = options.timeoutMs;
      if (options.memoryBudgetBytes !== undefined) budgetBytes = options.memoryBudgetBytes;
      if (options.microBatch !== undefined) microBatch = options.microBatch;
    },

    async load(request: LoadRequest, onProgress?: (progress: LoadProgress) => void): Promise<LoadResult> {
      const controller = new AbortController();
      inFlight.set(request.requestId, controller);
      try {
        const { sha256, bytes: size } = request.artifact;
        const t0 = now();
        const { bytes, fromCache, stored } = await readBytes(request, controller.signal, onProgress);
        const t1 = now();
        if (fromCache) onProgress?.({ phase: 'verify', loaded: size, total: size });
        const t2 = now();
        onProgress?.({ phase: 'session', loaded: size, total: size });
        if (controller.signal.aborted) throw new TandemError('aborted', 'the load was cancelled');
        const entry: Entry = {
          id: `s${++nextSession}`,
          request: { ...request, requestId: '' },
          bytes: size,
          backend: request.backends[0] ?? 'wasm',
          session: undefined,
          reopening: undefined,
          lastUsed: ++tick,
          batcher: undefined,
        };
        entry.batcher = batcherFor(entry);
        entries.set(entry.id, entry);
        let attempts: BackendAttempt[];
        try {
          attempts = await open(entry, bytes, request.backends);
        } catch (err) {
          entries.delete(entry.id);
          throw err;
        }
        // Written while the session was created; done before the other versions' bytes go, below.
        const cached = await stored;
        // A version change: the bytes of this model's other versions will not run again; they go.
        try {
          const superseded = await deps.modelCache.deleteOtherVersions(request.modelId, request.version, sha256);
          if (superseded.length > 0) warn(`deleted ${superseded.length} cached artifact(s) of ${request.modelId} superseded by ${request.version}`);
        } catch (err) {
          warn('deleting superseded artifacts failed', err);
        }
        const session = entry.session!;
        return {
          sessionId: entry.id,
          backend: entry.backend,
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

    async run(sessionId, inputs, outputNames, options): Promise<RunResult> {
      const entry = entries.get(sessionId);
      if (!entry) throw new TandemError('model_not_ready', `session ${sessionId} is not loaded (released, or the worker restarted)`);
      if (!entry.batcher) return runOnce(entry, inputs, outputNames);
      const requestId = options?.requestId;
      const controller = requestId === undefined ? undefined : new AbortController();
      if (requestId !== undefined) inFlight.set(requestId, controller!);
      try {
        return await entry.batcher.run(inputs, outputNames, controller?.signal);
      } finally {
        if (requestId !== undefined && inFlight.get(requestId) === controller) inFlight.delete(requestId);
      }
    },

    async release(sessionId) {
      const entry = entries.get(sessionId);
      entries.delete(sessionId);
      const session = entry?.session;
      if (!entry || !session) return; // Never opened, released by the budget, or still opening (it releases itself).
      entry.session = undefined;
      if (running.has(session)) releaseAfterRun.add(session);
      else await releaseNow(session);
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

    async cachedArtifacts(modelId) {
      return (await deps.modelCache.list())
        .filter((m) => m.modelId === modelId)
        .map((m) => ({ sha256: m.sha256, bytes: m.bytes, ...(m.version !== undefined ? { version: m.version } : {}) }));
    },

    async evictModel(modelId) {
      const doomed = (await deps.modelCache.list()).filter((m) => m.modelId === modelId);
      for (const m of doomed) await deps.modelCache.delete(m.sha256);
      return doomed.length;
    },

    async stats(): Promise<RuntimeStats> {
      return {
        network: { ...counts },
        modelCacheHits,
        modelCacheMisses,
        sessions: openCount(),
        memory: {
          budgetBytes,
          sessionBytes: openBytes(),
          handles: entries.size,
          released: memory.released,
          reopened: memory.reopened,
          peakSessions: memory.peakSessions,
          peakSessionBytes: memory.peakBytes,
        },
        batching: { ...batching },
      };
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
