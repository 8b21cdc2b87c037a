/**
 * A loaded model and its `run`: a fresh cached answer if there is one; else the placement's first choice,
 * then its fallback (device ↔ origin), then a stale cached answer marked as such, then a typed error that
 * names both failures. The device session opens lazily when the device is only the fallback, and again in
 * a new worker after a crash.
 */
import { TandemError, toTandemError } from '../protocol/errors.ts';
import type { Manifest } from '../protocol/manifest.ts';
import type { NamedTensors, Tensor } from '../protocol/tensor.ts';
import { resultCacheKey } from './core/cache-keys.ts';
import { canFallBack, errorFromDevice } from './core/error-mapping.ts';
import type { DeviceBackend, PlacementDecision, Target } from './core/placement.ts';
import type { ResultCache } from './core/result-cache.ts';
import { throwIfAborted } from './core/retry.ts';
import type { Device, DeviceSession } from './device.ts';
import { validateInputs } from '../protocol/validate-inputs.ts';
import { cloneTensors, normalizeInputs, type InputMap } from './inputs.ts';
import type { ManifestSource } from './manifests.ts';
import type { OriginClient } from './origin-client.ts';
import type { BackendAttempt } from './runtime/contract.ts';

export type CacheMode = 'default' | 'no-store' | 'only-if-cached';

const CACHE_MODES: readonly CacheMode[] = ['default', 'no-store', 'only-if-cached'];

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
  readonly manifestSource: ManifestSource;
  /** The device session, when the model was opened on the device. */
  readonly device: { backend: DeviceBackend; attempts: BackendAttempt[]; fromCache: boolean } | undefined;
  /**
   * @throws TandemError `tensor_invalid` for bad inputs (before any network), `bad_request` for a bad
   *   option, `version_revoked` once a timestamp record withdrew this version, `not_found` for a miss
   *   under `only-if-cached`, else the last tier's error.
   * @example
   * const { outputs, ranOn, backend } = await model.run({ x: { data: new Float32Array(256), dims: [1, 256] } });
   */
  run(inputs: InputMap, options?: RunOptions): Promise<RunResult>;
  /**
   * Releases the model's device session in the Web Worker and forgets its load; later runs of this
   * handle reject with `model_not_ready`, and `tandem.load` opens it afresh. Idempotent.
   */
  dispose(): Promise<void>;
}

/** A model as the SDK holds it: `releaseDevice` frees its device session (the load memo dropped it); it reopens on the next device run. */
export interface LoadedModel extends TandemModel {
  releaseDevice(): Promise<void>;
}

/** Result cache hits and misses, counted by every model of one `createTandem`. */
export interface ResultCounts {
  hits: number;
  staleHits: number;
  misses: number;
}

export interface ModelDeps {
  device: Device;
  origin: OriginClient;
  results: ResultCache;
  counts: ResultCounts;
  /** A monotonic clock for timings. */
  now: () => number;
  /** Wall-clock time stored with cached results. */
  wallClock: () => number;
  /** Called once the model is disposed (the SDK forgets its load). */
  onDispose: () => void;
  /** Whether the freshest timestamp record revokes this version (with `rootKeys`): then it never runs again. */
  revoked?: (id: string, version: string) => boolean;
}

/** What the device or the origin answered. */
interface TierAnswer {
  outputs: NamedTensors;
  /** The device backend; undefined for the origin. */
  backend: DeviceBackend | undefined;
  version: string;
  computeMs: number;
}

export interface ModelState {
  manifest: Manifest;
  decision: PlacementDecision;
  source: ManifestSource;
  /** The session opened at load, when the device was the first choice and opened. */
  session: DeviceSession | undefined;
  /** Why the device could not open at load, when it could not (the origin then answers). */
  openError: TandemError | undefined;
}

/**
 * @example
 * const model = createModel({ manifest, decision, source: 'network', session, openError: undefined }, deps);
 */
export function createModel(state: ModelState, deps: ModelDeps): LoadedModel {
  const { manifest, decision, source } = state;
  let session = state.session;
  let disposed = false;
  let deviceBroken = state.openError;
  let lazyDevice: Promise<DeviceSession> | undefined;
  const deviceChoice = decision.target === 'device' ? decision : decision.fallback?.target === 'device' ? decision.fallback : undefined;
  const originAllowed = decision.target === 'origin' || decision.fallback?.target === 'origin';

  const deviceSession = async (): Promise<DeviceSession> => {
    if (session) return session;
    if (deviceBroken) throw deviceBroken;
    if (!deviceChoice) throw new TandemError('device_unsupported', `${manifest.id}: ${decision.reason}`);
    lazyDevice ??= deps.device.open(manifest, deviceChoice);
    lazyDevice.catch(() => (lazyDevice = undefined));
    session = await lazyDevice;
    return session;
  };

  async function runDevice(inputs: NamedTensors, outputs: string[] | undefined): Promise<TierAnswer> {
    // After a crash (this run fell back to the origin), the next one reopens the model in a new worker,
    // from the model cache: back on the device.
    if (session?.runtime.crashed) session = undefined;
    const s = await deviceSession();
    // The worker gets its own copies (transferred); the caller's arrays stay intact for a fallback.
    const result = await s.runtime.run(s.sessionId, cloneTensors(inputs), outputs).catch((err: unknown) => {
      throw errorFromDevice(err);
    });
    return { outputs: result.outputs, backend: result.backend, version: manifest.version, computeMs: result.computeMs };
  }

  const runOn = async (target: Target, inputs: NamedTensors, options: RunOptions): Promise<TierAnswer> =>
    target === 'device'
      ? runDevice(inputs, options.outputs)
      : { ...(await deps.origin.infer(manifest, inputs, options.outputs, options.signal)), backend: undefined };

  return {
    id: manifest.id,
    version: manifest.version,
    manifest,
    placement: decision,
    manifestSource: source,
    get device() {
      return session ? { backend: session.backend, attempts: session.attempts, fromCache: session.fromCache } : undefined;
    },
    async run(rawInputs, options = {}) {
      const start = deps.now();
      const cacheMode = options.cache ?? 'default';
      if (!CACHE_MODES.includes(cacheMode)) throw new TandemError('bad_request', `cache must be default, no-store or only-if-cached`);
      throwIfAborted(options.signal);
      if (disposed) throw new TandemError('model_not_ready', `${manifest.id} was disposed: load it again`);
      if (deps.revoked?.(manifest.id, manifest.version))
        throw new TandemError('version_revoked', `${manifest.id}@${manifest.version} was revoked since it was loaded: load the model again`);
      const inputs = normalizeInputs(rawInputs);
      // Checked against the signature before either tier sees them, by the rules the origin applies: a
      // wrong name, dtype or shape is the caller's typed error, never onnxruntime's `inference_failed`.
      validateInputs(
        Object.entries(inputs).map(([name, tensor]) => ({ name, ...tensor })),
        decision.variant.inputs,
        { nonFinite: 'allow' },
      );
      // A run that asks for some outputs only caches under a key that also covers which ones (as a
      // string tensor under a name no real input can have).
      const keyed = options.outputs
        ? { ...inputs, '\u0000outputs': { dtype: 'string' as const, dims: [options.outputs.length], data: options.outputs } }
        : inputs;
      const key = cacheMode === 'no-store' ? undefined : await resultCacheKey(manifest.id, manifest.version, keyed);
      const cached = key ? await deps.results.lookup(key, manifest.version) : undefined;
      const fromCache = (stale: boolean, fallback?: RunMeta['fallback']): RunResult => ({
        outputs: cloneTensors(cached!.entry.outputs),
        ranOn: 'cache',
        backend: cached!.entry.backend,
        version: cached!.entry.version,
        stale,
        timings: { totalMs: deps.now() - start },
        ...(fallback ? { fallback } : {}),
      });
      if (cached?.fresh) {
        deps.counts.hits++;
        return fromCache(false);
      }
      if (cacheMode === 'only-if-cached') {
        if (cached) {
          deps.counts.staleHits++;
          return fromCache(true);
        }
        deps.counts.misses++;
        throw new TandemError('not_found', `no cached result for this input of ${manifest.id}@${manifest.version} (cache: 'only-if-cached')`);
      }
      deps.counts.misses++;

      const order: Target[] = [decision.target];
      if (decision.fallback) order.push(decision.fallback.target);
      let firstError: TandemError | undefined;
      let lastError: TandemError | undefined;
      for (const target of order) {
        try {
          const r = await runOn(target, inputs, options);
          if (key && r.version === manifest.version) {
            void deps.results.put(key, {
              modelId: manifest.id,
              version: r.version,
              outputs: cloneTensors(r.outputs),
              storedAt: deps.wallClock(),
              computedOn: target,
              ...(r.backend ? { backend: r.backend } : {}),
            });
          }
          return {
            outputs: r.outputs,
            ranOn: target,
            backend: r.backend,
            version: r.version,
            stale: false,
            timings: { totalMs: deps.now() - start, computeMs: r.computeMs },
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
        deps.counts.staleHits++;
        return fromCache(true, { from: order[0]!, code: firstError!.code, message: firstError!.message });
      }
      throw lastError === firstError || !lastError || !firstError
        ? lastError!
        : new TandemError(lastError.code, `${lastError.message} (after ${order[0]}: ${firstError.message})`, { cause: firstError });
    },
    async releaseDevice() {
      const s = session;
      session = undefined;
      lazyDevice = undefined;
      if (s && !s.runtime.crashed) await s.runtime.release(s.sessionId);
    },
    async dispose() {
      if (disposed) return;
      disposed = true;
      deps.onDispose();
      const s = session;
      session = undefined;
      deviceBroken = new TandemError('model_not_ready', `${manifest.id} was disposed`);
      if (s && !s.runtime.crashed) await s.runtime.release(s.sessionId);
    },
  };
}
