/**
 * Device-run telemetry as it passes from the SDK to the edge (`POST /v1/telemetry`): what one device run
 * reports, the batch that carries them, and the strict reader the edge applies to it. One owner for both
 * tiers, so the SDK cannot send what the edge refuses.
 *
 * A record describes a run, never its data: model, version, variant, backend, latency, outcome code,
 * whether it was a fallback, and the top-class confidence as a histogram bucket (the same buckets as the
 * origin's `tandem_origin_top_class_confidence`), so device and origin runs of a version compare directly.
 */
import { ERRORS, TandemError, type ErrorCode } from './errors.ts';
import { MODEL_ID_PATTERN, VERSION_PATTERN } from './manifest.ts';

/** Upper bounds (`le`) of the top-class confidence buckets, shared by the origin's histogram and device telemetry. */
export const CONFIDENCE_BUCKETS = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1] as const;

/** Device backends a record may name. */
export const TELEMETRY_BACKENDS = ['webgpu', 'wasm'] as const;

/** Limits of one batch; the edge refuses anything past them (and the SDK never sends it). */
export const TELEMETRY_LIMITS = {
  /** Records per batch. */
  maxRecords: 100,
  /** Body bytes: under the 64 KiB browsers allow in flight for `keepalive` requests. */
  maxBodyBytes: 48 * 1024,
  /** A latency past this (ms) is not a run's: refused. */
  maxLatencyMs: 600_000,
} as const;

/** One device run. Field names are the wire's (snake_case, like the error body's `request_id`). */
export interface DeviceRunRecord {
  model: string;
  version: string;
  /** The manifest variant's name (`int8`, `fp32-device`). */
  variant: string;
  backend: (typeof TELEMETRY_BACKENDS)[number];
  latency_ms: number;
  /** `ok`, or the run's error code. */
  outcome: 'ok' | ErrorCode;
  /** True when the device ran as the fallback of the origin (the origin, the first choice, failed). */
  fallback: boolean;
  /** The top-class confidence's bucket (an entry of CONFIDENCE_BUCKETS); absent when the model is no classifier or the run failed. */
  confidence_le?: number;
}

/** What the SDK sends: records, and how many it dropped since its last batch (its queue is bounded). */
export interface TelemetryBatch {
  records: DeviceRunRecord[];
  dropped: number;
}

/**
 * The bucket (upper bound) a confidence falls in, or undefined for a value that is no probability.
 * @example
 * confidenceBucket(0.93); // 0.95
 */
export function confidenceBucket(confidence: number): number | undefined {
  if (!(confidence >= 0 && confidence <= 1)) return undefined;
  return CONFIDENCE_BUCKETS.find((le) => confidence <= le);
}

/**
 * Softmax probability of the top class for each row of `[rows, classes]` logits. Rows holding NaN or
 * ±Infinity are left out: they have no confidence (and prom-client throws on observing NaN).
 */
export function topClassConfidences(logits: ArrayLike<number>, classes: number): Float64Array {
  const rows = classes > 0 ? Math.floor(logits.length / classes) : 0;
  const out = new Float64Array(rows);
  let kept = 0;
  for (let r = 0; r < rows; r++) {
    let max = Number.NEGATIVE_INFINITY;
    for (let k = 0; k < classes; k++) max = Math.max(max, logits[r * classes + k]!);
    let sum = 0;
    for (let k = 0; k < classes; k++) sum += Math.exp(logits[r * classes + k]! - max);
    const confidence = 1 / sum;
    if (Number.isFinite(confidence)) out[kept++] = confidence;
  }
  return out.subarray(0, kept);
}

const VARIANT = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const RECORD_KEYS = new Set(['model', 'version', 'variant', 'backend', 'latency_ms', 'outcome', 'fallback', 'confidence_le']);

/**
 * Reads a batch strictly: known keys only, every field checked, nothing longer than its pattern allows.
 * @throws TandemError `bad_request` naming the first bad field (its value never echoed).
 */
export function parseTelemetryBatch(body: unknown): TelemetryBatch {
  const bad = (where: string, what: string) => new TandemError('bad_request', `telemetry: ${where} ${what}`);
  if (!isObject(body)) throw bad('body', 'must be a JSON object');
  for (const key of Object.keys(body)) if (key !== 'records' && key !== 'dropped') throw bad('body', `has an unknown field (only records, dropped)`);
  const { records, dropped = 0 } = body;
  if (!Array.isArray(records)) throw bad('records', 'must be an array');
  if (records.length > TELEMETRY_LIMITS.maxRecords) throw bad('records', `has more than ${TELEMETRY_LIMITS.maxRecords} entries`);
  if (typeof dropped !== 'number' || !Number.isSafeInteger(dropped) || dropped < 0) throw bad('dropped', 'must be a whole number ≥ 0');
  return { records: records.map((r, i) => parseRecord(r, `records[${i}]`, bad)), dropped };
}

function parseRecord(r: unknown, at: string, bad: (where: string, what: string) => TandemError): DeviceRunRecord {
  if (!isObject(r)) throw bad(at, 'must be an object');
  for (const key of Object.keys(r)) if (!RECORD_KEYS.has(key)) throw bad(at, `has an unknown field`);
  const text = (name: string, pattern: RegExp, what: string): string => {
    const value = r[name];
    if (typeof value !== 'string' || !pattern.test(value)) throw bad(`${at}.${name}`, `must be ${what}`);
    return value;
  };
  const model = text('model', MODEL_ID_PATTERN, 'a model id');
  const version = text('version', VERSION_PATTERN, 'a semantic version');
  const variant = text('variant', VARIANT, "a variant's name");
  const backend = r.backend;
  if (!TELEMETRY_BACKENDS.includes(backend as never)) throw bad(`${at}.backend`, `must be one of ${TELEMETRY_BACKENDS.join(', ')}`);
  const latency = r.latency_ms;
  if (typeof latency !== 'number' || !(latency >= 0 && latency <= TELEMETRY_LIMITS.maxLatencyMs)) {
    throw bad(`${at}.latency_ms`, `must be a number from 0 to ${TELEMETRY_LIMITS.maxLatencyMs}`);
  }
  const outcome = r.outcome;
  if (typeof outcome !== 'string' || (outcome !== 'ok' && !Object.hasOwn(ERRORS, outcome))) throw bad(`${at}.outcome`, 'must be ok or an error code');
  if (typeof r.fallback !== 'boolean') throw bad(`${at}.fallback`, 'must be true or false');
  const record: DeviceRunRecord = {
    model,
    version,
    variant,
    backend: backend as DeviceRunRecord['backend'],
    latency_ms: latency,
    outcome: outcome as DeviceRunRecord['outcome'],
    fallback: r.fallback,
  };
  if (r.confidence_le !== undefined) {
    if (!CONFIDENCE_BUCKETS.includes(r.confidence_le as never)) throw bad(`${at}.confidence_le`, `must be one of ${CONFIDENCE_BUCKETS.join(', ')}`);
    record.confidence_le = r.confidence_le as number;
  }
  return record;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
