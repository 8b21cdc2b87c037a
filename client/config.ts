/**
 * The SDK's one configuration object: every field with its default, and `resolveConfig`, which checks
 * them all when `createTandem` runs, so a bad value fails at start, never at first use.
 */
import { TandemError } from '../protocol/errors.ts';
import type { DeviceCapabilities } from './core/capabilities.ts';
import type { BreakerOptions } from '../protocol/resilience/breaker.ts';
import { DEFAULT_OFFLINE_MAX_AGE_MS } from '../protocol/trust/bounds.ts';
import { parsePlacementMode, type PlacementMode } from './core/placement.ts';
import { DEFAULT_RETRY, type RetryPolicy } from './core/retry.ts';
import type { TelemetryOptions } from './core/telemetry.ts';
import { DEFAULT_MEMORY_BUDGET_BYTES, DEFAULT_MICRO_BATCH, type MicroBatchOptions } from './runtime/contract.ts';

/** Everything configurable, in one object. Each field states its default; bad values throw at `createTandem`. */
export interface TandemConfig {
  /** The edge's base URL, e.g. `https://ml.example.com`. Required. */
  edge: string;
  /**
   * The pinned manifest signing keys: an array of public key records or `{ keys, threshold }`. Required
   * unless `rootKeys` is given, which then takes their place (they are ignored).
   */
  publicKeys?: unknown;
  /**
   * The pinned root keys of the edge's root of trust (docs/security.md), in the same form. With them the
   * SDK verifies updates as TUF does: the keys that sign manifests come from the newest root these keys
   * lead to (so a key rotation needs no new app), a manifest must be the one the edge's signed timestamp
   * record names, and nothing older than what this install has seen, expired or revoked is run. Default:
   * none (manifests verify with `publicKeys` alone).
   */
  rootKeys?: unknown;
  /**
   * With `rootKeys`: how long cached models keep running while the edge cannot be reached, ms after the
   * last fresh timestamp record; past it a load fails with `metadata_expired` until the device connects.
   * Default 604800000 (7 days).
   */
  offlineMaxAgeMs?: number;
  /** Sent as `Authorization: Bearer …` to the edge. Default: none. */
  apiKey?: string;
  /**
   * Sent as `x-client-id`, which keeps this install on one canary version and keys the edge's caches.
   * Default: a random UUID made on first use and kept in IndexedDB, so one per browser profile and app
   * origin (a new one per page load only where IndexedDB is unavailable). At most 128 printable ASCII characters.
   */
  clientId?: string;
  /** Default placement for `load`. Default `'prefer-device'`. */
  placement?: PlacementMode;
  /** How long a cached result stays fresh, ms. Default 300000 (5 min). 0 disables fresh hits. */
  resultTtlMs?: number;
  /** Retries of manifest, artifact and origin requests. Default 3 attempts, 200 ms base, 5 s cap. */
  retry?: Partial<RetryPolicy>;
  /** The origin circuit breaker. Default: open after 5 consecutive failures, for 30 s. */
  breaker?: Partial<BreakerOptions>;
  /**
   * Deadline of one request to the edge, ms: an origin inference, a manifest, a root or the timestamp
   * record; an artifact download may stall no longer than this (and gets this plus its size at 16 KiB/s).
   * Default 30000.
   */
  requestTimeoutMs?: number;
  /**
   * Folder URL where the app serves onnxruntime-web's `.wasm` (and `.mjs`) files. Default: none, and
   * onnxruntime-web finds its `.wasm` where the app's bundler put it (it names the file with
   * `new URL(…, import.meta.url)`, which Vite, webpack and Parcel follow). Set it to serve them yourself.
   */
  wasmPaths?: string;
  /** Overrides of probed capabilities (tests; apps that know better). Default: none. */
  capabilities?: Partial<DeviceCapabilities>;
  /** Ask the browser for persistent storage on the first device load. Default true. */
  persistStorage?: boolean;
  /**
   * Loaded models kept by the in-flight/loaded memo, so a second `load` of one returns the same model. A
   * model the memo drops has its device session released (it reopens on its next run). Default 8.
   */
  maxLoadedModels?: number;
  /**
   * Device-run telemetry to the edge (client/core/telemetry.ts: model, version, variant, backend, latency,
   * outcome, fallback, confidence bucket; never inputs or outputs). `false` turns it off; an object tunes
   * the batching. Default on: batches of 50, at most 500 waiting, sent within 30 s and on page hide.
   */
  telemetry?: boolean | Partial<TelemetryOptions>;
  /**
   * The bytes of model weights (each device variant's artifact size, as its manifest states) that the Web
   * Worker's open sessions may hold together. Opening one more releases the least recently used sessions
   * first; a released model reopens from the model cache on its next run. A single model larger than the
   * budget still opens, alone. Default 268435456 (256 MiB).
   */
  memoryBudgetBytes?: number;
  /**
   * Micro-batching in the Web Worker: concurrent `run`s of one device model are coalesced into one
   * onnxruntime run (each caller's rows concatenated, the outputs split back), when the variant allows it
   * exactly: every input and output with a dynamic leading dimension, and no dynamic int8 quantization
   * (its activation ranges span the batch). `maxBatch`: the most rows per run (and at most the variant's
   * `requirements.maxBatch`), a whole number from 2 to 4096; `maxDelayMs`: how long the oldest waiting
   * run may wait for others, 0 to 1000. `false` runs each alone. Default `{ maxBatch: 32, maxDelayMs: 0 }`:
   * a lone run waits for nothing, and runs that arrive while the model computes go together next.
   */
  microBatch?: boolean | Partial<MicroBatchOptions>;
  /** Results the result cache keeps at most; least recently used out. Default 1000. */
  resultCacheMaxEntries?: number;
  /** Bytes of outputs the result cache keeps at most; least recently used out. Default 33554432 (32 MiB). */
  resultCacheMaxBytes?: number;
}

/** `resultCacheMaxEntries`' default. */
export const DEFAULT_RESULT_CACHE_MAX_ENTRIES = 1000;
/** `resultCacheMaxBytes`' default: 32 MiB. */
export const DEFAULT_RESULT_CACHE_MAX_BYTES = 32 * 1024 * 1024;

/** A configuration with every default filled in and every value checked. */
export interface ResolvedConfig {
  /** Without a trailing slash. */
  edge: string;
  apiKey: string | undefined;
  /** The app's own id; undefined means the SDK's persisted one (`./client-id.ts`). */
  clientId: string | undefined;
  placement: PlacementMode;
  resultTtlMs: number;
  requestTimeoutMs: number;
  offlineMaxAgeMs: number;
  maxLoadedModels: number;
  memoryBudgetBytes: number;
  resultCacheMaxEntries: number;
  resultCacheMaxBytes: number;
  wasmPaths: string | undefined;
  persistStorage: boolean;
  retry: RetryPolicy;
  breaker: BreakerOptions;
  /** Undefined when the app turned telemetry off. */
  telemetry: TelemetryOptions | undefined;
  /** Undefined when the app turned micro-batching off. */
  microBatch: MicroBatchOptions | undefined;
}

/** What a header value may hold: printable ASCII, no line breaks. */
const CLIENT_ID = /^[\x21-\x7e]{1,128}$/;

/**
 * @throws TandemError `bad_request` naming the field.
 * @example
 * const cfg = resolveConfig({ edge: 'https://ml.example.com', publicKeys: keys });
 * cfg.placement; // 'prefer-device'
 */
export function resolveConfig(config: TandemConfig): ResolvedConfig {
  const bad = (message: string) => new TandemError('bad_request', `createTandem: ${message}`);
  if (typeof config !== 'object' || config === null) throw bad('config must be an object');
  let edge: URL;
  try {
    edge = new URL(config.edge);
  } catch {
    throw bad(`edge must be an absolute URL, got ${JSON.stringify(config.edge)}`);
  }
  if (config.publicKeys === undefined && config.rootKeys === undefined)
    throw bad("publicKeys or rootKeys is required (the keys your manifests are signed with, or your root of trust's)");
  if (config.clientId !== undefined && (typeof config.clientId !== 'string' || !CLIENT_ID.test(config.clientId))) {
    throw bad(`clientId must be 1 to 128 printable ASCII characters, got ${JSON.stringify(config.clientId)}`);
  }
  let wasmPaths: string | undefined;
  if (config.wasmPaths !== undefined) {
    try {
      if (typeof config.wasmPaths !== 'string') throw new TypeError('not a string');
      // Relative to the page, like any URL the app writes; a folder, so it ends in a slash.
      wasmPaths = new URL(config.wasmPaths, typeof location === 'undefined' ? edge : location.href).href.replace(/\/?$/, '/');
    } catch {
      throw bad(`wasmPaths must be a folder URL, got ${JSON.stringify(config.wasmPaths)}`);
    }
  }
  const positive = (name: string, value: number | undefined, fallback: number, min = 0) => {
    const v = value ?? fallback;
    if (!Number.isFinite(v) || v < min) throw bad(`${name} must be a number ≥ ${min}, got ${String(value)}`);
    return v;
  };
  const integer = (name: string, value: number) => {
    if (!Number.isInteger(value)) throw bad(`${name} must be a whole number, got ${value}`);
    return value;
  };
  const whole = (name: string, value: number | undefined, fallback: number, min = 0) => integer(name, positive(name, value, fallback, min));
  /**
   * An option that is `true` (its defaults), `false` (off) or an object of numbers, each within its bound:
   * `telemetry` and `microBatch`. A value past `max` is a mistake, not a tuning (for telemetry batches,
   * the edge's limit).
   */
  const resolveSwitch = <T extends object>(name: string, given: boolean | Partial<T> | undefined, bounds: Record<keyof T, NumberBound>): T | undefined => {
    if (given === false) return undefined;
    if (given !== undefined && given !== true && (typeof given !== 'object' || given === null)) {
      throw bad(`${name} must be true, false or an object, got ${JSON.stringify(given)}`);
    }
    const values = (typeof given === 'object' ? given : {}) as Record<string, number | undefined>;
    const resolved: Record<string, number> = {};
    for (const [key, b] of Object.entries(bounds) as [string, NumberBound][]) {
      const field = `${name}.${key}`;
      const v = (b.whole ? whole : positive)(field, values[key], b.fallback, b.min);
      if (v > b.max) throw bad(`${field} must be at most ${b.max}, got ${v}`);
      resolved[key] = v;
    }
    return resolved as T;
  };
  return {
    edge: edge.href.replace(/\/$/, ''),
    apiKey: config.apiKey,
    clientId: config.clientId,
    placement: parsePlacementMode(config.placement ?? 'prefer-device'),
    resultTtlMs: positive('resultTtlMs', config.resultTtlMs, 300_000),
    requestTimeoutMs: positive('requestTimeoutMs', config.requestTimeoutMs, 30_000, 1),
    offlineMaxAgeMs: positive('offlineMaxAgeMs', config.offlineMaxAgeMs, DEFAULT_OFFLINE_MAX_AGE_MS),
    maxLoadedModels: whole('maxLoadedModels', config.maxLoadedModels, 8, 1),
    memoryBudgetBytes: whole('memoryBudgetBytes', config.memoryBudgetBytes, DEFAULT_MEMORY_BUDGET_BYTES, 1),
    resultCacheMaxEntries: whole('resultCacheMaxEntries', config.resultCacheMaxEntries, DEFAULT_RESULT_CACHE_MAX_ENTRIES),
    resultCacheMaxBytes: whole('resultCacheMaxBytes', config.resultCacheMaxBytes, DEFAULT_RESULT_CACHE_MAX_BYTES),
    wasmPaths,
    persistStorage: config.persistStorage ?? true,
    retry: {
      attempts: positive('retry.attempts', config.retry?.attempts, DEFAULT_RETRY.attempts, 1),
      baseDelayMs: positive('retry.baseDelayMs', config.retry?.baseDelayMs, DEFAULT_RETRY.baseDelayMs),
      maxDelayMs: positive('retry.maxDelayMs', config.retry?.maxDelayMs, DEFAULT_RETRY.maxDelayMs),
    },
    breaker: {
      failureThreshold: positive('breaker.failureThreshold', config.breaker?.failureThreshold, DEFAULT_BREAKER.failureThreshold, 1),
      cooldownMs: positive('breaker.cooldownMs', config.breaker?.cooldownMs, DEFAULT_BREAKER.cooldownMs),
    },
    telemetry: resolveSwitch<TelemetryOptions>('telemetry', config.telemetry, {
      maxBatch: { fallback: DEFAULT_TELEMETRY.maxBatch, min: 1, max: 100, whole: true },
      maxQueue: { fallback: DEFAULT_TELEMETRY.maxQueue, min: 1, max: Number.MAX_SAFE_INTEGER, whole: true },
      flushIntervalMs: { fallback: DEFAULT_TELEMETRY.flushIntervalMs, min: 1, max: Number.MAX_SAFE_INTEGER, whole: true },
    }),
    microBatch: resolveSwitch<MicroBatchOptions>('microBatch', config.microBatch, {
      maxBatch: { fallback: DEFAULT_MICRO_BATCH.maxBatch, min: 2, max: 4096, whole: true },
      maxDelayMs: { fallback: DEFAULT_MICRO_BATCH.maxDelayMs, min: 0, max: 1000 },
    }),
  };
}

/** The origin circuit breaker's defaults: open after 5 consecutive failures, for 30 s (the edge's are in worker/config.ts). */
export const DEFAULT_BREAKER: Readonly<BreakerOptions> = { failureThreshold: 5, cooldownMs: 30_000 };

/** Telemetry's defaults (client/core/telemetry.ts), kept here so a page that never records loads none of its code. */
export const DEFAULT_TELEMETRY: TelemetryOptions = { maxBatch: 50, maxQueue: 500, flushIntervalMs: 30_000 };

/** One number of a switchable option: its default, least value, and whether it must be whole. */
interface NumberBound {
  fallback: number;
  min: number;
  max: number;
  whole?: boolean;
}
