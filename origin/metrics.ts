/**
 * The origin's Prometheus metrics (prom-client), one registry per server so tests can run several.
 *
 * Besides traffic and latency, two model-quality signals: the top-class confidence of every answered row
 * (a falling distribution hints at inputs the model was not trained for), and input drift: how far the
 * mean of recent inputs has moved from the training data's mean, in training standard deviations
 * (an exponentially weighted moving average, so one odd request doesn't page anyone).
 *
 * Names follow Prometheus's conventions (https://prometheus.io/docs/practices/naming/), checked by
 * metrics.test.ts: Tandem's own metrics carry the `tandem_origin_` prefix and their unit, in base units
 * (`_seconds`, `_bytes`, `_rows`, `_requests`), counters end in `_total`; the three that measure no unit say
 * so in their help (a 0/1 state, a probability, a distance in training standard deviations). prom-client's
 * process metrics keep their stock names, unprefixed (`process_cpu_seconds_total`, `nodejs_*`), so stock
 * Node.js dashboards and alerts work on them as they are.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { CONFIDENCE_BUCKETS, LATENCY_BUCKETS as SHARED_LATENCY_BUCKETS, topClassConfidences } from '../protocol/device-telemetry.ts';

/** Shared with device telemetry (protocol/device-telemetry.ts), so device and origin confidences compare bucket for bucket. */
export { topClassConfidences };

const LATENCY_BUCKETS = [...SHARED_LATENCY_BUCKETS];
const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256];
/** Weight of the newest batch in the drift average. */
const DRIFT_ALPHA = 0.05;

export type OriginMetrics = ReturnType<typeof createOriginMetrics>;

/** One served model's series with its labels bound (`OriginMetrics.served`). */
export interface ServedSeries {
  labels: ServedLabels;
  /** `tandem_origin_requests_total` with status 200, code ok. */
  ok: { inc(value?: number): void };
  requestSeconds: { observe(value: number): void };
  queueSeconds: { observe(value: number): void };
  computeSeconds: { observe(value: number): void };
  batchSize: { observe(value: number): void };
  topConfidence: { observe(value: number): void };
}

/** The labels of a served model's traffic metrics. */
export interface ServedLabels {
  model: string;
  version: string;
  /** The manifest variant the origin runs (its `origin`-tier variant), as device telemetry names the device's. */
  variant: string;
}

/** Traffic labels of a served model. */
export function servedLabels(model: { id: string; version: string; variant: { name: string } }): ServedLabels {
  return { model: model.id, version: model.version, variant: model.variant.name };
}

export function createOriginMetrics(options: { processMetrics?: boolean } = {}) {
  const registry = new Registry();
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry });
  const model = ['model', 'version'] as const;
  // Traffic and quality metrics also carry the variant, so they line up with device telemetry's series
  // (worker/telemetry/). Load-state metrics are about the version (whose origin variant its manifest fixes).
  const served = [...model, 'variant'] as const;
  const metrics = {
    registry,
    requests: new Counter({
      name: 'tandem_origin_requests_total',
      help: 'Inference requests by model, version, HTTP status and error code ("ok" on success).',
      labelNames: [...served, 'status', 'code'],
      registers: [registry],
    }),
    requestSeconds: new Histogram({
      name: 'tandem_origin_request_duration_seconds',
      help: 'Inference request latency, from body read to response.',
      labelNames: served,
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    queueSeconds: new Histogram({
      name: 'tandem_origin_queue_wait_seconds',
      help: 'Time a request waited in the batching queue.',
      labelNames: served,
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    computeSeconds: new Histogram({
      name: 'tandem_origin_compute_seconds',
      help: 'onnxruntime run time of one batch.',
      labelNames: served,
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    batchSize: new Histogram({
      name: 'tandem_origin_batch_size_rows',
      help: 'Rows per onnxruntime run.',
      labelNames: served,
      buckets: BATCH_BUCKETS,
      registers: [registry],
    }),
    queueDepth: new Gauge({
      name: 'tandem_origin_queue_depth_rows',
      help: 'Rows waiting in the batching queue.',
      labelNames: served,
      registers: [registry],
    }),
    inFlight: new Gauge({
      name: 'tandem_origin_in_flight_requests',
      help: 'Inference requests being handled.',
      registers: [registry],
    }),
    modelLoadSeconds: new Gauge({
      name: 'tandem_origin_model_load_seconds',
      help: 'Time to verify and load a model version.',
      labelNames: model,
      registers: [registry],
    }),
    modelReady: new Gauge({
      name: 'tandem_origin_model_ready',
      help: 'Whether the model version is loaded and current: 1, or 0 when refused or retired (a state, no unit).',
      labelNames: model,
      registers: [registry],
    }),
    topConfidence: new Histogram({
      name: 'tandem_origin_top_class_confidence',
      help: 'Softmax probability (0 to 1, no unit) of the top class, per answered row.',
      labelNames: served,
      buckets: [...CONFIDENCE_BUCKETS],
      registers: [registry],
    }),
    warmupFailures: new Counter({
      name: 'tandem_origin_warmup_failures_total',
      help: 'Synthetic warm-up inferences that failed on a model without signed examples (the model is served anyway).',
      labelNames: model,
      registers: [registry],
    }),
    inputDrift: new Gauge({
      name: 'tandem_origin_input_drift',
      help: 'Moving average of |batch mean - training mean| / training std, per input (in training standard deviations).',
      labelNames: [...served, 'input'],
      registers: [registry],
    }),
  };
  const driftState = new Map<string, number>();
  const servedSeries = new WeakMap<object, ServedSeries>();

  return {
    ...metrics,
    /**
     * A served model's per-request and per-batch series, bound to its labels once per model object:
     * prom-client otherwise hashes the label set on every call (measured: 4.4 µs of metrics per request
     * with label objects, 1.7 µs with bound series).
     */
    served(model: { id: string; version: string; variant: { name: string } }): ServedSeries {
      let series = servedSeries.get(model);
      if (!series) {
        const labels = servedLabels(model);
        series = {
          labels,
          ok: metrics.requests.labels({ ...labels, status: '200', code: 'ok' }),
          requestSeconds: metrics.requestSeconds.labels(labels),
          queueSeconds: metrics.queueSeconds.labels(labels),
          computeSeconds: metrics.computeSeconds.labels(labels),
          batchSize: metrics.batchSize.labels(labels),
          topConfidence: metrics.topConfidence.labels(labels),
        };
        servedSeries.set(model, series);
      }
      return series;
    },
    /** Records one batch's input mean against the training reference. */
    observeDrift(labels: ServedLabels & { input: string }, batchMean: number, reference: { mean: number; std: number }) {
      if (!Number.isFinite(batchMean)) return; // NaN inputs (policy allow) say nothing about drift, and prom-client refuses NaN.
      const score = Math.abs(batchMean - reference.mean) / (reference.std || 1);
      const key = `${labels.model}\u0000${labels.version}\u0000${labels.variant}\u0000${labels.input}`;
      const previous = driftState.get(key);
      const smoothed = previous === undefined ? score : previous + DRIFT_ALPHA * (score - previous);
      driftState.set(key, smoothed);
      metrics.inputDrift.set(labels, smoothed);
    },
  };
}
