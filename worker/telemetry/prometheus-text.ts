/**
 * The edge's device-run telemetry (aggregate.ts) as Prometheus text exposition format 0.0.4, for
 * `GET /v1/edge/metrics`. Names follow the origin's conventions (origin/metrics.ts): the tier's prefix
 * (`tandem_edge_`), base units (`_seconds`), counters ending in `_total`, a unitless one saying so in its
 * help, and the same labels (`model`, `version`, `variant`) and buckets as the origin's series, so a
 * version's device and origin runs sit side by side in one query.
 */
import { CONFIDENCE_BUCKETS, LATENCY_BUCKETS } from '../../protocol/device-telemetry.ts';
import type { CounterSeries, HistogramSeries, TelemetrySnapshot } from './aggregate.ts';

/** The content type of the exposition. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/**
 * @example
 * c.text(prometheusText(deviceTelemetry.snapshot()), 200, { 'content-type': PROMETHEUS_CONTENT_TYPE });
 */
export function prometheusText(s: TelemetrySnapshot): string {
  const out: string[] = [];
  counter(
    out,
    'tandem_edge_device_runs_total',
    'Device runs reported by the SDKs, by model, version, variant, backend, outcome ("ok" or the error code) and fallback.',
    s.runs,
  );
  histogram(out, 'tandem_edge_device_run_duration_seconds', 'Latency of successful device runs, as the SDK measured them.', s.durations, LATENCY_BUCKETS);
  histogram(
    out,
    'tandem_edge_device_top_class_confidence',
    "Top-class softmax probability (0 to 1, no unit) of successful device runs' first row; the sum adds bucket bounds.",
    s.confidences,
    CONFIDENCE_BUCKETS,
  );
  counter(out, 'tandem_edge_device_telemetry_dropped_records_total', 'Device-run records the SDKs dropped before sending (a full queue, a failed send).', [
    { labels: {}, value: s.dropped },
  ]);
  counter(
    out,
    'tandem_edge_device_telemetry_unknown_records_total',
    'Device-run records not counted: the edge serves no such model and version (no manifest in R2 at its last listing).',
    [{ labels: {}, value: s.unknown }],
  );
  counter(
    out,
    'tandem_edge_device_telemetry_overflow_records_total',
    "Device-run records not counted: their model and version came past this isolate's bound on versions.",
    [{ labels: {}, value: s.overflow }],
  );
  return `${out.join('\n')}\n`;
}

function counter(out: string[], name: string, help: string, series: CounterSeries[]): void {
  out.push(`# HELP ${name} ${help}`, `# TYPE ${name} counter`);
  for (const s of series) out.push(`${name}${labelText(s.labels)} ${s.value}`);
}

function histogram(out: string[], name: string, help: string, series: HistogramSeries[], bounds: readonly number[]): void {
  out.push(`# HELP ${name} ${help}`, `# TYPE ${name} histogram`);
  for (const s of series) {
    let cumulative = 0;
    bounds.forEach((le, i) => {
      cumulative += s.buckets[i] ?? 0;
      out.push(`${name}_bucket${labelText({ ...s.labels, le: String(le) })} ${cumulative}`);
    });
    out.push(`${name}_bucket${labelText({ ...s.labels, le: '+Inf' })} ${s.count}`);
    out.push(`${name}_sum${labelText(s.labels)} ${s.sum}`, `${name}_count${labelText(s.labels)} ${s.count}`);
  }
}

/** `{a="1",b="2"}`, values escaped as the format says (backslash, double quote, line feed). */
function labelText(labels: Record<string, string>): string {
  const pairs = Object.entries(labels).map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`);
  return pairs.length === 0 ? '' : `{${pairs.join(',')}}`;
}
