/**
 * The origin's metric names against Prometheus's naming conventions (https://prometheus.io/docs/practices/naming/,
 * and the rules `promtool check metrics` applies), read from the `/metrics` text of a real origin that has
 * served and refused a request, so every labelled series exists.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { createOriginMetrics } from './metrics.ts';
import { startOrigin, type RunningOrigin } from './server.ts';
import { collectingLogger, infer, randomFloats, signedRepository, testConfig, type TestRepository } from './test-support.ts';

interface MetricFamily {
  name: string;
  type: string;
  help: string;
  labels: Set<string>;
}

/** The metric families of a Prometheus text exposition: `# HELP`, `# TYPE`, and the labels of their samples. */
function parseExposition(text: string): Map<string, MetricFamily> {
  const families = new Map<string, MetricFamily>();
  const family = (name: string) => {
    let f = families.get(name);
    if (!f) families.set(name, (f = { name, type: '', help: '', labels: new Set() }));
    return f;
  };
  for (const line of text.split('\n')) {
    const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
    if (meta) {
      if (meta[1] === 'HELP') family(meta[2]!).help = meta[3]!;
      else family(meta[2]!).type = meta[3]!;
      continue;
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? /.exec(line);
    if (!sample) continue;
    const name = sample[1]!;
    const owner = [...families.values()].find(
      (f) => name === f.name || (['histogram', 'summary'].includes(f.type) && /^(.*)_(bucket|sum|count)$/.exec(name)?.[1] === f.name),
    );
    for (const [, label] of (sample[2] ?? '').matchAll(/([a-zA-Z_]\w*)="/g)) owner?.labels.add(label!);
  }
  return families;
}

/** Units not in base units, and abbreviations of units (promtool's `lintMetricUnits`, `lintUnitAbbreviations`). */
const NON_BASE_UNIT =
  /_(milliseconds|microseconds|nanoseconds|minutes|hours|days|weeks|kilobytes|megabytes|gigabytes|terabytes|kibibytes|mebibytes|gibibytes|percent|percentage|celsius|bits)(_|$)/;
const ABBREVIATED_UNIT = /_(ms|us|ns|sec|secs|hr|hrs|kb|mb|gb|kib|mib|gib|pct)(_|$)/;
/** The units Tandem's metrics are in: base units, or counted things. */
const UNIT = /_(seconds|bytes|rows|requests)$/;
/** Tandem's metrics that measure no unit, each saying so in its help text. */
const UNITLESS = ['tandem_origin_model_ready', 'tandem_origin_top_class_confidence', 'tandem_origin_input_drift'];

/** Every way a family breaks the conventions, as readable lines (empty when it keeps them). */
function lint(f: MetricFamily): string[] {
  const problems: string[] = [];
  const stock = !f.name.startsWith('tandem_');
  if (!f.help) problems.push('no help text');
  if (!f.type) problems.push('no type');
  if (!/^[a-z_][a-z0-9_]*$/.test(f.name)) problems.push('not snake_case (colons are for recording rules)');
  if (NON_BASE_UNIT.test(f.name)) problems.push('not in base units (seconds, bytes)');
  if (ABBREVIATED_UNIT.test(f.name)) problems.push('an abbreviated unit');
  if (/_(counter|gauge|histogram|summary)(_|$)/.test(f.name)) problems.push('its type in its name');
  if (f.type === 'counter' && !f.name.endsWith('_total')) problems.push('a counter without _total');
  // prom-client's stock gauges `nodejs_active_*_total` keep the names stock dashboards query.
  if (!stock && f.type !== 'counter' && f.name.endsWith('_total')) problems.push('_total on a non-counter');
  if (['histogram', 'summary'].includes(f.type) && /_(bucket|sum|count)$/.test(f.name)) problems.push('a reserved suffix');
  if (f.type === 'histogram' && f.labels.has('quantile')) problems.push('a quantile label on a histogram');
  if (f.type !== 'histogram' && f.labels.has('le')) problems.push('an le label outside a histogram');
  if (!stock) {
    if (!f.name.startsWith('tandem_origin_')) problems.push('not under tandem_origin_');
    const base = f.name.replace(/_total$/, '');
    const timed = /\b(time|latency|duration|wait|waited|seconds)\b/i.test(f.help);
    if (timed && !base.endsWith('_seconds')) problems.push('a time not in _seconds');
    if (!UNIT.test(base) && !UNITLESS.includes(f.name) && !(f.type === 'counter' && base !== f.name)) problems.push('no unit in its name');
    if (UNITLESS.includes(f.name) && !/no unit|standard deviations/.test(f.help)) problems.push('unitless without saying so');
  }
  return problems.map((p) => `${f.name}: ${p}`);
}

describe('metric naming', () => {
  let repo: TestRepository;
  let origin: RunningOrigin;
  let families: Map<string, MetricFamily>;

  beforeAll(async () => {
    repo = await signedRepository(['mlp-classifier']);
    origin = await startOrigin(testConfig(repo), { logger: collectingLogger().logger, processMetrics: true });
    const ok = await infer(origin.url, 'mlp-classifier', { inputs: [{ name: 'x', dtype: 'float32', dims: [2, 256], data: randomFloats(512, 7) }] });
    expect(ok.ok).toBe(true);
    const refused = await infer(origin.url, 'mlp-classifier', { inputs: [{ name: 'x', dtype: 'float32', dims: [1, 3], data: randomFloats(3, 1) }] });
    expect(refused.ok).toBe(false);
    families = parseExposition(await (await fetch(`${origin.url}/metrics`)).text());
  });
  afterAll(async () => {
    await origin?.shutdown();
    await repo?.cleanup();
  });

  it('keeps the conventions in every metric it exports', () => {
    expect(families.size).toBeGreaterThan(20);
    expect([...families.values()].flatMap(lint)).toEqual([]);
  });

  it("exports prom-client's process metrics under their stock names, without an app prefix", () => {
    const stock = new Registry();
    collectDefaultMetrics({ register: stock });
    const expected = stock.getMetricsAsArray().map((m) => m.name);
    expect(expected).toContain('process_cpu_seconds_total');
    for (const name of expected) expect(families.has(name), name).toBe(true);
    for (const name of [
      'process_cpu_seconds_total',
      'process_resident_memory_bytes',
      'process_start_time_seconds',
      'nodejs_eventloop_lag_p99_seconds',
      'nodejs_heap_size_used_bytes',
    ]) {
      expect(families.get(name)?.type, name).toMatch(/^(counter|gauge)$/);
    }
    const names = [...families.keys()];
    expect(names.filter((n) => !/^(tandem_origin_|process_|nodejs_)/.test(n))).toEqual([]);
    expect(names.filter((n) => /^tandem_origin_(process|nodejs)_/.test(n))).toEqual([]);
  });

  it("has Tandem's own metrics, labelled by model, version and (for traffic) variant", () => {
    const own = [...families.values()].filter((f) => f.name.startsWith('tandem_origin_'));
    expect(own.map((f) => `${f.name} ${f.type}`).sort()).toEqual([
      'tandem_origin_batch_size_rows histogram',
      'tandem_origin_compute_seconds histogram',
      'tandem_origin_in_flight_requests gauge',
      'tandem_origin_input_drift gauge',
      'tandem_origin_model_load_seconds gauge',
      'tandem_origin_model_ready gauge',
      'tandem_origin_queue_depth_rows gauge',
      'tandem_origin_queue_wait_seconds histogram',
      'tandem_origin_request_duration_seconds histogram',
      'tandem_origin_requests_total counter',
      'tandem_origin_top_class_confidence histogram',
      'tandem_origin_warmup_failures_total counter',
    ]);
    expect([...families.get('tandem_origin_requests_total')!.labels].sort()).toEqual(['code', 'model', 'status', 'variant', 'version']);
    // Traffic and quality carry the variant (as device telemetry does); load state is per version.
    for (const name of ['tandem_origin_request_duration_seconds', 'tandem_origin_compute_seconds', 'tandem_origin_top_class_confidence']) {
      expect([...families.get(name)!.labels].filter((l) => l !== 'le').sort(), name).toEqual(['model', 'variant', 'version']);
    }
    expect([...families.get('tandem_origin_model_ready')!.labels].sort()).toEqual(['model', 'version']);
  });

  it('catches names that break the conventions', () => {
    const bad = (name: string, type: string, help = 'x', labels: string[] = []) => lint({ name, type, help, labels: new Set(labels) });
    expect(bad('tandem_origin_requests', 'counter')).toContain('tandem_origin_requests: a counter without _total');
    expect(bad('tandem_origin_queue_total', 'gauge', 'rows')).toContain('tandem_origin_queue_total: _total on a non-counter');
    expect(bad('tandem_origin_latency_ms', 'histogram', 'request latency')).toEqual(
      expect.arrayContaining(['tandem_origin_latency_ms: an abbreviated unit', 'tandem_origin_latency_ms: a time not in _seconds']),
    );
    expect(bad('tandem_origin_load_milliseconds', 'gauge', 'time to load')).toContain('tandem_origin_load_milliseconds: not in base units (seconds, bytes)');
    expect(bad('tandem_origin_queue_depth', 'gauge', 'rows waiting')).toContain('tandem_origin_queue_depth: no unit in its name');
    expect(bad('tandemOriginThing_seconds', 'gauge', 'time')).toContain('tandemOriginThing_seconds: not snake_case (colons are for recording rules)');
  });
});

describe('served series', () => {
  it("binds each served model's series to its labels once, and counts into the same series as label objects do", async () => {
    const metrics = createOriginMetrics({ processMetrics: false });
    const a = { id: 'm', version: '1.0.0', variant: { name: 'fp32' } };
    const b = { id: 'm', version: '2.0.0', variant: { name: 'fp32' } };
    expect(metrics.served(a)).toBe(metrics.served(a));
    expect(metrics.served(b)).not.toBe(metrics.served(a));
    metrics.served(a).ok.inc();
    metrics.requests.inc({ model: 'm', version: '1.0.0', variant: 'fp32', status: '200', code: 'ok' });
    metrics.served(b).queueSeconds.observe(0.5);
    const text = await metrics.registry.metrics();
    expect(text).toContain('tandem_origin_requests_total{model="m",version="1.0.0",variant="fp32",status="200",code="ok"} 2');
    expect(text).toContain('tandem_origin_queue_wait_seconds_count{model="m",version="2.0.0",variant="fp32"} 1');
    expect(text).not.toContain('tandem_origin_queue_wait_seconds_count{model="m",version="1.0.0",variant="fp32"} 1');
  });
});
