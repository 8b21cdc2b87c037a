/**
 * The one table `npm run bench` prints after every tier has run, and the shape of
 * `bench/results/summary.json`: per tier, the figures it measured (throughput, p50/p95/p99) and the one it is
 * judged by, a ratio against its baseline or the milliseconds it adds, beside its goal from the issues.
 * Pure: it reads the tiers' results objects (as parsed from bench/results/{origin,edge,client}.json) and how
 * each run ended; bench/all.ts runs the tiers and does the file work.
 *
 * ```jsonc
 * {
 *   "schema": "tandem-bench-summary/1",
 *   "generated_at": "2026-01-01T00:00:00.000Z",
 *   "machine": { "cpu": "AMD EPYC", "cores": 2, "node": "v20.19.0", "platform": "linux", "arch": "x64" },
 *   "quick": false,
 *   "tiers": [{ "tier": "origin", "status": "ok" | "failed" | "no-results" | "not-run", "exit_code": 0,
 *               "seconds": 312.4, "detail": "…" }],
 *   "rows": [{ "tier", "measure", "throughput_rps", "p50_ms", "p95_ms", "p99_ms",
 *              "versus", "value", "goal": { "op": ">=" | "<=", "bound": 0.85 } | null, "met": true | false | null }]
 * }
 * ```
 * A figure a tier did not measure (or could not) is `null`, shown as '-'.
 */
import { GOALS, type Goal } from './goals.ts';
import { findCell, ratiosAt, rawWithOriginThreading, rowsPerCpuSecond, type BenchResults } from './results.ts';
import { ratio } from './stats.ts';
import { formatTable, show } from './table.ts';

export const SUMMARY_SCHEMA = 'tandem-bench-summary/1';

export type Tier = 'origin' | 'edge' | 'client';
export const TIERS: readonly Tier[] = ['origin', 'edge', 'client'];

export { GOALS, type Goal } from './goals.ts';

/** The origin cells the summary shows: the compute-bound model, binary tensors, the goals' concurrency. */
export const ORIGIN_FOCUS = { model: 'large-classifier', mode: 'binary', concurrency: 64 } as const;

export interface SummaryRow {
  tier: Tier;
  measure: string;
  /** Requests (or, for raw onnxruntime, rows) per second. */
  throughput_rps: number | null;
  p50_ms: number | null;
  p95_ms: number | null;
  p99_ms: number | null;
  /** What `value` is: a ratio against the tier's baseline ('c/a') or a figure a goal bounds ('added p50 ms'). */
  versus: string | null;
  value: number | null;
  goal: Goal | null;
  /** null when there is no goal or `value` is missing. */
  met: boolean | null;
}

export type TierStatus = 'ok' | 'failed' | 'no-results' | 'not-run';

/** How one tier's run ended, as the runner saw it; `results` is its parsed results file when `ok`. */
export interface TierOutcome {
  tier: Tier;
  status: TierStatus;
  exit_code: number | null;
  seconds: number | null;
  /** Why it failed or has no results (e.g. the signal that ended it, the file it did not write). */
  detail?: string;
  results?: unknown;
}

export interface Machine {
  cpu: string;
  cores: number;
  node: string;
  platform: string;
  arch: string;
}

export interface Summary {
  schema: typeof SUMMARY_SCHEMA;
  generated_at: string;
  machine: Machine;
  quick: boolean;
  tiers: Omit<TierOutcome, 'results'>[];
  rows: SummaryRow[];
}

/** `value` against `goal`, or null when either is missing. */
export function check(value: number | null, goal: Goal | null): boolean | null {
  if (goal === null || value === null) return null;
  return goal.op === '>=' ? value >= goal.bound : value <= goal.bound;
}

/**
 * The summary of one `npm run bench`: a row per figure of every tier that produced results, one row per
 * tier that did not.
 * @example
 * buildSummary([{ tier: 'edge', status: 'failed', exit_code: 1, seconds: 3 }], machine, false, new Date());
 * // rows: [{ tier: 'edge', measure: 'FAILED (exit 1)', …nulls }]
 */
export function buildSummary(outcomes: readonly TierOutcome[], machine: Machine, quick: boolean, at: Date): Summary {
  return {
    schema: SUMMARY_SCHEMA,
    generated_at: at.toISOString(),
    machine,
    quick,
    tiers: outcomes.map(({ tier, status, exit_code, seconds, detail }) => ({ tier, status, exit_code, seconds, ...(detail === undefined ? {} : { detail }) })),
    rows: outcomes.flatMap(tierRows),
  };
}

/** The rows of one tier: its figures when it ran, else one row saying why there are none. */
export function tierRows(outcome: TierOutcome): SummaryRow[] {
  if (outcome.status === 'ok' && outcome.results !== undefined) {
    if (outcome.tier === 'origin') return originRows(outcome.results as Partial<BenchResults>);
    if (outcome.tier === 'edge') return edgeRows(outcome.results as Partial<EdgeResults>);
    return clientRows(outcome.results as Partial<ClientResults>);
  }
  const why =
    outcome.status === 'failed'
      ? `FAILED (exit ${outcome.exit_code ?? '-'}${outcome.detail ? `, ${outcome.detail}` : ''})`
      : outcome.status === 'not-run'
        ? `not run${outcome.detail ? ` (${outcome.detail})` : ''}`
        : `no results${outcome.detail ? ` (${outcome.detail})` : ''}`;
  return [row(outcome.tier, why, {})];
}

/**
 * The fields of bench/results/edge.json the summary reads (bench/edge.ts writes them): `*_edge` is the Worker
 * straight in workerd (Miniflare, as production runs it: the goals judge it), `*_floor` a relay-only Worker
 * run the same way (what workerd and the hop cost on their own), `*_wrangler` the edge under wrangler's dev
 * engine (its proxy in front), `*_direct` straight to the origin.
 */
export interface EdgeResults {
  connections: number;
  p50_ms_direct: number;
  p95_ms_direct: number;
  p99_ms_direct: number;
  p50_ms_edge: number;
  p95_ms_edge: number;
  p99_ms_edge: number;
  added_p50_ms: number;
  rps_direct_1conn: number;
  rps_edge_1conn: number;
  rps_direct: number;
  rps_edge: number;
  p50_ms_direct_loaded: number;
  p95_ms_direct_loaded: number;
  p99_ms_direct_loaded: number;
  p50_ms_edge_loaded: number;
  p95_ms_edge_loaded: number;
  p99_ms_edge_loaded: number;
  p50_ms_floor: number;
  p95_ms_floor: number;
  p99_ms_floor: number;
  added_p50_ms_floor: number;
  rps_floor_1conn: number;
  rps_floor: number;
  p50_ms_floor_loaded: number;
  p95_ms_floor_loaded: number;
  p99_ms_floor_loaded: number;
  p50_ms_wrangler: number;
  p95_ms_wrangler: number;
  p99_ms_wrangler: number;
  added_p50_ms_wrangler: number;
  rps_wrangler_1conn: number;
  rps_wrangler: number;
  p50_ms_wrangler_loaded: number;
  p95_ms_wrangler_loaded: number;
  p99_ms_wrangler_loaded: number;
  /**
   * The median of each round's req/s ratio against direct in the same round (bench/edge.ts since it runs in
   * rounds); older files lack them and the ratio of the req/s above stands in.
   */
  throughput_ratio: number;
  throughput_ratio_floor: number;
  throughput_ratio_wrangler: number;
}

/** The fields of bench/results/client.json the summary reads (bench/client.ts writes them). */
export interface ClientResults {
  raw_p50_ms: number;
  raw_p95_ms: number;
  raw_p99_ms: number;
  sdk_p50_ms: number;
  sdk_p95_ms: number;
  sdk_p99_ms: number;
  overhead_ratio: number;
  cache_hit_p50_ms: number;
  cache_hit_p95_ms: number;
  cache_hit_p99_ms: number;
  cold_load_ms: number;
  raw_cold_load_ms: number;
  cold_load_ratio: number;
  microbatch_callers: number;
  sequential_rps: number;
  sequential_p50_ms: number;
  sequential_p95_ms: number;
  sequential_p99_ms: number;
  concurrent_rps: number;
  concurrent_p50_ms: number;
  concurrent_p95_ms: number;
  concurrent_p99_ms: number;
  microbatch_throughput_ratio: number;
}

function originRows(r: Partial<BenchResults>): SummaryRow[] {
  const { model, mode, concurrency } = ORIGIN_FOCUS;
  const cells = r.cells ?? [];
  const raw = r.raw_ort?.[model];
  const rawOrigin = r.raw_ort && r.settings ? rawWithOriginThreading({ raw_ort: r.raw_ort, settings: r.settings }, model) : undefined;
  const naive = findCell(cells, model, mode, concurrency, 'b');
  const batching = findCell(cells, model, mode, concurrency, 'c');
  const ratios = ratiosAt(cells, raw, model, mode, concurrency);
  const peak = r.peak_80pct ?? null;
  const at = `c=${concurrency}`;
  const rawPerCpu = num(raw?.best.rows_per_cpu_s);
  const originPerCpu = rowsPerCpuSecond(batching);
  const threads = (p: { intra_op_threads: number; parallel: number; spinning: boolean } | undefined) =>
    p ? `intra-op ${p.intra_op_threads === 0 ? 'all' : p.intra_op_threads}, ${p.parallel} in flight${p.spinning ? ', spinning' : ''}` : '-';
  const mlp = ratiosAt(cells, r.raw_ort?.['mlp-classifier'], 'mlp-classifier', mode, concurrency);
  const mlpCell = findCell(cells, 'mlp-classifier', mode, concurrency, 'c');
  return [
    row('origin', `(a) raw onnxruntime-node, batch ${rawOrigin?.batch ?? '-'}, the origin's threading (${threads(rawOrigin)}) (rows/s)`, {
      throughput_rps: num(rawOrigin?.rows_per_s),
      versus: 'rows/cpu-s',
      value: num(rawOrigin?.rows_per_cpu_s),
    }),
    row('origin', `(a) raw onnxruntime-node, best: batch ${raw?.best.batch ?? '-'}, ${threads(raw?.best)} (rows/s)`, {
      throughput_rps: num(raw?.best.rows_per_s),
      versus: 'rows/cpu-s',
      value: rawPerCpu,
    }),
    row('origin', `(b) naive, no batching, ${at}`, figures(naive)),
    row('origin', `(c) dynamic batching, ${at}`, { ...figures(batching), versus: 'c/a', value: ratios.c_over_a, goal: GOALS.originCOverA }),
    row('origin', `(c) over (a) with the origin's threading, ${at}`, { versus: 'c/a', value: ratio(num(batching?.rows_per_s), num(rawOrigin?.rows_per_s)) }),
    row('origin', `(c) server CPU, ${at} (load generator ${show(num(batching?.loadgen_cpu_cores))} cores beside it)`, {
      versus: 'cores',
      value: num(batching?.server_cpu_cores),
      goal: GOALS.originServerCores,
    }),
    row('origin', `(c) rows per CPU-second, ${at}: ${show(originPerCpu)} against raw's ${show(rawPerCpu)}`, {
      versus: 'c/a per cpu-s',
      value: ratio(originPerCpu, rawPerCpu),
      goal: GOALS.originRowsPerCpuRatio,
    }),
    row('origin', `(c) over (b), ${at}`, { versus: 'c/b', value: ratios.c_over_b, goal: GOALS.originCOverB }),
    row('origin', `(c) open loop at 80 % of peak (${show(num(peak?.target_rps))} req/s offered; peak ${show(num(peak?.peak_rps))} just before)`, {
      ...figures(peak ?? undefined),
      versus: 'p95 ms',
      value: num(peak?.p95_ms),
      goal: GOALS.originP95At80Ms,
    }),
    row('origin', `(c) mlp-classifier over the HTTP floor (d), ${at}`, { ...figures(mlpCell), versus: 'c/d', value: mlp.c_over_d }),
  ];
}

function edgeRows(r: Partial<EdgeResults>): SummaryRow[] {
  const loaded = `${r.connections ?? '-'} connections`;
  const edge = 'through the edge in workerd';
  const wrangler = "through the edge under wrangler's dev engine";
  const floor = 'through a relay-only Worker in workerd (the floor)';
  return [
    row('edge', 'direct to origin, 1 connection', {
      throughput_rps: num(r.rps_direct_1conn),
      p50_ms: num(r.p50_ms_direct),
      p95_ms: num(r.p95_ms_direct),
      p99_ms: num(r.p99_ms_direct),
    }),
    row('edge', `${edge}, 1 connection`, {
      throughput_rps: num(r.rps_edge_1conn),
      p50_ms: num(r.p50_ms_edge),
      p95_ms: num(r.p95_ms_edge),
      p99_ms: num(r.p99_ms_edge),
      versus: 'added p50 ms',
      value: num(r.added_p50_ms),
      goal: GOALS.edgeAddedP50Ms,
    }),
    row('edge', `${floor}, 1 connection`, {
      throughput_rps: num(r.rps_floor_1conn),
      p50_ms: num(r.p50_ms_floor),
      p95_ms: num(r.p95_ms_floor),
      p99_ms: num(r.p99_ms_floor),
      versus: 'added p50 ms',
      value: num(r.added_p50_ms_floor),
    }),
    row('edge', `${wrangler}, 1 connection`, {
      throughput_rps: num(r.rps_wrangler_1conn),
      p50_ms: num(r.p50_ms_wrangler),
      p95_ms: num(r.p95_ms_wrangler),
      p99_ms: num(r.p99_ms_wrangler),
      versus: 'added p50 ms',
      value: num(r.added_p50_ms_wrangler),
    }),
    row('edge', `direct to origin, ${loaded}`, {
      throughput_rps: num(r.rps_direct),
      p50_ms: num(r.p50_ms_direct_loaded),
      p95_ms: num(r.p95_ms_direct_loaded),
      p99_ms: num(r.p99_ms_direct_loaded),
    }),
    row('edge', `${edge}, ${loaded}`, {
      throughput_rps: num(r.rps_edge),
      p50_ms: num(r.p50_ms_edge_loaded),
      p95_ms: num(r.p95_ms_edge_loaded),
      p99_ms: num(r.p99_ms_edge_loaded),
      versus: 'edge/direct req/s',
      value: num(r.throughput_ratio) ?? ratio(num(r.rps_edge), num(r.rps_direct)),
      goal: GOALS.edgeThroughputRatio,
    }),
    row('edge', `${floor}, ${loaded}`, {
      throughput_rps: num(r.rps_floor),
      p50_ms: num(r.p50_ms_floor_loaded),
      p95_ms: num(r.p95_ms_floor_loaded),
      p99_ms: num(r.p99_ms_floor_loaded),
      versus: 'floor/direct req/s',
      value: num(r.throughput_ratio_floor) ?? ratio(num(r.rps_floor), num(r.rps_direct)),
    }),
    row('edge', `${wrangler}, ${loaded}`, {
      throughput_rps: num(r.rps_wrangler),
      p50_ms: num(r.p50_ms_wrangler_loaded),
      p95_ms: num(r.p95_ms_wrangler_loaded),
      p99_ms: num(r.p99_ms_wrangler_loaded),
      versus: 'edge/direct req/s',
      value: num(r.throughput_ratio_wrangler) ?? ratio(num(r.rps_wrangler), num(r.rps_direct)),
    }),
  ];
}

function clientRows(r: Partial<ClientResults>): SummaryRow[] {
  return [
    row('client', 'raw onnxruntime-web session.run (minimal postMessage worker)', {
      p50_ms: num(r.raw_p50_ms),
      p95_ms: num(r.raw_p95_ms),
      p99_ms: num(r.raw_p99_ms),
    }),
    row('client', 'sdk model.run (no-store)', {
      p50_ms: num(r.sdk_p50_ms),
      p95_ms: num(r.sdk_p95_ms),
      p99_ms: num(r.sdk_p99_ms),
      versus: 'sdk/raw p50',
      value: num(r.overhead_ratio),
      goal: GOALS.clientOverheadRatio,
    }),
    row('client', 'result-cache hit', {
      p50_ms: num(r.cache_hit_p50_ms),
      p95_ms: num(r.cache_hit_p95_ms),
      p99_ms: num(r.cache_hit_p99_ms),
      versus: 'p50 ms',
      value: num(r.cache_hit_p50_ms),
      goal: GOALS.clientCacheHitP50Ms,
    }),
    row('client', 'raw cold load (worker, fetch, create)', { versus: 'ms', value: num(r.raw_cold_load_ms) }),
    row('client', `sdk cold load (verify, download, hash, session): ${show(num(r.cold_load_ms))} ms`, {
      versus: 'sdk/raw',
      value: num(r.cold_load_ratio),
      goal: GOALS.clientColdLoadRatio,
    }),
    row('client', `sdk model.run, ${show(num(r.microbatch_callers))} calls one at a time (calls/s, per call)`, {
      throughput_rps: num(r.sequential_rps),
      p50_ms: num(r.sequential_p50_ms),
      p95_ms: num(r.sequential_p95_ms),
      p99_ms: num(r.sequential_p99_ms),
    }),
    row('client', `sdk model.run, ${show(num(r.microbatch_callers))} concurrent callers (calls/s, per call)`, {
      throughput_rps: num(r.concurrent_rps),
      p50_ms: num(r.concurrent_p50_ms),
      p95_ms: num(r.concurrent_p95_ms),
      p99_ms: num(r.concurrent_p99_ms),
      versus: 'concurrent/one at a time',
      value: num(r.microbatch_throughput_ratio),
    }),
  ];
}

type RowFigures = Partial<Omit<SummaryRow, 'tier' | 'measure' | 'met'>>;

function row(tier: Tier, measure: string, f: RowFigures): SummaryRow {
  const value = f.value ?? null;
  const goal = f.goal ?? null;
  return {
    tier,
    measure,
    throughput_rps: f.throughput_rps ?? null,
    p50_ms: f.p50_ms ?? null,
    p95_ms: f.p95_ms ?? null,
    p99_ms: f.p99_ms ?? null,
    versus: f.versus ?? null,
    value,
    goal,
    met: check(value, goal),
  };
}

function figures(cell: { throughput_rps: number | null; p50_ms: number | null; p95_ms: number | null; p99_ms: number | null } | undefined): RowFigures {
  return { throughput_rps: num(cell?.throughput_rps), p50_ms: num(cell?.p50_ms), p95_ms: num(cell?.p95_ms), p99_ms: num(cell?.p99_ms) };
}

/** A figure from a results file: a finite number, else null (absent, null, or NaN written by an older run). */
function num(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

/** The summary as text: a header line about the machine, then the one table. */
export function renderSummary(s: Summary): string {
  const m = s.machine;
  const header = `Tandem benchmarks: ${m.cpu}, ${m.cores} cores, node ${m.node}, ${s.generated_at}${s.quick ? ' (--quick: smoke figures, do not quote)' : ''}`;
  const table = formatTable(
    ['tier', 'measure', 'req/s', 'p50 ms', 'p95 ms', 'p99 ms', 'vs baseline', 'goal', 'met'],
    s.rows.map((r) => [
      r.tier,
      r.measure,
      r.throughput_rps,
      r.p50_ms,
      r.p95_ms,
      r.p99_ms,
      r.versus === null ? '' : `${r.versus} ${show(r.value)}`,
      r.goal === null ? '' : `${r.goal.op} ${r.goal.bound}`,
      r.goal === null ? '' : r.met === null ? 'n/a' : r.met ? 'met' : 'MISSED',
    ]),
  );
  return `${header}\n\n${table}\n`;
}
