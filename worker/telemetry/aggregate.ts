/**
 * Device-run telemetry counted at the edge, for `GET /v1/edge/metrics` (prometheus-text.ts renders it):
 * runs by model, version, variant, backend, outcome and fallback; the latency of successful runs and their
 * top-class confidence as histograms (the origin's buckets, protocol/device-telemetry.ts); and the records
 * the SDKs dropped before sending.
 *
 * Per isolate, in memory, like the origin pool's view: a Worker runs in many isolates, each counting what
 * it received since it started, and an isolate's counts vanish when it is evicted. That is enough for the
 * local stack (`wrangler dev` runs one isolate) and for a scrape of one instance; in production the
 * Analytics Engine dataset (analytics-engine.ts) holds every data point, queried with SQL.
 *
 * Only versions the edge serves are given series (the route asks served-versions.ts, and counts the rest
 * in `unknown`): anyone holding a public browser key can post records, and made-up names must not fill the
 * bounds below before a real canary's runs arrive. The bounds: at most `versions` model@version pairs
 * (past it, `overflow`: only a catalogue that large reaches it); per pair, at most `variantsPerVersion`
 * variant names, and `namedSeries` model/version/variant triples in all. A variant past either is counted
 * under OTHER_VARIANT, so every run of a served version is counted, and the canary watch
 * (version-choice/canary-watch.ts), which adds up a version's variants, sees it.
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
  /** Records not counted: their model and version are not served by the edge (served-versions.ts). */
  unknown: number;
  /** Records not counted: their model and version came past the bound on versions. */
  overflow: number;
}

export interface AggregateBounds {
  /** model@version pairs counted. */
  versions: number;
  /** Variant names per model@version (a manifest has a handful). */
  variantsPerVersion: number;
  /** model/version/variant triples with their own variant name, over every version. */
  namedSeries: number;
}

/** One isolate's bounds: whatever the batches name, at most 512 named triples and one OTHER_VARIANT triple per version. */
export const AGGREGATE_BOUNDS: Readonly<AggregateBounds> = { versions: 256, variantsPerVersion: 8, namedSeries: 512 };

/** The `variant` label of runs whose variant came past a bound. No variant name starts with `_`. */
export const OTHER_VARIANT = '_other';

export class DeviceTelemetryAggregate {
  private readonly runs = new Map<string, CounterSeries>();
  private readonly durations = new Map<string, HistogramSeries>();
  private readonly confidences = new Map<string, HistogramSeries>();
  /** Per model@version, its named variants. */
  private readonly variants = new Map<string, Set<string>>();
  private namedSeries = 0;
  private dropped = 0;
  private unknown = 0;
  private overflow = 0;
  private readonly bounds: AggregateBounds;

  constructor(bounds: Partial<AggregateBounds> = {}) {
    this.bounds = { ...AGGREGATE_BOUNDS, ...bounds };
  }

  /**
   * Counts a validated batch (protocol/telemetry-batch-reader.ts) whose records are all of served versions.
   * @param unknown records left out of `batch` because the edge serves no such model and version.
   * @returns how many records were counted.
   */
  add(batch: TelemetryBatch, unknown = 0): number {
    this.dropped += batch.dropped;
    this.unknown += unknown;
    let counted = 0;
    for (const r of batch.records) {
      const variant = this.variantLabel(r);
      if (variant === undefined) {
        this.overflow++;
        continue;
      }
      this.count({ ...r, variant });
      counted++;
    }
    return counted;
  }

  snapshot(): TelemetrySnapshot {
    const copy = <T>(m: Map<string, T>) => [...m.values()].map((v) => structuredClone(v));
    return {
      runs: copy(this.runs),
      durations: copy(this.durations),
      confidences: copy(this.confidences),
      dropped: this.dropped,
      unknown: this.unknown,
      overflow: this.overflow,
    };
  }

  /** The record's `variant` label: its own, or OTHER_VARIANT past a bound; undefined past the bound on versions. */
  private variantLabel(r: DeviceRunRecord): string | undefined {
    const modelVersion = `${r.model}\u0000${r.version}`;
    let named = this.variants.get(modelVersion);
    if (!named) {
      if (this.variants.size >= this.bounds.versions) return undefined;
      this.variants.set(modelVersion, (named = new Set()));
    }
    if (named.has(r.variant)) return r.variant;
    if (named.size >= this.bounds.variantsPerVersion || this.namedSeries >= this.bounds.namedSeries) return OTHER_VARIANT;
    named.add(r.variant);
    this.namedSeries++;
    return r.variant;
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
