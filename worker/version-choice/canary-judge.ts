/**
 * The verdict on a canary version, from the outcomes of its runs on devices (telemetry) and on origins
 * (answers the edge proxied), against the thresholds its signed rollout record states
 * (protocol/rollout/rollout-record.ts `rollback`). Pure: counts in, verdict out; canary-watch.ts keeps the
 * counts and acts on a `failing` verdict.
 *
 * Which runs count: a run that succeeded, and a run that failed through the version's own fault (an
 * internal or inference error, a model that does not load). A caller's bad input, a refused key, a
 * full queue, a shut-down server, an unreachable origin, an aborted run or a device without the backend
 * say nothing about the version and are left out, so a load spike does not roll a canary back.
 *
 * The median top-class confidence is estimated from the histogram buckets the runs were counted in
 * (device records carry a bucket, never the value): linear within the bucket holding the median, as
 * Prometheus' `histogram_quantile` does. Origin answers carry no confidence (the origin observes it in
 * its own histogram only), so origin runs count toward the error rate and not the median.
 */
import { CONFIDENCE_BUCKETS } from '../../protocol/device-telemetry.ts';
import { ERRORS, isErrorCode } from '../../protocol/errors.ts';
import type { RollbackThresholds } from '../../protocol/rollout/rollout-record.ts';

/** Runs of one version from one source (device or origin). */
export interface RunOutcomes {
  /** Runs counted: succeeded, or failed through the version's fault. */
  runs: number;
  /** Of those, the failed ones. */
  errors: number;
  /** Successful runs per confidence bucket (CONFIDENCE_BUCKETS, not cumulative); empty: none known. */
  confidence: number[];
}

export interface CanaryVerdict {
  /** `collecting`: fewer than `minSamples` runs; `healthy`: within the thresholds; `failing`: past one. */
  state: 'collecting' | 'healthy' | 'failing';
  runs: { device: number; origin: number; total: number };
  errors: number;
  /** errors / runs, null without runs. */
  errorRate: number | null;
  /** Successful runs with a confidence bucket. */
  confidenceSamples: number;
  /** Estimated median top-class confidence, null without samples. */
  medianConfidence: number | null;
  /** Each threshold crossed, naming the figures; empty unless `failing`. */
  reasons: string[];
}

/** Codes of at least 500 that are the tier's state, not the version's fault. */
const NOT_THE_VERSION = new Set<string>(['origin_unavailable', 'overloaded', 'shutting_down', 'offline', 'device_unsupported', 'deadline_exceeded']);

/**
 * How a run's outcome counts against its version: `ok`, `error` (the version's fault), or `ignored`.
 * @param outcome `ok` or an error code; for an origin answer without a code, its HTTP status.
 * @example
 * runVerdict('inference_failed'); // 'error'
 * runVerdict('input_shape_mismatch'); // 'ignored'
 */
export function runVerdict(outcome: string | number): 'ok' | 'error' | 'ignored' {
  if (outcome === 'ok') return 'ok';
  if (typeof outcome === 'number') return outcome >= 200 && outcome < 300 ? 'ok' : outcome >= 500 ? 'error' : 'ignored';
  if (!isErrorCode(outcome)) return 'ignored';
  if (outcome === 'onnx_load_failed') return 'error';
  return ERRORS[outcome].status >= 500 && !NOT_THE_VERSION.has(outcome) ? 'error' : 'ignored';
}

/** No runs. */
export function noOutcomes(): RunOutcomes {
  return { runs: 0, errors: 0, confidence: [] };
}

/** `a - b`, per count, never below 0: the runs since a baseline `b` was taken. */
export function outcomesSince(a: RunOutcomes, b: RunOutcomes): RunOutcomes {
  const confidence = a.confidence.map((n, i) => Math.max(0, n - (b.confidence[i] ?? 0)));
  return { runs: Math.max(0, a.runs - b.runs), errors: Math.max(0, a.errors - b.errors), confidence };
}

/**
 * The median of observations counted in buckets with upper bounds `bounds` (the first bucket starts at
 * 0), linear within the bucket that holds it; undefined without observations.
 * @example
 * medianFromBuckets([0, 0, 0, 0, 0, 0, 0, 0, 10, 0, 0, 0]); // 0.85: all in (0.8, 0.9]
 */
export function medianFromBuckets(counts: readonly number[], bounds: readonly number[] = CONFIDENCE_BUCKETS): number | undefined {
  const total = counts.reduce((sum, n) => sum + n, 0);
  if (total <= 0) return undefined;
  const rank = total / 2;
  let below = 0;
  for (let i = 0; i < bounds.length; i++) {
    const n = counts[i] ?? 0;
    if (n > 0 && below + n >= rank) {
      const lower = i === 0 ? 0 : bounds[i - 1]!;
      return lower + (bounds[i]! - lower) * ((rank - below) / n);
    }
    below += n;
  }
  return bounds[bounds.length - 1];
}

const round = (x: number) => Math.round(x * 1000) / 1000;

/**
 * Judges a canary version on its device and origin runs together. The error rate is judged once
 * `minSamples` runs are counted; the median confidence once `minSamples` runs carry a confidence (a model
 * that is no classifier is never judged on it).
 * @example
 * judgeCanary({ device, origin }, record.rollback).state; // 'failing' when 20 of 200 runs failed and maxErrorRate is 0.05
 */
export function judgeCanary(outcomes: { device: RunOutcomes; origin: RunOutcomes }, thresholds: RollbackThresholds): CanaryVerdict {
  const { device, origin } = outcomes;
  const total = device.runs + origin.runs;
  const errors = device.errors + origin.errors;
  const buckets = CONFIDENCE_BUCKETS.map((_, i) => (device.confidence[i] ?? 0) + (origin.confidence[i] ?? 0));
  const confidenceSamples = buckets.reduce((sum, n) => sum + n, 0);
  const median = medianFromBuckets(buckets);
  const errorRate = total > 0 ? errors / total : null;
  const reasons: string[] = [];
  const from = `(device ${device.runs}, origin ${origin.runs})`;
  if (errorRate !== null && total >= thresholds.minSamples && errorRate > thresholds.maxErrorRate) {
    reasons.push(`error rate ${round(errorRate)} > maxErrorRate ${thresholds.maxErrorRate} over ${total} runs ${from}`);
  }
  if (median !== undefined && confidenceSamples >= thresholds.minSamples && median < thresholds.minMedianConfidence) {
    reasons.push(`median top-class confidence ${round(median)} < minMedianConfidence ${thresholds.minMedianConfidence} over ${confidenceSamples} runs`);
  }
  const judged = total >= thresholds.minSamples;
  return {
    state: reasons.length > 0 ? 'failing' : judged ? 'healthy' : 'collecting',
    runs: { device: device.runs, origin: origin.runs, total },
    errors,
    errorRate: errorRate === null ? null : round(errorRate),
    confidenceSamples,
    medianConfidence: median === undefined ? null : round(median),
    reasons,
  };
}
