/**
 * Device-run telemetry into Workers Analytics Engine, in production: one data point per record in the
 * dataset bound as `DEVICE_TELEMETRY` (wrangler.toml's `[[env.*.analytics_engine_datasets]]`). The
 * binding is optional: without it (local `wrangler dev`, tests) nothing is written and the in-memory
 * aggregate (aggregate.ts) is all there is. Unlike the aggregate, the dataset sees every isolate.
 *
 * The layout, for SQL over the dataset (`blob1` … `double2`):
 * - index1: the model (Analytics Engine samples per index, so each model keeps its own sample);
 * - blob1 model, blob2 version, blob3 variant, blob4 backend, blob5 outcome, blob6 fallback ("true"/"false");
 * - double1 latency in seconds, double2 the confidence bucket's bound (-1: none).
 * A batch's SDK-side drops are a data point of their own: blob1 "_dropped", double1 the count.
 */
import type { TelemetryBatch } from '../../protocol/device-telemetry.ts';

/** The bindings this module reads: the dataset, when the environment binds one. */
export interface TelemetryBindings {
  DEVICE_TELEMETRY?: AnalyticsEngineDataset;
}

/**
 * Writes one data point per record (at most 100 per batch, within Analytics Engine's per-invocation limit).
 * @returns the points written (0 without the binding).
 * @example
 * writeDataPoints(c.env as TelemetryBindings, batch);
 */
export function writeDataPoints(env: TelemetryBindings, batch: TelemetryBatch): number {
  const dataset = env.DEVICE_TELEMETRY;
  if (!dataset) return 0;
  for (const r of batch.records) {
    dataset.writeDataPoint({
      indexes: [r.model],
      blobs: [r.model, r.version, r.variant, r.backend, r.outcome, String(r.fallback)],
      doubles: [r.latency_ms / 1000, r.confidence_le ?? -1],
    });
  }
  if (batch.dropped > 0) dataset.writeDataPoint({ indexes: ['_dropped'], blobs: ['_dropped'], doubles: [batch.dropped] });
  return batch.records.length + (batch.dropped > 0 ? 1 : 0);
}
