/**
 * Inference on the origin, through the edge: one OIP v2 request (binary tensors in, binary outputs asked
 * for), retried with backoff and guarded by the circuit breaker, each attempt under its own deadline and
 * the caller's signal.
 *
 * The OIP codec is a chunk of its own, imported on first use (`loadOipCodec`, which `load` starts as soon
 * as a placement includes the origin): a page that runs its models on the device never loads it, and the
 * main-thread SDK the page waits for stays within its budget (client/bundle-size.test.ts).
 */
import type { Manifest } from '../protocol/manifest.ts';
import { tensorsByName, type NamedTensors, type Tensor } from '../protocol/tensor.ts';
import type { BreakerOptions, CircuitBreaker } from '../protocol/resilience/breaker.ts';
import { errorFromFetchFailure, errorFromResponse, isOriginFailure } from './core/error-mapping.ts';
import { retry, type RetryDeps, type RetryPolicy } from './core/retry.ts';
import { loadOnce } from './core/load-once.ts';

export interface OriginClientDeps {
  /** The edge's base URL, without a trailing slash. */
  edge: string;
  fetch: typeof fetch;
  /** The headers of every edge request (API key, client id). */
  headers: () => Promise<Record<string, string>>;
  /** The circuit breaker's settings: the breaker itself comes with the origin chunk, on the first run. */
  breaker: BreakerOptions;
  online: () => boolean;
  retry: RetryPolicy;
  retryDeps?: RetryDeps;
  /** Deadline of one attempt, ms. */
  requestTimeoutMs: number;
  now: () => number;
}

/** A run that another version answered because the origins lack the one loaded. */
export interface VersionFallback {
  /** The version the model was loaded at. */
  requested: string;
  /** The version that computed the outputs (also `RunResult.version`). */
  served: string;
  /** Why: the origins do not hold `requested` (they answered `model_not_found`). */
  reason: 'version_not_on_origin';
}

export interface OriginAnswer {
  outputs: NamedTensors;
  /** The version that answered (the edge may route to another during a rollout). */
  version: string;
  computeMs: number;
  /** When another version answered because the origins lack `manifest.version` (./version-fallback.ts). */
  versionFallback?: VersionFallback;
}

type OriginChunk = typeof import('./origin-chunk.ts');

/** The origin chunk (OIP codec, circuit breaker), imported once (again after a failed import: a dropped network, say). */
export const loadOipCodec: () => Promise<OriginChunk> = loadOnce(() => import('./origin-chunk.ts'));

export interface OriginClient {
  /** @throws TandemError from the edge or origin (`origin_unavailable`, `offline`, `rate_limited`, …). */
  infer(manifest: Manifest, inputs: NamedTensors, outputs: string[] | undefined, signal?: AbortSignal, traceparent?: string): Promise<OriginAnswer>;
}

/**
 * @example
 * const origin = createOriginClient({ edge, fetch, headers, breaker: DEFAULT_BREAKER, online, retry: DEFAULT_RETRY, requestTimeoutMs: 30_000, now });
 * const { outputs, version } = await origin.infer(manifest, { x: tensor('float32', [1, 256], data) }, undefined);
 */
export function createOriginClient(deps: OriginClientDeps): OriginClient {
  let breaker: CircuitBreaker | undefined;
  return {
    async infer(manifest, inputs, outputs, signal, traceparent) {
      let oip: OriginChunk;
      try {
        oip = await loadOipCodec();
      } catch (err) {
        throw errorFromFetchFailure(err, deps.online(), "load the SDK's OIP codec");
      }
      const { encodeInferRequest, readOriginAnswer, requestBinaryOutputs } = oip;
      breaker ??= oip.createCircuitBreaker(deps.breaker, isOriginFailure);
      const request = requestBinaryOutputs({
        inputs: Object.entries(inputs).map(([name, t]) => ({ name, ...t })),
        ...(outputs ? { outputs: outputs.map((name) => ({ name })) } : {}),
      });
      const { body, headers } = encodeInferRequest(request, { binary: true });
      // The run's trace (protocol/traceparent.ts): the edge continues it and forwards it to the origin.
      const allHeaders = { ...headers, ...(await deps.headers()), ...(traceparent ? { traceparent } : {}) };
      const url = `${deps.edge}/v2/models/${encodeURIComponent(manifest.id)}/versions/${encodeURIComponent(manifest.version)}/infer`;
      return breaker.call(() =>
        retry(
          async () => {
            const deadline = AbortSignal.timeout(deps.requestTimeoutMs);
            const start = deps.now();
            let res: Response;
            try {
              res = await deps.fetch(url, { method: 'POST', body, headers: allHeaders, signal: signal ? AbortSignal.any([signal, deadline]) : deadline });
            } catch (err) {
              throw errorFromFetchFailure(signal?.aborted ? (signal.reason ?? err) : err, deps.online(), `infer on the origin`);
            }
            if (!res.ok) throw await errorFromResponse(res);
            const answer = await readOriginAnswer(res, manifest, outputs).catch((err: unknown) => {
              throw signal?.aborted ? errorFromFetchFailure(signal.reason ?? err, deps.online(), 'infer on the origin') : err;
            });
            const out = tensorsByName();
            for (const { name, dtype, dims, data } of answer.outputs) out[name] = { dtype, dims, data } as Tensor;
            return { outputs: out, version: answer.version, computeMs: deps.now() - start };
          },
          deps.retry,
          signal ? { signal } : {},
          deps.retryDeps,
        ),
      );
    },
  };
}
