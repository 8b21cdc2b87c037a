/**
 * The SDK: `createTandem(config)` → `tandem.load(id)` → `model.run(inputs)`. This module only wires the
 * pieces, each in its own module: the configuration (`config.ts`), the install's client id
 * (`client-id.ts`), the update framework when the app pins root keys (`trust.ts`), manifests
 * (`manifests.ts`), the device and its Web Worker (`device.ts`), the origin through the edge
 * (`origin-client.ts`), the model and its run with fallbacks (`model.ts`), and loads shared between
 * callers (`shared-loads.ts`).
 *
 * load: the verified manifest, the placement decided from the probed capabilities, and for the device the
 * variant opened in the Web Worker (downloaded or read from IndexedDB, hash-checked); a device that cannot
 * open it hands over to the origin when the placement allows. Under `prefer-device`, a variant not yet in
 * the model cache downloads in the background and the origin answers meanwhile (unless `waitForDevice`).
 */
import { TandemError, toTandemError } from '../protocol/errors.ts';
import { loadTrustedKeys } from '../protocol/keys.ts';
import { idbStore } from './adapters/idb-store.ts';
import { probeCapabilities } from './adapters/probe-capabilities.ts';
import { startWorkerRuntime } from './adapters/worker-runtime.ts';
import { untilAborted, webAbort } from './core/abort.ts';
import { orderBackends, parseExecutionProviders, withBackendPreference, type ExecutionProvider } from './core/backend-preference.ts';
import type { DeviceCapabilities } from './core/capabilities.ts';
import { countingFetch, emptyCounts, type NetworkCounts } from './core/counters.ts';
import { canFallBack, errorFromDevice } from './core/error-mapping.ts';
import { decidePlacement, parsePlacementMode, type DeviceBackend, type PlacementMode } from './core/placement.ts';
import { manifestCacheKey } from './core/cache-keys.ts';
import type { ResultEntry } from './core/result-cache.ts';
import { lazyResultCache } from './adapters/lazy-result-cache.ts';
import { throwIfAborted, type RetryDeps } from './core/retry.ts';
import { forgivingStore, type KeyValueStore, type Warn } from './core/store.ts';
import { persistentClientId } from './client-id.ts';
import { resolveConfig, type TandemConfig } from './config.ts';
import { createDevice, type DeviceSession } from './device.ts';
import { createManifests } from './manifests.ts';
import { createModel, type LoadedModel, type ResultCounts, type TandemModel } from './model.ts';
import { createOriginClient, loadOipCodec } from './origin-client.ts';
import { loadTensorClass, type TensorConstructor } from './ort-tensor.ts';
import type { DeviceRuntime, LoadProgress, RestartableRuntime } from './runtime/contract.ts';
import { sharedLoads } from './shared-loads.ts';
import { lazyVersionFallback } from './adapters/lazy-version-fallback.ts';
import { lazyTrust } from './adapters/lazy-trust.ts';
import { lazyTelemetry } from './adapters/lazy-telemetry.ts';

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
  /** Where the install's root of trust, timestamp record and floors are kept; default: IndexedDB (database `tandem-trust`). */
  trustStore?: KeyValueStore<unknown>;
  /** Where the install's client id is kept; default: IndexedDB (database `tandem-client`). */
  clientIdStore?: KeyValueStore<string>;
  online?: () => boolean;
  persist?: () => Promise<boolean>;
  warn?: Warn;
  now?: () => number;
  retryDeps?: RetryDeps;
  /**
   * The class of `run`'s outputs. Default: onnxruntime-common's `Tensor` (onnxruntime-web's), imported
   * as its own chunk on the first load. Pass `ort.Tensor` to get your onnxruntime-web's own class
   * (its browser build inlines a copy, so `instanceof ort.Tensor` needs this).
   */
  Tensor?: TensorConstructor;
}

export interface LoadOptions {
  /** Default: the config's `placement`. */
  placement?: PlacementMode;
  /** Aborts this caller's load: it rejects with a DOMException `AbortError`, as `fetch` does. */
  signal?: AbortSignal;
  /** A version of the model by name (`1.2.0`), instead of the current one. Default: the current one. */
  version?: string;
  /**
   * The device backends to use, best first, as onnxruntime-web's `InferenceSession` option names them
   * (`['wasm']`, `['webgpu', 'wasm']`, or `{ name }` objects). Backends left out are never tried, and
   * placement picks a device variant for the ones left. Default: the manifest's order (WebGPU first).
   */
  executionProviders?: readonly ExecutionProvider[];
  /** Download progress in bytes (`phase: 'download'`), then `verify` and `session`. */
  onProgress?: (progress: LoadProgress) => void;
  /**
   * The device variant to load, by its manifest name (`int8`, `fp16`, `fp32-device`), instead of the
   * first one the device meets the requirements of: for tests and benchmarks of one variant, and apps that
   * measured their own choice. Its requirements still apply (a device it does not fit gets the origin, or
   * `device_unsupported` under `device-only`). Default: the SDK chooses. A name that is not a device
   * variant of the manifest is `bad_request`.
   */
  variant?: string;
  /**
   * Under `prefer-device`, wait for the device session before resolving, as a download-first app wants.
   * Default `false`: when the device variant is not in the model cache yet, `load` resolves once the
   * manifest is verified, runs go to the origin while the variant downloads in the background (reported
   * by `onProgress`), and switch to the device (`ranOn: 'device'`) once its session is ready. A failed
   * background download is warned about; the origin keeps answering and a later run tries again.
   */
  waitForDevice?: boolean;
}

export interface TandemStats {
  network: NetworkCounts;
  results: ResultCounts;
  modelCache: { hits: number; misses: number };
  persisted: boolean | undefined;
  /**
   * Memory held: the Web Worker's open sessions and the bytes of weights they hold against the budget
   * (0 before the worker started), and what the result cache holds.
   */
  memory: { sessions: number; sessionBytes: number; budgetBytes: number; peakSessions: number; resultEntries: number; resultBytes: number };
  /**
   * Micro-batching in the Web Worker (`microBatch`): onnxruntime runs made for models that can batch, and
   * the device runs they answered (`callers` > `runs`: runs were coalesced). 0 before the worker started.
   */
  batching: { runs: number; callers: number };
}

/** Which cached bytes `isCached` and `delete` mean: one version of the model, or (default) all. */
export interface CacheEntryOptions {
  version?: string;
}

export interface Tandem {
  /**
   * @throws TandemError `manifest_signature_invalid`, `artifact_hash_mismatch`, `device_unsupported`,
   *   `offline`, … (see the README's Errors); an aborted load rejects with a DOMException `AbortError`.
   */
  load(id: string, options?: LoadOptions): Promise<TandemModel>;
  capabilities(): Promise<DeviceCapabilities>;
  /**
   * Clears the result cache, the model cache and the stored manifests (not the client id, nor what the
   * install has verified of the root of trust: that would let an older record in again).
   */
  clearCaches(): Promise<void>;
  stats(): Promise<TandemStats>;
  /**
   * Whether the model cache holds a device artifact of model `id` (of `options.version` when given), so
   * that a device load needs no download. Starts the Web Worker if it was not running.
   * @example
   * if (!(await tandem.isCached('mlp-classifier'))) showDownloadSize();
   */
  isCached(id: string, options?: CacheEntryOptions): Promise<boolean>;
  /**
   * Deletes what this install stores of model `id` (only `options.version` when given): its cached
   * artifacts and results, and, for all versions, its stored manifest. A loaded model keeps its open
   * session (dispose it to free that); its next load downloads again.
   */
  delete(id: string, options?: CacheEntryOptions): Promise<void>;
  dispose(): Promise<void>;
}

const defaultWarn: Warn = (message, cause) => console.warn(`[tandem] ${message}`, cause ?? '');

/**
 * @throws TandemError `bad_request` for a bad config (checked here, not at first use).
 * @example
 * import { createTandem } from '@tandem-ml/client';
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
  const wallClock = deps.now ?? Date.now;
  // Without root keys, the pinned publicKeys verify manifests, as before roots existed.
  const pinned = loadTrustedKeys(config.rootKeys ?? config.publicKeys);
  pinned.catch(() => {}); // Reported by the first load.
  const store = <V>(given: KeyValueStore<V> | undefined, db: string, name: string, label: string) =>
    forgivingStore(given ?? idbStore<V>(db, name), warn, label);

  const clientId =
    cfg.clientId !== undefined
      ? async () => cfg.clientId!
      : persistentClientId({ store: store(deps.clientIdStore, 'tandem-client', 'identity', 'client id store') });
  const headers = async (): Promise<Record<string, string>> => ({
    'x-client-id': await clientId(),
    ...(cfg.apiKey ? { authorization: `Bearer ${cfg.apiKey}` } : {}),
  });
  const retryDeps = deps.retryDeps ? { retryDeps: deps.retryDeps } : {};

  const results = lazyResultCache(store(deps.resultStore, 'tandem-results', 'results', 'result cache'), {
    ttlMs: cfg.resultTtlMs,
    maxEntries: cfg.resultCacheMaxEntries,
    maxBytes: cfg.resultCacheMaxBytes,
    ...(deps.now ? { now: deps.now } : {}),
  });
  const manifestStore = store(deps.manifestStore, 'tandem-manifests', 'manifests', 'manifest store');
  /**
   * A revoked version goes from both caches at the contact that reveals it. The model cache is the Web
   * Worker's: it is asked (started if need be) only for a model this install has loaded, whose manifest
   * is stored; a fresh install would otherwise start the worker for every revocation in the record.
   */
  const evict = async (id: string, versions: string[]) => {
    const loadedHere = (await manifestStore.get(manifestCacheKey(id))) !== undefined;
    await Promise.all([results.deleteVersions(id, versions), loadedHere ? device.evictVersions(id, versions) : undefined]);
  };
  const trust =
    config.rootKeys === undefined
      ? undefined
      : lazyTrust({
          edge: cfg.edge,
          fetch: fetcher,
          headers,
          rootKeys: pinned,
          store: store(deps.trustStore, 'tandem-trust', 'trust', 'trust store'),
          online,
          retry: cfg.retry,
          ...retryDeps,
          timeoutMs: cfg.requestTimeoutMs,
          offlineMaxAgeMs: cfg.offlineMaxAgeMs,
          now: wallClock,
          evict,
          warn,
        });
  const manifests = createManifests({
    edge: cfg.edge,
    fetch: fetcher,
    headers,
    trustedKeys: trust ? undefined : pinned,
    trust,
    store: manifestStore,
    online,
    retry: cfg.retry,
    ...retryDeps,
    timeoutMs: cfg.requestTimeoutMs,
    now: wallClock,
  });
  const originClient = createOriginClient({
    edge: cfg.edge,
    fetch: fetcher,
    headers,
    breaker: cfg.breaker,
    online,
    retry: cfg.retry,
    ...retryDeps,
    requestTimeoutMs: cfg.requestTimeoutMs,
    now,
  });
  // A version the origins lack is answered by its nearest stand-in (a chunk loaded on the first such run).
  const origin = lazyVersionFallback(
    originClient,
    { edge: cfg.edge, fetch: fetcher, headers, manifests, online, retry: cfg.retry, ...retryDeps, timeoutMs: cfg.requestTimeoutMs },
    now,
  );
  const device = createDevice({
    edge: cfg.edge,
    headers,
    probe: deps.probe ?? probeCapabilities,
    overrides: config.capabilities,
    ...(deps.runtime ? { runtime: deps.runtime } : {}),
    startRuntime: deps.startRuntime ?? startWorkerRuntime,
    wasmPaths: cfg.wasmPaths,
    retry: cfg.retry,
    timeoutMs: cfg.requestTimeoutMs,
    memoryBudgetBytes: cfg.memoryBudgetBytes,
    microBatch: cfg.microBatch ?? false,
    persist: cfg.persistStorage ? (deps.persist ?? (() => navigator.storage?.persist?.() ?? Promise.resolve(false))) : undefined,
    warn,
  });
  const resultCounts: ResultCounts = { hits: 0, staleHits: 0, misses: 0 };
  const telemetry = cfg.telemetry && lazyTelemetry(cfg.telemetry, { edge: cfg.edge, fetch: fetcher, headers });
  // A model the memo drops releases its device session (its handle reopens one if it runs again).
  const loads = sharedLoads<LoadedModel>(
    cfg.maxLoadedModels,
    (model) => void model.releaseDevice().catch((err: unknown) => warn('releasing a session failed', err)),
  );

  const tensorClass = deps.Tensor ? async () => deps.Tensor! : loadTensorClass;

  interface LoadChoice {
    mode: PlacementMode;
    variant: string | undefined;
    version: string | undefined;
    backends: DeviceBackend[] | undefined;
  }

  async function load(id: string, choice: LoadChoice, key: string, signal: AbortSignal, onProgress: LoadOptions['onProgress']): Promise<LoadedModel> {
    const { mode, variant, version, backends } = choice;
    throwIfAborted(signal);
    // The outputs' Tensor class is its own chunk: fetched now, while the model loads.
    tensorClass().catch(() => {});
    // Under prefer-device, whether the model cache holds the model is asked now: the Web Worker starts
    // while the manifest is fetched and verified, not after.
    const cachedHere = mode === 'prefer-device' ? device.cachedArtifacts(id).catch(() => []) : undefined;
    // onnxruntime-web's WASM compile (seconds on a first visit) starts as soon as a device session is
    // certain or likely: at once under device-only, so that it overlaps the manifest and the download;
    // under prefer-device once the model cache says it holds the model (a returning visit); otherwise once
    // the placement says device (a compile is not spent on a model the origin will run).
    if (mode === 'device-only') device.warmUp();
    void cachedHere?.then((held) => held.length > 0 && device.warmUp());
    const { manifest, source } = await manifests.get(id, signal, version);
    // A pinned older version must not evict the current one's results.
    if (version === undefined) void results.invalidateOtherVersions(manifest.id, manifest.version);
    const caps = withBackendPreference(await device.capabilities(), backends);
    const decision = orderBackends(decidePlacement(manifest, caps, mode, variant === undefined ? {} : { variant }), backends);
    // The origin's codec is its own chunk: fetched now, while the model loads, if the origin may answer.
    if (decision.target === 'origin' || decision.fallback?.target === 'origin') loadOipCodec().catch(() => {});
    // Likewise telemetry's, if the device may run it: its first record must not wait for the chunk.
    if (decision.target === 'device' || decision.fallback?.target === 'device') telemetry?.prepare();
    if (decision.target === 'device') device.warmUp();
    let session: DeviceSession | undefined;
    let openError: TandemError | undefined;
    // Under prefer-device, a variant the model cache lacks downloads in the background while the origin
    // answers (a cached one opens in about a session's time: that is waited for).
    const background =
      cachedHere !== undefined &&
      decision.target === 'device' &&
      decision.fallback?.target === 'origin' &&
      !(await cachedHere).some((a) => a.sha256 === decision.variant.artifact.sha256);
    throwIfAborted(signal);
    if (decision.target === 'device' && !background) {
      try {
        session = await device.open(manifest, decision, { signal, ...(onProgress ? { onProgress } : {}) });
      } catch (err) {
        openError = errorFromDevice(err);
        if (!decision.fallback || !canFallBack(openError)) throw openError;
        warn(`${id}: the device could not open ${decision.variant.name} (${openError.message}); using the origin`);
      }
    }
    const model: LoadedModel = createModel(
      { manifest, decision, source, session, openError, ...(background ? { background: onProgress ? { onProgress } : {} } : {}) },
      {
        device,
        origin,
        results,
        counts: resultCounts,
        now,
        wallClock,
        onDispose: () => loads.delete(key, model),
        tensorClass,
        warn,
        ...(trust ? { revoked: trust.revoked } : {}),
        ...(telemetry ? { telemetry: telemetry.record } : {}),
      },
    );
    return model;
  }

  return {
    load(id, options = {}) {
      let choice: LoadChoice;
      const { variant, version } = options;
      try {
        const mode = parsePlacementMode(options.placement ?? cfg.placement);
        for (const [name, value] of [
          ['variant', variant],
          ['version', version],
        ] as const)
          if (value !== undefined && (typeof value !== 'string' || value === ''))
            throw new TandemError('bad_request', `${name} must be a ${name}'s name, got ${JSON.stringify(value)}`);
        if (options.waitForDevice !== undefined && typeof options.waitForDevice !== 'boolean')
          throw new TandemError('bad_request', `waitForDevice must be a boolean, got ${JSON.stringify(options.waitForDevice)}`);
        choice = { mode, variant, version, backends: parseExecutionProviders(options.executionProviders) };
      } catch (err) {
        return Promise.reject(toTandemError(err));
      }
      // One shared load per model, placement, variant, version and backends asked for.
      const key = JSON.stringify([id, choice.mode, variant ?? null, version ?? null, choice.backends ?? null]);
      return webAbort(options.signal, async () => {
        const model = await loads.get(key, (signal) => load(id, choice, key, signal, options.onProgress), options.signal);
        // Shared with callers that did not wait: this one waits for the background open, as it asked.
        if (options.waitForDevice) await untilAborted(model.deviceReady(), options.signal);
        return model;
      });
    },
    capabilities: () => device.capabilities(),
    async clearCaches() {
      await Promise.all([results.clear(), manifests.clear(), device.clearModelCache()]);
    },
    async stats() {
      const [runtime, size] = await Promise.all([device.stats(), results.size()]);
      const network = { ...counts };
      if (runtime) for (const k of Object.keys(network) as (keyof NetworkCounts)[]) network[k] += runtime.network[k];
      return {
        network,
        results: { ...resultCounts },
        modelCache: { hits: runtime?.modelCacheHits ?? 0, misses: runtime?.modelCacheMisses ?? 0 },
        persisted: device.persisted,
        memory: {
          sessions: runtime?.sessions ?? 0,
          sessionBytes: runtime?.memory?.sessionBytes ?? 0,
          budgetBytes: cfg.memoryBudgetBytes,
          peakSessions: runtime?.memory?.peakSessions ?? 0,
          resultEntries: size.entries,
          resultBytes: size.bytes,
        },
        batching: { runs: runtime?.batching?.runs ?? 0, callers: runtime?.batching?.callers ?? 0 },
      };
    },
    async isCached(id, options = {}) {
      const { version } = options;
      return (await device.cachedArtifacts(id)).some((a) => version === undefined || a.version === version);
    },
    async delete(id, options = {}) {
      const { version } = options;
      if (version === undefined) await Promise.all([results.deleteModel(id), device.evictModel(id), manifestStore.delete(manifestCacheKey(id))]);
      else await Promise.all([results.deleteVersions(id, [version]), device.evictVersions(id, [version])]);
    },
    async dispose() {
      telemetry?.close();
      loads.clear();
      await device.dispose();
    },
  };
}
