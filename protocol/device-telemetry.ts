/**
 * Device-run telemetry as it passes from the SDK to the edge (`POST /v1/telemetry`): what one device run
 * reports, and the batch that carries them; the strict reader the edge applies is beside it
 * (telemetry-batch-reader.ts, apart so the page's SDK does not ship it). One owner for both tiers, so the
 * SDK cannot send what the edge refuses.
 *
 * A record describes a run, never its data: model, version, variant, backend, latency, outcome code,
 * whether it was a fallback, and the top-class confidence as a histogram bucket (the same buckets as the
 * origin's `tandem_origin_top_class_confidence`), so device and origin runs of a version compare directly.
 */
import type { ErrorCode } from './errors.ts';

/** Upper bounds (`le`) of the top-class confidence buckets, shared by the origin's histogram and device telemetry. */
export const CONFIDENCE_BUCKETS = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1] as const;

/** Latency histogram bucket bounds in seconds, shared by the origin's request histograms and the edge's device-run one. */
export const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

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
  /**
   * Records one batch may report dropped. The SDK drops at most one per device run between two batches the
   * edge accepted (its queue holds 500 by default), so a million is hours of continuous runs lost; a larger
   * count is no SDK's, and the bound keeps the edge's running total an exact integer (2^53 is nine billion
   * batches away).
   */
  maxDropped: 1_000_000,
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
