/**
 * The SDK: `createTandem(config)` → `tandem.load(id)` → `model.run(inputs)`.
 *
 * load: fetch the signed manifest from the edge (or, offline, the last verified one from the manifest
 * store), verify it with the app's pinned keys, decide placement from the probed capabilities, and for the
 * device, have the Web Worker download (or read from IndexedDB), hash-check and open the quantized variant.
 * run: a fresh cached answer if there is one; else the placement's first choice, then its fallback
 * (device ↔ origin through the edge, with retries and a circuit breaker), then a stale cached answer, then
 * a typed error.
 */
import { TandemError, toTandemError } from '../protocol/errors.ts';
import { loadTrustedKeys, type TrustedKeySet } from '../protocol/keys.ts';
import type { Manifest } from '../protocol/manifest.ts';
import { INFERENCE_HEADER_CONTENT_LENGTH, decodeInferResponse, encodeInferRequest, requestBinaryOutputs } from '../protocol/oip-codec.ts';
import { verifyManifest } from '../protocol/signed-manifest.ts';
import type { NamedTensors, Tensor } from '../protocol/tensor.ts';
import { idbStore } from './adapters/idb-store.ts';
import { probeCapabilities } from './adapters/probe-capabilities.ts';
import { startWorkerRuntime } from './adapters/worker-runtime.ts';
import { manifestCacheKey, resultCacheKey } from './core/cache-keys.ts';
import { withOverrides, type DeviceCapabilities } from './core/capabilities.ts';
import { DEFAULT_BREAKER, createCircuitBreaker, type BreakerOptions, type CircuitBreaker } from '../protocol/resilience/breaker.ts';
import { countingFetch, emptyCounts, type NetworkCounts } from './core/counters.ts';
import { canFallBack, errorFromDevice, errorFromFetchFailure, errorFromResponse, isOriginFailure } from './core/error-mapping.ts';
import { memoizePromises } from '../protocol/resilience/memo.ts';
import { decidePlacement, parsePlacementMode, type DeviceBackend, type PlacementChoice, type PlacementDecision, type PlacementMode } from './core/placement.ts';
import { createResultCache, type ResultCache, type ResultEntry } from './core/result-cache.ts';
import { DEFAULT_RETRY, retry, throwIfAborted, type RetryDeps, type RetryPolicy } from './core/retry.ts';
import { forgivingStore, type KeyValueStore, type Warn } from './core/store.ts';
import { cloneTensors, normalizeInputs, type InputMap } from './inputs.ts';
import type { BackendAttempt, DeviceRuntime, LoadProgress, LoadResult, RestartableRuntime } from './runtime/contract.ts';

/** Everything configurable, in one object. Each field states its default; bad values throw at `createTandem`. */
export interface TandemConfig {
  /** The edge's base URL, e.g. `https://ml.example.com`. Required. */
  edge: string;
  /** The pinned manifest signing keys: an array of public key records or `{ keys, threshold }`. Required. */
  publicKeys: unknown;
  /** Sent as `Authorization: Bearer …` to the edge. Default: none. */
  apiKey?: string;
  /** Sent as `x-client-id`. Default: a random UUID per `createTandem`. */
  clientId?: string;
  /** Default placement for `load`. Default `'prefer-device'`. */
  placement?: PlacementMode;
  /** How long a cached result stays fresh, ms. Default 300000 (5 min). 0 disables fresh hits. */
  resultTtlMs?: number;
  /** Retries of manifest, artifact and origin requests. Default 3 attempts, 200 ms base, 5 s cap. */
  retry?: Partial<RetryPolicy>;
  /** The origin circuit breaker. Default: open after 5 consecutive failures, for 30 s. */
  breaker?: Partial<BreakerOptions>;
  /** Deadline of one origin request, ms. Default 30000. */
  requestTimeoutMs?: number;
  /**
   * Folder URL where the app serves onnxruntime-web's `.wasm`/`.mjs` files (copied from
   * `node_modules/onnxruntime-web/dist/`). Default `'/ort/'` against the page's URL. Never a CDN.
   */
  wasmPaths?: string;
  /** Overrides of probed capabilities (tests; apps that know better). Default: none. */
  capabilities?: Partial<DeviceCapabilities>;
  /** Ask the browser for persistent storage on the first device load. Default true. */
  persistStorage?: boolean;
  /** Loaded models kept by the in-flight/loaded memo. Default 8. */
  maxLoadedModels?: number;
}

/** A device session and the runtime that holds it (gone if that runtime crashed). */
interface DeviceSession extends LoadResult {
  runtime: RestartableRuntime;
}

/** Optional dependencies, each with a lazy browser default (tests pass fakes). */
export interface TandemDeps {
  fetch?: typeof fetch;
  /** The device runtime; default: the SDK's own module Web Worker. */
  runtime?: DeviceRuntime;
  /** Starts a device runtime, again after one crashed; default: a new module Web Worker. */
  startRuntime?: () => RestartableRuntime;
  probe?: () => Promise<DeviceCapabilities>;
  resultStore?: KeyValueStore<ResultEntry>;
  manifestStore?: KeyValueStore<unknown>;
  online?: () => boolean;
  persist?: () => Promise<boolean>;
  warn?: Warn;
  now?: () => number;
  retryDeps?: RetryDeps;
}

export interface LoadOptions {
  /** Default: the config's `placement`. */
  placement?: PlacementMode;
  signal?: AbortSignal;
  /** Download progress in bytes (`phase: 'download'`), then `verify` and `session`. */
  onProgress?: (progress: LoadProgress) => void;
}

export type CacheMode = 'default' | 'no-store' | 'only-if-cached';

export interface RunOptions {
  signal?: AbortSignal;
  /** `default`: fresh hits answer, results are stored. `no-store`: neither read nor write. `only-if-cached`: the cache or an error. */
  cache?: CacheMode;
  /** Outputs to compute. Default: all. */
  outputs?: string[];
}

export interface RunMeta {
  ranOn: 'device' | 'origin' | 'cache';
  /** The device backend that ran it (for a cached answer, the one that computed it); undefined for the origin. */
  backend: DeviceBackend | undefined;
  /** The model version that computed the outputs. */
  version: string;
  /** A cached answer past its TTL, served because nothing else could answer. */
  stale: boolean;
  timings: { totalMs: number; computeMs?: number };
  /** When the first choice failed and another tier answered: what failed. */
  fallback?: { from: 'device' | 'origin'; code: string; message: string };
}

export interface RunResult extends RunMeta {
  outputs: Record<string, Tensor>;
}

export interface TandemModel {
  readonly id: string;
  readonly version: string;
  readonly manifest: Manifest;
  readonly placement: PlacementDecision;
  /** Where the manifest came from: the edge, or the manifest store when the edge was unreachable. */
  readonly manifestSource: 'network' | 'cache';
  /** The device session, when the model was opened on the device. */
  readonly device: { backend: DeviceBackend; attempts: BackendAttempt[]; fromCache: boolean } | undefined;
  /**
   * @example
   * const { outputs, ranOn, backend } = await model.run({ x: { data: new Float32Array(256), dims: [1, 256] } });
   */
  run(inputs: InputMap, options?: RunOptions): Promise<RunResult>;
  dispose(): Promise<void>;
}

export interface TandemStats {
  network: NetworkCounts;
  results: { hits: number; staleHits: number; misses: number };
  modelCache: { hits: number; misses: number };
  persisted: boolean | undefined;
}

export interface Tandem {
  load(id: string, options?: LoadOptions): Promise<TandemModel>;
  capabilities(): Promise<DeviceCapabilities>;
  /** Clears the result cache, the model cache and the stored manifests. */
  clearCaches(): Promise<void>;
  stats(): Promise<TandemStats>;
  dispose(): Promise<void>;
}

const defaultWarn: Warn = (message, cause) => console.warn(`[tandem] ${message}`, cause ?? '');

function resolveConfig(config: TandemConfig) {
  const bad = (message: string) => new TandemError('bad_request', `createTandem: ${message}`);
  if (typeof config !== 'object' || config === null) throw bad('config must be an object');
  let edge: URL;
  try {
    edge = new URL(config.edge);
  } catch {
    throw bad(`edge must be an absolute URL, got ${JSON.stringify(config.edge)}`);
  }
  if (config.publicKeys === undefined) throw bad('publicKeys is required (the keys that sign your manifests)');
  const positive = (name: string, value: number | undefined, fallback: number, min = 0) => {
    const v = value ?? fallback;
    if (!Number.isFinite(v) || v < min) throw bad(`${name} must be a number ≥ ${min}, got ${String(value)}`);
    return v;
  };
  const retryPolicy: RetryPolicy = {
    attempts: positive('retry.attempts', config.retry?.attempts, DEFAULT_RETRY.attempts, 1),
    baseDelayMs: positive('retry.baseDelayMs', config.retry?.baseDelayMs, DEFAULT_RETRY.baseDelayMs),
    maxDelayMs: positive('retry.maxDelayMs', config.retry?.maxDelayMs, DEFAULT_RETRY.maxDelayMs),
  };
  const breaker: BreakerOptions = {
    failureThreshold: positive('breaker.failureThreshold', config.breaker?.failureThreshold, DEFAULT_BREAKER.failureThreshold, 1),
    cooldownMs: positive('breaker.cooldownMs', config.breaker?.cooldownMs, DEFAULT_BREAKER.cooldownMs),
  };
  return {
    edge: edge.href.replace(/\/$/, ''),
    apiKey: config.apiKey,
    clientId: config.clientId ?? crypto.randomUUID(),
    placement: parsePlacementMode(config.placement ?? 'prefer-device'),
    resultTtlMs: positive('resultTtlMs', config.resultTtlMs, 300_000),
    requestTimeoutMs: positive('requestTimeoutMs', config.requestTimeoutMs, 30_000, 1),
    maxLoadedModels: positive('maxLoadedModels', config.maxLoadedModels, 8, 1),
    wasmPaths: config.wasmPaths ?? new URL('/ort/', typeof location === 'undefined' ? edge : location.href).href,
    persistStorage: config.persistStorage ?? true,
    retry: retryPolicy,
    breaker,
  };
}

/**
 * @throws TandemError `bad_request` for a bad config (checked here, not at first use).
 * @example
 * import { createTandem } from 'tandem/client';
 * const tandem = createTandem({ edge: 'https://ml.example.com', publicKeys: [releaseKey], apiKey });
 * const model = await tandem.load('mlp-classifier', { onProgress: (p) => bar.value = p.loaded / p.total });
 * const { outputs, ranOn } = await model.run({ x: { data: features, dims: [1, 256] } });
 */
export function createTandem(config: TandemConfig, deps: TandemDeps = {}): Tandem {
  const cfg = resolveConfig(config);
  const warn = deps.warn ?? defaultWarn;
  const now = deps.now ?? (() => performance.now());
  const online = deps.online ?? (() => (typeof navigator === 'undefined' ? true : navigator.onLine));
  const counts = emptyCounts();
  const fetcher = countingFetch(deps.fetch ?? ((input, init) => fetch(input, init)), counts);
  const trustedKeys: Promise<TrustedKeySet> = loadTrustedKeys(config.publicKeys);
  trustedKeys.catch(() => {}); // Reported by the first load.
  const resultStore = forgivingStore(deps.resultStore ?? idbStore<ResultEntry>('tandem-results', 'results'), warn, 'result cache');
  const manifestStore = forgivingStore(deps.manifestStore ?? idbStore<unknown>('tandem-manifests', 'manifests'), warn, 'manifest store');
  const results: ResultCache = createResultCache(resultStore, { ttlMs: cfg.resultTtlMs, ...(deps.now ? { now: deps.now } : {}) });
  const breaker: CircuitBreaker = createCircuitBreaker(cfg.breaker, isOriginFailure);
  const loads = memoizePromises<TandemModel>(cfg.maxLoadedModels);
  const sharedLoads = new Map<string, { controller: AbortController; waiters: number }>();
  const resultCounts = { hits: 0, staleHits: 0, misses: 0 };
  const authHeaders: Record<string, string> = { 'x-client-id': cfg.clientId, ...(cfg.apiKey ? { authorization: `Bearer ${cfg.apiKey}` } : {}) };
  let persisted: boolean | undefined;
  let capabilities: Promise<DeviceCapabilities> | undefined;
  let runtime: Promise<RestartableRuntime> | undefined;
  let runtimeStarts = 0;
  let nextRequest = 0;

  const getCapabilities = () =>
    (capabilities ??= (deps.probe ?? probeCapabilities)().then((probed) => withOverrides(probed, config.capabilities)));

  const getRuntime = async (): Promise<RestartableRuntime> => {
    const current = runtime;
    const started = current && (await current.catch(() => undefined));
    if (started?.crashed && runtime === current) {
      // A crashed worker is replaced on next use; the sessions it held died with it (see runDevice).
      started.terminate?.();
      runtime = undefined;
      warn('the device runtime crashed; starting a new one');
    }
    return (runtime ??= (async () => {
      const rt = ++runtimeStarts === 1 && deps.runtime ? deps.runtime : (deps.startRuntime ?? startWorkerRuntime)();
      const caps = await getCapabilities();
      await rt.init({ wasmPaths: cfg.wasmPaths, numThreads: caps.crossOriginIsolated ? Math.min(4, caps.cores ?? 1) : 1, retry: cfg.retry });
      return rt;
    })());
  };

  async function fetchManifest(id: string, signal?: AbortSignal): Promise<{ manifest: Manifest; source: 'network' | 'cache' }> {
    const trusted = await trustedKeys;
    let envelope: unknown;
    try {
      envelope = await retry(
        async () => {
          let res: Response;
          try {
            // Revalidated each load (a 304 is cheap): a new version is seen at once, not after max-age.
            res = await fetcher(`${cfg.edge}/v1/models/${encodeURIComponent(id)}/manifest`, { headers: authHeaders, cache: 'no-cache', ...(signal ? { signal } : {}) });
          } catch (err) {
            throw errorFromFetchFailure(err, online(), `manifest of ${id}`);
          }
          if (!res.ok) throw await errorFromResponse(res);
          return res.json() as Promise<unknown>;
        },
        cfg.retry,
        signal ? { signal } : {},
        deps.retryDeps,
      );
    } catch (err) {
      const e = toTandemError(err);
      if (e.code !== 'offline' && e.code !== 'origin_unavailable') throw e;
      // Offline start: the last manifest this app verified, verified again (the store is not trusted).
      const cached = await manifestStore.get(manifestCacheKey(id));
      if (cached === undefined) throw e;
      return { manifest: (await verifyManifest(cached, trusted)).manifest, source: 'cache' };
    }
    const { manifest } = await verifyManifest(envelope, trusted);
    if (manifest.id !== id) throw new TandemError('manifest_invalid', `asked for ${id}, the edge sent a manifest for ${manifest.id}`);
    await manifestStore.set(manifestCacheKey(id), envelope);
    return { manifest, source: 'network' };
  }

  async function openOnDevice(manifest: Manifest, choice: PlacementChoice, options: LoadOptions): Promise<DeviceSession> {
    const rt = await getRuntime();
    if (cfg.persistStorage && persisted === undefined) {
      persisted = false;
      const persist = deps.persist ?? (() => navigator.storage?.persist?.() ?? Promise.resolve(false));
      persist().then((ok) => (persisted = ok), (err: unknown) => warn('navigator.storage.persist() failed', err));
    }
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
          artifact: { url: `${cfg.edge}/v1/artifacts/${sha256}`, sha256, bytes },
          headers: authHeaders,
          backends: choice.backends,
        },
        options.onProgress,
      );
      return { ...loaded, runtime: rt };
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
    }
  }

  async function runOnOrigin(manifest: Manifest, inputs: NamedTensors, outputs: string[] | undefined, signal?: AbortSignal) {
    const request = requestBinaryOutputs({
      inputs: Object.entries(inputs).map(([name, t]) => ({ name, ...t })),
      ...(outputs ? { outputs: outputs.map((name) => ({ name })) } : {}),
    });
    const { body, headers } = encodeInferRequest(request, { binary: true });
    const url = `${cfg.edge}/v2/models/${encodeURIComponent(manifest.id)}/versions/${encodeURIComponent(manifest.version)}/infer`;
    return breaker.call(() =>
      retry(
        async () => {
          const deadline = AbortSignal.timeout(cfg.requestTimeoutMs);
          const start = now();
          let res: Response;
          try {
            res = await fetcher(url, { method: 'POST', body, headers: { ...headers, ...authHeaders }, signal: signal ? AbortSignal.any([signal, deadline]) : deadline });
          } catch (err) {
            throw errorFromFetchFailure(signal?.aborted ? signal.reason ?? err : err, online(), `infer on the origin`);
          }
          if (!res.ok) throw await errorFromResponse(res);
          const decoded = decodeInferResponse(new Uint8Array(await res.arrayBuffer()), res.headers.get(INFERENCE_HEADER_CONTENT_LENGTH));
          const out: NamedTensors = {};
          for (const { name, dtype, dims, data } of decoded.outputs) out[name] = { dtype, dims, data } as Tensor;
          return { outputs: out, version: res.headers.get('x-model-version') ?? decoded.modelVersion ?? manifest.version, computeMs: now() - start };
        },
        cfg.retry,
        signal ? { signal } : {},
        deps.retryDeps,
      ),
    );
  }

  async function load(id: string, options: LoadOptions = {}): Promise<TandemModel> {
    const mode = parsePlacementMode(options.placement ?? cfg.placement);
    throwIfAborted(options.signal);
    const { manifest, source } = await fetchManifest(id, options.signal);
    void results.invalidateOtherVersions(manifest.id, manifest.version);
    const decision = decidePlacement(manifest, await getCapabilities(), mode);

    let session: DeviceSession | undefined;
    let deviceError: TandemError | undefined;
    if (decision.target === 'device') {
      try {
        session = await openOnDevice(manifest, decision, options);
      } catch (err) {
        deviceError = errorFromDevice(err);
        if (!decision.fallback || !canFallBack(deviceError)) throw deviceError;
        warn(`${id}: the device could not open ${decision.variant.name} (${deviceError.message}); using the origin`);
      }
    }
    return createModel(manifest, decision, source, session, deviceError);
  }

  function createModel(manifest: Manifest, decision: PlacementDecision, source: 'network' | 'cache', opened: DeviceSession | undefined, openError: TandemError | undefined): TandemModel {
    let session = opened;
    let deviceBroken = openError;
    let lazyDevice: Promise<DeviceSession> | undefined;
    const deviceChoice = decision.target === 'device' ? decision : decision.fallback?.target === 'device' ? decision.fallback : undefined;
    const originAllowed = decision.target === 'origin' || decision.fallback?.target === 'origin';

    const deviceSession = async (): Promise<DeviceSession> => {
      if (session) return session;
      if (deviceBroken) throw deviceBroken;
      if (!deviceChoice) throw new TandemError('device_unsupported', `${manifest.id}: ${decision.reason}`);
      lazyDevice ??= openOnDevice(manifest, deviceChoice, {});
      lazyDevice.catch(() => (lazyDevice = undefined));
      session = await lazyDevice;
      return session;
    };

    async function runDevice(inputs: NamedTensors, outputs: string[] | undefined) {
      // After a crash (this run fell back to the origin), the next one reopens the model in a new worker,
      // from the model cache: back on the device.
      if (session?.runtime.crashed) session = undefined;
      const s = await deviceSession();
      // The worker gets its own copies (transferred); the caller's arrays stay intact for a fallback.
      const result = await s.runtime.run(s.sessionId, cloneTensors(inputs), outputs).catch((err: unknown) => {
        throw errorFromDevice(err);
      });
      return { outputs: result.outputs, backend: result.backend, computeMs: result.computeMs };
    }

    const model: TandemModel = {
      id: manifest.id,
      version: manifest.version,
      manifest,
      placement: decision,
      manifestSource: source,
      get device() {
        return session ? { backend: session.backend, attempts: session.attempts, fromCache: session.fromCache } : undefined;
      },
      async run(rawInputs, options = {}) {
        const start = now();
        const cacheMode = options.cache ?? 'default';
        if (!['default', 'no-store', 'only-if-cached'].includes(cacheMode)) throw new TandemError('bad_request', `cache must be default, no-store or only-if-cached`);
        throwIfAborted(options.signal);
        const inputs = normalizeInputs(rawInputs);
        // A run that asks for some outputs only caches under a key that also covers which ones (as a
        // string tensor under a name no real input can have).
        const keyed = options.outputs ? { ...inputs, '\u0000outputs': { dtype: 'string' as const, dims: [options.outputs.length], data: options.outputs } } : inputs;
        const key = cacheMode === 'no-store' ? undefined : await resultCacheKey(manifest.id, manifest.version, keyed);
        const cached = key ? await results.lookup(key, manifest.version) : undefined;
        const fromCache = (stale: boolean, fallback?: RunMeta['fallback']): RunResult => ({
          outputs: cloneTensors(cached!.entry.outputs),
          ranOn: 'cache',
          backend: cached!.entry.backend,
          version: cached!.entry.version,
          stale,
          timings: { totalMs: now() - start },
          ...(fallback ? { fallback } : {}),
        });
        if (cached?.fresh) {
          resultCounts.hits++;
          return fromCache(false);
        }
        if (cacheMode === 'only-if-cached') {
          if (cached) {
            resultCounts.staleHits++;
            return fromCache(true);
          }
          resultCounts.misses++;
          throw new TandemError('not_found', `no cached result for this input of ${manifest.id}@${manifest.version} (cache: 'only-if-cached')`);
        }
        resultCounts.misses++;

        const order: ('device' | 'origin')[] = [decision.target];
        if (decision.fallback) order.push(decision.fallback.target);
        let firstError: TandemError | undefined;
        let lastError: TandemError | undefined;
        for (const target of order) {
          try {
            const r = target === 'device' ? await runDevice(inputs, options.outputs) : await runOnOrigin(manifest, inputs, options.outputs, options.signal);
            const backend = 'backend' in r ? r.backend : undefined;
            const version = 'version' in r ? r.version : manifest.version;
            if (key && version === manifest.version) {
              void results.put(key, { modelId: manifest.id, version, outputs: cloneTensors(r.outputs), storedAt: (deps.now ?? Date.now)(), computedOn: target, ...(backend ? { backend } : {}) });
            }
            return {
              outputs: r.outputs,
              ranOn: target,
              backend,
              version,
              stale: false,
              timings: { totalMs: now() - start, computeMs: r.computeMs },
              ...(firstError ? { fallback: { from: order[0]!, code: firstError.code, message: firstError.message } } : {}),
            };
          } catch (err) {
            const e = toTandemError(err);
            if (!canFallBack(e)) throw e;
            firstError ??= e;
            lastError = e;
            if (target === 'device' && !originAllowed) break;
          }
        }
        if (cached) {
          resultCounts.staleHits++;
          return fromCache(true, { from: order[0]!, code: firstError!.code, message: firstError!.message });
        }
        throw lastError === firstError || !lastError || !firstError
          ? lastError!
          : new TandemError(lastError.code, `${lastError.message} (after ${order[0]}: ${firstError.message})`, { cause: firstError });
      },
      async dispose() {
        loads.delete(`${manifest.id}|${decision.mode}`);
        if (session) {
          const s = session;
          session = undefined;
          deviceBroken = new TandemError('model_not_ready', `${manifest.id} was disposed`);
          if (!s.runtime.crashed) await s.runtime.release(s.sessionId);
        } else deviceBroken = new TandemError('model_not_ready', `${manifest.id} was disposed`);
      },
    };
    return model;
  }

  return {
    load(id, options = {}) {
      const mode = parsePlacementMode(options.placement ?? cfg.placement);
      const key = `${id}|${mode}`;
      // Callers of one id and placement share one load. It runs on its own signal, aborted only when every
      // caller waiting on it has aborted: one caller giving up must not cancel the others' download.
      const shared = loads.get(key, () => {
        const sharing = { controller: new AbortController(), waiters: 0 };
        sharedLoads.set(key, sharing);
        const promise = load(id, { ...options, placement: mode, signal: sharing.controller.signal });
        const forget = () => {
          if (sharedLoads.get(key) === sharing) sharedLoads.delete(key);
        };
        promise.then(forget, forget);
        return promise;
      });
      const sharing = sharedLoads.get(key); // undefined once the load has settled
      if (sharing) sharing.waiters++;
      const signal = options.signal;
      if (!signal) return shared; // A caller without a signal waits to the end: the load is never aborted.
      return new Promise<TandemModel>((resolve, reject) => {
        const onAbort = () => {
          reject(new TandemError('aborted', 'the load was aborted', { cause: signal.reason }));
          if (sharing && --sharing.waiters === 0) {
            // Nobody waits any more: cancel it, and forget it now so the next caller starts afresh.
            sharing.controller.abort(signal.reason);
            loads.delete(key);
            sharedLoads.delete(key);
          }
        };
        if (signal.aborted) return onAbort();
        signal.addEventListener('abort', onAbort, { once: true });
        shared.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
      });
    },
    capabilities: getCapabilities,
    async clearCaches() {
      await Promise.all([results.clear(), manifestStore.clear(), (await getRuntime()).clearModelCache()]);
    },
    async stats() {
      // A crashed worker's counts are gone with it.
      const device = runtime ? await runtime.then((rt) => rt.stats()).catch(() => undefined) : undefined;
      const network = { ...counts };
      if (device) for (const k of Object.keys(network) as (keyof NetworkCounts)[]) network[k] += device.network[k];
      return {
        network,
        results: { ...resultCounts },
        modelCache: { hits: device?.modelCacheHits ?? 0, misses: device?.modelCacheMisses ?? 0 },
        persisted,
      };
    },
    async dispose() {
      loads.clear();
      if (runtime) (await runtime.catch(() => undefined))?.terminate?.();
    },
  };
}
