/**
 * The worker contract: everything that crosses between the page and the Web Worker, in one typed file.
 *
 * The worker exposes a `DeviceRuntime` with comlink; the page wraps it. Tensors cross as plain
 * `{ dtype, dims, data }` with their buffers transferred (never copied), and errors cross as TandemErrors
 * with their `code` intact: comlink's stock throw handler keeps only message, name and stack, so both
 * sides install `installErrorTransfer()` before any call.
 */
import { transferHandlers, type TransferHandler } from 'comlink';
import { TandemError, isErrorCode } from '../../protocol/errors.ts';
import type { ManifestVariant, TensorSpec } from '../../protocol/manifest.ts';
import type { BatchingSignature } from '../../protocol/row-batching.ts';
import type { NamedTensors } from '../../protocol/tensor.ts';
import type { DeviceBackend } from '../core/placement.ts';
import type { NetworkCounts } from '../core/counters.ts';
import type { RetryPolicy } from '../core/retry.ts';

/**
 * Tensors of at least this many bytes cross between the page and the Web Worker by transfer (the SDK
 * hands over copies of its own); smaller ones by structured clone, which copies them while it serializes
 * the message: for a small tensor that is cheaper than a copy, a transfer and a new buffer on the other
 * side (docs/performance.md, Client).
 */
export const TRANSFER_MIN_BYTES = 64 * 1024;

/** `RuntimeInit.memoryBudgetBytes`' default: 256 MiB of weights (onnxruntime-web's WASM heap tops out at 4 GiB, and phones have less). */
export const DEFAULT_MEMORY_BUDGET_BYTES = 256 * 1024 * 1024;

/**
 * `RuntimeInit.microBatch`'s defaults. `maxDelayMs` 0: a caller never waits for companions that have
 * not arrived; it is coalesced only with the runs already waiting (those that came while the session
 * computed, or that reached the worker in the same burst of messages). A device serves one user, so
 * most runs are alone, and a fixed wait would add its whole length to each of them for the sake of the
 * rare burst; a burst needs no wait anyway, since its runs queue while the first one computes.
 * `maxBatch` 32 rows: past a few dozen rows a small model's run time grows with the rows (the fixed
 * cost per run, which coalescing saves, is already amortized), and the variant's own
 * `requirements.maxBatch` lowers it further.
 */
export const DEFAULT_MICRO_BATCH: MicroBatchOptions = { maxBatch: 32, maxDelayMs: 0 };

/** How the Web Worker coalesces concurrent runs of one session (runtime/micro-batch.ts). */
export interface MicroBatchOptions {
  /** The most rows one coalesced run takes (and at most the variant's `requirements.maxBatch`). A caller with more runs alone. */
  maxBatch: number;
  /**
   * How long the oldest waiting caller may wait for others to join it, ms. 0: no wait; only callers
   * already queued (behind a running batch, or delivered in the same burst) are coalesced.
   */
  maxDelayMs: number;
}

/**
 * What the worker needs of the variant's manifest to tell whether its runs may be coalesced
 * (protocol/row-batching.ts: every input and output led by the same dynamic dimension, or the import's
 * measured `batching`, and rows computed independently of each other).
 */
export interface VariantSignature extends BatchingSignature {
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  /** The variant's `requirements.maxBatch`, when it states one. */
  maxBatch?: number;
}

/** The signature a load sends for a manifest variant. */
export function variantSignature(variant: ManifestVariant): VariantSignature {
  return {
    inputs: variant.inputs,
    outputs: variant.outputs,
    quantization: variant.quantization.method,
    batching: variant.batching,
    ...(variant.requirements.maxBatch !== undefined ? { maxBatch: variant.requirements.maxBatch } : {}),
  };
}

export interface RuntimeInit {
  /**
   * Where the app serves onnxruntime-web's `.wasm`/`.mjs` files (a folder URL ending in `/`). Absent:
   * onnxruntime-web's own `new URL(…, import.meta.url)`, which the app's bundler resolved.
   */
  wasmPaths?: string;
  /** WASM threads; 1 unless the page is cross-origin isolated. */
  numThreads: number;
  retry: RetryPolicy;
  /** How long an artifact read may stall, and the fixed part of its deadline, ms (core/download.ts). Default 30000. */
  timeoutMs?: number;
  /**
   * The bytes of model weights (artifact sizes) the open sessions may hold together; least recently used
   * sessions are released to make room. Default `DEFAULT_MEMORY_BUDGET_BYTES`.
   */
  memoryBudgetBytes?: number;
  /** Coalescing of concurrent runs of one session; `false` runs each alone. Default `DEFAULT_MICRO_BATCH`. */
  microBatch?: MicroBatchOptions | false;
}

export interface LoadRequest {
  /** Identifies this load for `cancel`. */
  requestId: string;
  modelId: string;
  version: string;
  variant: string;
  artifact: { url: string; sha256: string; bytes: number };
  /** Headers for the artifact request (the API key). */
  headers: Record<string, string>;
  /** Backends to try in order; the first that creates a session wins. */
  backends: DeviceBackend[];
  /** The variant's signature; without it the session's runs are never coalesced. */
  signature?: VariantSignature;
}

/** Options of one device run. */
export interface DeviceRunOptions {
  /** Identifies this run for `cancel`: a run still queued for a coalesced batch leaves it and rejects with `aborted`. */
  requestId?: string;
}

export interface LoadProgress {
  phase: 'download' | 'verify' | 'session';
  loaded: number;
  total: number;
}

export interface BackendAttempt {
  backend: DeviceBackend;
  ok: boolean;
  /** Why it failed (onnxruntime's message), when it did. */
  reason?: string;
  ms: number;
}

export interface LoadResult {
  sessionId: string;
  /** The backend that really created the session. */
  backend: DeviceBackend;
  attempts: BackendAttempt[];
  /** The bytes came from the model cache (no artifact request). */
  fromCache: boolean;
  /** The bytes were written to the model cache (false when the quota was too short). */
  cached: boolean;
  timings: { downloadMs: number; verifyMs: number; sessionMs: number };
  inputNames: string[];
  outputNames: string[];
}

export interface RunResult {
  outputs: NamedTensors;
  backend: DeviceBackend;
  computeMs: number;
  /**
   * How many callers' runs the one `session.run` that computed this answer served (1: it ran alone).
   * Absent when the run was not offered for coalescing (micro-batching off, or a model that cannot batch).
   */
  batchCallers?: number;
}

export interface RuntimeStats {
  network: NetworkCounts;
  modelCacheHits: number;
  modelCacheMisses: number;
  /** Open onnxruntime sessions in the worker now. */
  sessions: number;
  /** The memory budget and what it did. Optional for runtimes an app brings. */
  memory?: MemoryStats;
  /** Micro-batching: the `session.run` calls made for coalescable sessions and the runs they answered. Optional for runtimes an app brings. */
  batching?: BatchingStats;
}

export interface BatchingStats {
  /** `session.run` calls made for runs offered for coalescing (a failed coalesced run too: its callers then ran alone). */
  runs: number;
  /** The callers' runs answered, each counted once, by the run that answered it (runs = callers: nothing was coalesced). */
  callers: number;
}

export interface MemoryStats {
  budgetBytes: number;
  /** Bytes of model weights the open sessions hold. */
  sessionBytes: number;
  /** Sessions handed out and not released by the page (open, or released by the budget and reopened on use). */
  handles: number;
  /** Sessions the budget released (least recently used out). */
  released: number;
  /** Sessions opened again on a run after the budget released them. */
  reopened: number;
  /** The most sessions open at once, and the most bytes they held. */
  peakSessions: number;
  peakSessionBytes: number;
}

/** An artifact in the model cache, as `cachedArtifacts` lists it. */
export interface CachedArtifact {
  sha256: string;
  bytes: number;
  /** Absent for entries stored before versions were kept. */
  version?: string;
}

/** What the Web Worker exposes. Methods only take and return structured-cloneable values (and one callback). */
export interface DeviceRuntime {
  init(options: RuntimeInit): Promise<void>;
  /**
   * Starts onnxruntime-web's WASM (compile and instantiate, seconds on a first visit) now, so that a load
   * about to come does not wait for it after its download. Resolves when it is ready, or failed (a
   * warning: the load then meets the failure itself). Once per runtime; after `init`. Optional for
   * runtimes an app brings.
   */
  warmUp?(): Promise<void>;
  /** Reads the model cache or downloads (resuming), verifies the SHA-256, caches, creates the session. */
  load(request: LoadRequest, onProgress?: (progress: LoadProgress) => void): Promise<LoadResult>;
  /** Runs the session, coalesced with concurrent runs of it when it can batch (`RuntimeInit.microBatch`). */
  run(sessionId: string, inputs: NamedTensors, outputNames?: string[], options?: DeviceRunOptions): Promise<RunResult>;
  release(sessionId: string): Promise<void>;
  /** Aborts an in-flight `load`, or takes a queued `run` out of its batch. */
  cancel(requestId: string): Promise<void>;
  clearModelCache(): Promise<void>;
  /**
   * Deletes from the model cache the bytes stored for these versions of a model (revoked: never run
   * again). Returns how many entries went. Optional for runtimes an app brings.
   */
  evictVersions?(modelId: string, versions: string[]): Promise<number>;
  /** The model cache's artifacts of a model (for `tandem.isCached`). Optional for runtimes an app brings. */
  cachedArtifacts?(modelId: string): Promise<CachedArtifact[]>;
  /** Deletes every cached artifact of a model (for `tandem.delete`); returns how many. Optional for runtimes an app brings. */
  evictModel?(modelId: string): Promise<number>;
  stats(): Promise<RuntimeStats>;
}

/** A device runtime that can die (a Web Worker out of memory, say) and be replaced. */
export interface RestartableRuntime extends DeviceRuntime {
  readonly crashed?: boolean;
  terminate?(): void;
}

export interface SerializedThrow {
  isError: boolean;
  value: unknown;
}

interface SerializedTandemError {
  tandem: true;
  code: string;
  message: string;
  stack?: string;
  retryAfterSeconds?: number;
  requestId?: string;
  cause?: string;
}

/** What was thrown, in a form that crosses `postMessage`: a TandemError keeps its code (and retry hint, request id). */
export function serializeThrown(value: unknown): SerializedThrow {
  if (value instanceof TandemError) {
    const out: SerializedTandemError = { tandem: true, code: value.code, message: value.message };
    if (value.stack) out.stack = value.stack;
    if (value.retryAfterSeconds !== undefined) out.retryAfterSeconds = value.retryAfterSeconds;
    if (value.requestId !== undefined) out.requestId = value.requestId;
    if (value.cause !== undefined) out.cause = value.cause instanceof Error ? value.cause.message : String(value.cause);
    return { isError: true, value: out };
  }
  if (value instanceof Error) return { isError: true, value: { message: value.message, name: value.name, stack: value.stack } };
  return { isError: false, value };
}

/** Marks the value comlink wraps a thrown error in (comlink's private `throwMarker` is a symbol we can't name). */
const throwHandler: TransferHandler<{ value: unknown }, SerializedThrow> = {
  canHandle: (value): value is { value: unknown } =>
    typeof value === 'object' && value !== null && Object.getOwnPropertySymbols(value).some((s) => s.description === 'Comlink.thrown'),
  serialize: ({ value }) => [serializeThrown(value), []],
  deserialize(serialized) {
    throw reviveError(serialized);
  },
};

/** Rebuilds what the other side threw: a TandemError when it was one, else a plain Error. */
export function reviveError(serialized: SerializedThrow): unknown {
  if (!serialized.isError) return serialized.value;
  const v = serialized.value as Partial<SerializedTandemError> & { name?: string };
  if (v.tandem && isErrorCode(v.code)) {
    const err = new TandemError(v.code, v.message ?? '', {
      ...(v.retryAfterSeconds !== undefined ? { retryAfterSeconds: v.retryAfterSeconds } : {}),
      ...(v.requestId !== undefined ? { requestId: v.requestId } : {}),
      ...(v.cause !== undefined ? { cause: new Error(v.cause) } : {}),
    });
    if (v.stack) err.stack = v.stack;
    return err;
  }
  return Object.assign(new Error(v.message ?? ''), v);
}

/** Replaces comlink's throw handler with one that keeps TandemError's code. Idempotent; call on both sides. */
export function installErrorTransfer(): void {
  transferHandlers.set('throw', throwHandler as TransferHandler<unknown, unknown>);
}
