/**
 * Device-run telemetry counted at the edge, for `GET /v1/edge/metrics` (prometheus-text.ts renders it):
 * runs by model, version, variant, backend, outcome and fallback; the latency of successful runs and their
 * top-class confidence as histograms (the origin's buckets, protocol/device-telemetry.ts); and the records
 * the SDKs dropped before sending.
 *
 * Per isolate, in memory, like the origin pool's view: a Worker runs in many isolates, each counting what
 * it received since it started, and an isolate's counts vanish when it is evicted. That is enough for the
 * local stack (`wrangler dev` runs one isolate) and for a scrape of one instance; in production the
 * Analytics Engine dataset (analytics-engine.ts) holds every data point, queried with SQL. The number of
 * model/version/variant triples is bounded; records of triples past it are counted in `overflow` only.
 */
import { CONFIDENCE_BUCKETS, LATENCY_BUCKETS, type DeviceRunRecord, type TelemetryBatch } from '../../protocol/device-telemetry.ts';

/** One histogram series: counts per bucket (not cumulative), and the sum and count of observations. */
export interface HistogramSeries {
  labels: Record<string, string>;
  buckets: number[];
  sum: number;
  count: number;
}

export interface CounterSeries {
  labels: Record<string, string>;
  value: number;
}

export interface TelemetrySnapshot {
  runs: CounterSeries[];
  /** Seconds; successful runs only (as the origin's request duration). */
  durations: HistogramSeries[];
  /** Bucket bounds are CONFIDENCE_BUCKETS; the sum adds each record's bucket bound (records carry no exact value). */
  confidences: HistogramSeries[];
  /** Records the SDKs dropped before sending (their queues were full, or a send failed). */
  dropped: number;
  /** Records not counted: their model/version/variant came past the series bound. */
  overflow: number;
}

/** How many model/version/variant triples one isolate counts. */
export const MAX_MODEL_SERIES = 512;

export class DeviceTelemetryAggregate {
  private readonly runs = new Map<string, CounterSeries>();
  private readonly durations = new Map<string, HistogramSeries>();
  private readonly confidences = new Map<string, HistogramSeries>();
  private readonly triples = new Set<string>();
  private dropped = 0;
  private overflow = 0;

  constructor(private readonly maxModelSeries = MAX_MODEL_SERIES) {}

  /** Counts a validated batch (protocol/telemetry-batch-reader.ts). @returns how many records were counted. */
  add(batch: TelemetryBatch): number {
    this.dropped += batch.dropped;
    let counted = 0;
    for (const r of batch.records) {
      const triple = `${r.model}\u0000${r.version}\u0000${r.variant}`;
      if (!this.triples.has(triple)) {
        if (this.triples.size >= this.maxModelSeries) {
          this.overflow++;
          continue;
        }
        this.triples.add(triple);
      }
      this.count(r);
      counted++;
    }
    return counted;
  }

  snapshot(): TelemetrySnapshot {
    const copy = <T>(m: Map<string, T>) => [...m.values()].map((v) => structuredClone(v));
    return { runs: copy(this.runs), durations: copy(this.durations), confidences: copy(this.confidences), dropped: this.dropped, overflow: this.overflow };
  }

  private count(r: DeviceRunRecord): void {
    const model = { model: r.model, version: r.version, variant: r.variant };
    const run = { ...model, backend: r.backend, outcome: r.outcome, fallback: String(r.fallback) };
    series(this.runs, run, () => ({ labels: run, value: 0 })).value++;
    if (r.outcome !== 'ok') return;
    const timed = { ...model, backend: r.backend };
    observe(
      series(this.durations, timed, () => histogram(timed, LATENCY_BUCKETS.length)),
      LATENCY_BUCKETS,
      r.latency_ms / 1000,
    );
    if (r.confidence_le !== undefined) {
      observe(
        series(this.confidences, model, () => histogram(model, CONFIDENCE_BUCKETS.length)),
        CONFIDENCE_BUCKETS,
        r.confidence_le,
      );
    }
  }
}

function series<T>(map: Map<string, T>, labels: Record<string, string>, create: () => T): T {
  const key = Object.values(labels).join('\u0000');
  let s = map.get(key);
  if (!s) map.set(key, (s = create()));
  return s;
}

function histogram(labels: Record<string, string>, bounds: number): HistogramSeries {
  return { labels, buckets: new Array<number>(bounds).fill(0), sum: 0, count: 0 };
}

function observe(h: HistogramSeries, bounds: readonly number[], value: number): void {
  const i = bounds.findIndex((le) => value <= le);
  if (i >= 0) h.buckets[i]!++; // Past the last bound: only +Inf (the count) holds it.
  h.sum += value;
  h.count++;
}

/** This isolate's device telemetry. */
export const deviceTelemetry = new DeviceTelemetryAggregate();
