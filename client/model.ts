/**
 * A loaded model and its `run`: a fresh cached answer if there is one; else the placement's first choice,
 * then its fallback (device ↔ origin), then a stale cached answer marked as such, then a typed error that
 * names both failures. The device session opens lazily when the device is only the fallback, and again in
 * a new worker after a crash. Under `prefer-device` the load may hand over a model whose device variant
 * still downloads (a background open): its runs go to the origin until the session is ready, as Firebase's
 * hybrid inference does; an open that fails is reported and, when worth it, tried again by a later run. Outputs are onnxruntime `Tensor`s (./ort-tensor.ts); an aborted run rejects
 * with an `AbortError` at once, even while the Web Worker computes (./core/abort.ts).
 */
import { isRetryable, TandemError, toTandemError } from '../protocol/errors.ts';
import type { Manifest } from '../protocol/manifest.ts';
import type { NamedTensors } from '../protocol/tensor.ts';
import { untilAborted, webAbort } from './core/abort.ts';
import { resultCacheKey } from './core/cache-keys.ts';
import { canFallBack, errorFromDevice } from './core/error-mapping.ts';
import type { DeviceBackend, PlacementDecision, Target } from './core/placement.ts';
import type { ResultCache } from './core/result-cache.ts';
import { throwIfAborted } from './core/retry.ts';
import type { Device, DeviceSession, OpenOptions } from './device.ts';
import type { Warn } from './core/store.ts';
import { checkInputs, requestedOutputs } from '../protocol/validate-inputs.ts';
import { cloneTensors, normalizeInputs, type InputMap } from './inputs.ts';
import type { ManifestSource } from './manifests.ts';
import type { OriginClient } from './origin-client.ts';
import type { VersionFallback } from './origin-client.ts';
import { toOrtTensors, toValueMetadata, type Tensor, type TensorConstructor, type ValueMetadata } from './ort-tensor.ts';
import type { BackendAttempt } from './runtime/contract.ts';
import type { DeviceRunRecord } from '../protocol/device-telemetry.ts';
import { continueTrace, formatTraceparent, parseTraceparent } from '../protocol/traceparent.ts';
import type { DeviceRun } from './core/telemetry.ts';

export type CacheMode = 'default' | 'no-store' | 'only-if-cached';

const CACHE_MODES: readonly CacheMode[] = ['default', 'no-store', 'only-if-cached'];

/** Device runs' request ids (for the worker's `cancel`), unique in the page. */
let nextRun = 0;

export interface RunOptions {
  /** Aborts the run: it rejects with a DOMException `AbortError` (the signal's reason, if a DOMException), as `fetch` does. */
  signal?: AbortSignal;
  /** `default`: fresh hits answer, results are stored. `no-store`: neither read nor write. `only-if-cached`: the cache or an error. */
  cache?: CacheMode;
  /** Outputs to compute. Default: all. */
  outputs?: string[];
  /** The app's W3C `traceparent`, when the run belongs to its trace. Default: the run starts a trace. */
  traceparent?: string;
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
  /** The run's W3C trace id: the edge's and the origin's log lines of its origin request name it too. */
  traceId: string;
  /**
   * When the origin answered with another version than the model's, because the origins no longer hold
   * it (a cached or rolled-back version whose run fell back to the origin): the version asked for, the
   * one that computed the outputs (`version`), and why. The nearest version the origins hold with the
   * same signature answers (docs/rollout.md); such answers are not put in the result cache.
   */
  versionFallback?: VersionFallback;
}

export interface RunResult extends RunMeta {
  /** onnxruntime `Tensor`s (`type`, `dims`, `data`), as `InferenceSession.run` returns them. */
  outputs: Record<string, Tensor>;
}

export interface TandemModel {
  readonly id: string;
  readonly version: string;
  readonly manifest: Manifest;
  readonly placement: PlacementDecision;
  /** Where the manifest came from: the edge, or the manifest store when the edge was unreachable. */
  readonly manifestSource: ManifestSource;
  /** The device session, when the model was opened on the device (undefined while it opens in the background). */
  readonly device: { backend: DeviceBackend; attempts: BackendAttempt[]; fromCache: boolean } | undefined;
  /** The inputs' names, in the manifest's order (as `InferenceSession.inputNames`). */
  readonly inputNames: readonly string[];
  /** The outputs' names, in the manifest's order (as `InferenceSession.outputNames`). */
  readonly outputNames: readonly string[];
  /** Each input's dtype and shape from the manifest (as `InferenceSession.inputMetadata`; symbolic dims are names). */
  readonly inputMetadata: readonly ValueMetadata[];
  /** Each output's dtype and shape from the manifest (as `InferenceSession.outputMetadata`). */
  readonly outputMetadata: readonly ValueMetadata[];
  /**
   * @throws TandemError `tensor_invalid` for bad inputs (before any network), `bad_request` for a bad
   *   option, `version_revoked` once a timestamp record withdrew this version, `not_found` for a miss
   *   under `only-if-cached`, else the last tier's error. An aborted run rejects with a DOMException
   *   `AbortError` instead, at once.
   * @example
   * const { outputs, ranOn } = await model.run({ x: new ort.Tensor('float32', features, [1, 256]) });
   * outputs.probabilities.data; // Float32Array
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
  /** Settles once a background open has (its session ready, or its failure reported); at once when none runs. */
  deviceReady(): Promise<void>;
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
  /** Takes each device run's record (client/core/telemetry.ts); absent when the app turned telemetry off. */
  telemetry?: (run: DeviceRun) => void;
  /** onnxruntime's `Tensor` class, the outputs' (./ort-tensor.ts `loadTensorClass`, or the app's). */
  tensorClass: () => Promise<TensorConstructor>;
  /** Hears of a background open that failed (the origin keeps answering). Default: silent. */
  warn?: Warn;
}

/** What the device or the origin answered. */
interface TierAnswer {
  outputs: NamedTensors;
  /** The device backend; undefined for the origin. */
  backend: DeviceBackend | undefined;
  version: string;
  computeMs: number;
  versionFallback?: VersionFallback;
}

export interface ModelState {
  manifest: Manifest;
  decision: PlacementDecision;
  source: ManifestSource;
  /** The session opened at load, when the device was the first choice and opened. */
  session: DeviceSession | undefined;
  /** Why the device could not open at load, when it could not (the origin then answers). */
  openError: TandemError | undefined;
  /**
   * Open the device variant in the background now (no `session` yet): runs go to the origin until it is
   * ready. Its `onProgress` hears the download. Only for a device first choice with an origin fallback.
   */
  background?: Pick<OpenOptions, 'onProgress'>;
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
  const deviceChoice = decision.target === 'device' ? decision : decision.fallback?.target === 'device' ? decision.fallback : undefined;
  const originAllowed = decision.target === 'origin' || decision.fallback?.target === 'origin';
  /** The open in flight, if any; `inBackground`: runs go to the origin meanwhile (else they wait for it). */
  let opening: { promise: Promise<DeviceSession>; inBackground: boolean; stop: AbortController } | undefined;
  /** A background open failed in a way worth trying again: the next run starts another. */
  let retryOpen = false;
  const background = state.background && deviceChoice === decision && originAllowed && !session ? state.background : undefined;

  /** Opens the device variant; a session that arrives after dispose (or after a newer open) is released at once. */
  const open = (inBackground: boolean, options: Pick<OpenOptions, 'onProgress'> = {}): Promise<DeviceSession> => {
    const stop = new AbortController();
    const promise = deps.device.open(manifest, deviceChoice!, { ...options, signal: stop.signal });
    const current = { promise, inBackground, stop };
    opening = current;
    promise.then(
      (s) => {
        if (opening === current && !disposed) {
          opening = undefined;
          session = s;
        } else if (!s.runtime.crashed) void s.runtime.release(s.sessionId).catch(() => {});
      },
      (err: unknown) => {
        if (opening !== current) return;
        opening = undefined;
        if (!inBackground) return; // The run that waited on it handles it.
        const e = errorFromDevice(err);
        if (isRetryable(e)) retryOpen = true;
        else deviceBroken = e;
        deps.warn?.(`${manifest.id}: the device could not open ${deviceChoice!.variant.name} in the background (${e.message}); the origin answers`, e);
      },
    );
    return promise;
  };
  if (background) open(true, background);

  const deviceSession = async (): Promise<DeviceSession> => {
    if (session) return session;
    if (deviceBroken) throw deviceBroken;
    if (!deviceChoice) throw new TandemError('device_unsupported', `${manifest.id}: ${decision.reason}`);
    const opened = await (opening?.promise ?? open(false));
    if (disposed) throw new TandemError('model_not_ready', `${manifest.id} was disposed`);
    session = opened;
    return opened;
  };

  async function runDevice(inputs: NamedTensors, outputs: string[] | undefined, signal: AbortSignal | undefined): Promise<TierAnswer> {
    // After a crash (this run fell back to the origin), the next one reopens the model in a new worker,
    // from the model cache: back on the device.
    if (session?.runtime.crashed) session = undefined;
    const s = await untilAborted(deviceSession(), signal);
    // The caller's arrays stay intact for a fallback: the runtime copies what it transfers
    // (runtime/run-port.ts). Once it computes, the worker cannot be interrupted: an abort ends the wait,
    // and its answer is dropped; a run still queued for a micro-batch leaves the queue (`cancel`).
    const requestId = signal ? `run-${++nextRun}` : undefined;
    const cancel = () => void s.runtime.cancel(requestId!).catch(() => {});
    signal?.addEventListener('abort', cancel, { once: true });
    const result = await untilAborted(s.runtime.run(s.sessionId, inputs, outputs, requestId ? { requestId } : undefined), signal)
      .catch((err: unknown) => {
        throw errorFromDevice(err);
      })
      .finally(() => signal?.removeEventListener('abort', cancel));
    return { outputs: result.outputs, backend: result.backend, version: manifest.version, computeMs: result.computeMs };
  }

  const runOn = async (target: Target, inputs: NamedTensors, options: RunOptions, traceparent: string): Promise<TierAnswer> =>
    target === 'device'
      ? runDevice(inputs, options.outputs, options.signal)
      : { ...(await deps.origin.infer(manifest, inputs, options.outputs, options.signal, traceparent)), backend: undefined };

  const inputMetadata = toValueMetadata(decision.variant.inputs);
  const outputMetadata = toValueMetadata(decision.variant.outputs);

  /** The answer with its outputs as onnxruntime Tensors. */
  const answer = async (meta: RunMeta, outputs: NamedTensors): Promise<RunResult> => ({ outputs: toOrtTensors(outputs, await deps.tensorClass()), ...meta });

  const model: LoadedModel = {
    id: manifest.id,
    version: manifest.version,
    manifest,
    placement: decision,
    manifestSource: source,
    get device() {
      return session ? { backend: session.backend, attempts: session.attempts, fromCache: session.fromCache } : undefined;
    },
    inputNames: inputMetadata.map((m) => m.name),
    outputNames: outputMetadata.map((m) => m.name),
    inputMetadata,
    outputMetadata,
    async run(rawInputs, options = {}) {
      const start = deps.now();
      const trace = continueTrace(parseTraceparent(options.traceparent));
      const cacheMode = options.cache ?? 'default';
      if (!CACHE_MODES.includes(cacheMode)) throw new TandemError('bad_request', `cache must be default, no-store or only-if-cached`);
      throwIfAborted(options.signal);
      if (disposed) throw new TandemError('model_not_ready', `${manifest.id} was disposed: load it again`);
      if (deps.revoked?.(manifest.id, manifest.version))
        throw new TandemError('version_revoked', `${manifest.id}@${manifest.version} was revoked since it was loaded: load the model again`);
      const asked: unknown = options.outputs;
      if (asked !== undefined && (!Array.isArray(asked) || asked.some((name, i) => typeof name !== 'string' || asked.indexOf(name) !== i))) {
        throw new TandemError('bad_request', 'outputs must be a list of distinct output names');
      }
      requestedOutputs(options.outputs, decision.variant.outputs); // output_unknown, by the origin's rule
      const inputs = normalizeInputs(rawInputs);
      // Checked against the signature before either tier sees them, by the rules the origin applies: a
      // wrong name, dtype or shape is the caller's typed error, never onnxruntime's `inference_failed`.
      checkInputs(
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
      const fromCache = (stale: boolean, fallback?: RunMeta['fallback']): Promise<RunResult> =>
        answer(
          {
            ranOn: 'cache',
            backend: cached!.entry.backend,
            version: cached!.entry.version,
            stale,
            timings: { totalMs: deps.now() - start },
            ...(fallback ? { fallback } : {}),
            traceId: trace.traceId,
          },
          cloneTensors(cached!.entry.outputs),
        );
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

      // While the device variant opens in the background, the origin answers first (the device, once
      // ready, is its fallback); a background open that failed worth retrying is started again here.
      if (background && !session && !opening && retryOpen && !deviceBroken) {
        retryOpen = false;
        open(true);
      }
      const order: Target[] =
        background && !session && opening?.inBackground ? ['origin', 'device'] : [decision.target, ...(decision.fallback ? [decision.fallback.target] : [])];
      let firstError: TandemError | undefined;
      let lastError: TandemError | undefined;
      for (const target of order) {
        const began = deps.now();
        // A device attempt's record: its answer, or its failure (backend: the one it ran on or would have tried).
        const report = (outcome: DeviceRunRecord['outcome'], backend = session?.backend ?? deviceChoice?.backends[0], outputs?: NamedTensors) =>
          target === 'device' &&
          backend &&
          deps.telemetry?.({
            manifest,
            variant: deviceChoice!.variant,
            backend,
            latencyMs: deps.now() - began,
            outcome,
            fallback: target !== order[0],
            outputs,
          });
        try {
          const r = await runOn(target, inputs, options, formatTraceparent(trace));
          report('ok', r.backend, r.outputs);
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
          return await answer(
            {
              ranOn: target,
              backend: r.backend,
              version: r.version,
              stale: false,
              timings: { totalMs: deps.now() - start, computeMs: r.computeMs },
              ...(firstError ? { fallback: { from: order[0]!, code: firstError.code, message: firstError.message } } : {}),
              traceId: trace.traceId,
              ...(r.versionFallback ? { versionFallback: r.versionFallback } : {}),
            },
            r.outputs,
          );
        } catch (err) {
          const e = toTandemError(err);
          if (e.code !== 'aborted') report(e.code);
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
    async deviceReady() {
      while (opening?.inBackground) await opening.promise.catch(() => {});
    },
    async releaseDevice() {
      const s = session;
      session = undefined;
      // A background open stops (its session, should it still arrive, is released); a run's own open is left to it.
      if (opening?.inBackground) {
        opening.stop.abort();
        opening = undefined;
      }
      if (s && !s.runtime.crashed) await s.runtime.release(s.sessionId);
    },
    async dispose() {
      if (disposed) return;
      disposed = true;
      deps.onDispose();
      const s = session;
      session = undefined;
      opening?.stop.abort();
      opening = undefined;
      deviceBroken = new TandemError('model_not_ready', `${manifest.id} was disposed`);
      if (s && !s.runtime.crashed) await s.runtime.release(s.sessionId);
    },
  };
  // The public face of an abort is fetch's (./core/abort.ts); inside, it stays TandemError `aborted`.
  const run = model.run.bind(model);
  model.run = (inputs, options = {}) => webAbort(options.signal, () => run(inputs, options));
  return model;
}
