import { describe, expect, it } from 'vitest';
import type { BenchResults, Cell } from './results.ts';
import { GOALS, buildSummary, check, renderSummary, tierRows, type Machine, type SummaryRow, type TierOutcome } from './summary.ts';

const MACHINE: Machine = { cpu: 'Test CPU', cores: 2, node: 'v20.19.0', platform: 'linux', arch: 'x64' };

function cell(server: Cell['server'], rps: number, p50: number, concurrency = 64, model = 'large-classifier'): Cell {
  return {
    model,
    mode: 'binary',
    concurrency,
    server,
    requests: rps * 4,
    seconds: 4,
    throughput_rps: rps,
    rows_per_s: rps,
    p50_ms: p50,
    p95_ms: p50 * 2,
    p99_ms: p50 * 3,
    mean_ms: p50,
    errors: 0,
    non2xx: 0,
    status_codes: { '200': rps * 4 },
    server_cpu_cores: 1,
    loadgen_cpu_cores: 1,
    server_side: null,
  };
}

/** The slice of an origin results file the summary reads: a 3000 rows/s ceiling, b 200 req/s, c 2700 req/s at c=64. */
function originResults(peakP95: number): Partial<BenchResults> {
  const best = { batch: 64, intra_op_threads: 0, parallel: 1, spinning: true, runs: 100, rows_per_s: 3000, run_ms: 21, cpu_cores: 2, rows_per_cpu_s: 1500 };
  const originThreading = { ...best, spinning: false, rows_per_s: 2500, rows_per_cpu_s: 1400 };
  const models = { 'large-classifier': { maxBatchSize: 64, maxQueueDelayMs: 2, maxQueueRows: 1024, concurrency: 1, intra_op_threads: 0 } };
  return {
    raw_ort: { 'large-classifier': { points: [best, originThreading], best } },
    settings: { origin: { b: { env: {}, models }, c: { env: {}, models }, sessions: { env: {}, models } } } as unknown as BenchResults['settings'],
    cells: [cell('b', 100, 9, 1), cell('b', 200, 300), cell('c', 2700, 20), cell('c', 50, 1, 64, 'mlp-classifier'), { ...cell('c', 999, 1), mode: 'json' }],
    peak_80pct: { ...cell('c', 2100, 30), model: 'large-classifier', mode: 'binary', peak_rps: 2700, best_cell_rps: 2750, target_rps: 2160, p95_ms: peakP95 },
  };
}

const ok = (tier: TierOutcome['tier'], results: unknown): TierOutcome => ({ tier, status: 'ok', exit_code: 0, seconds: 10, results });
const byMeasure = (rows: SummaryRow[], start: string) => rows.find((r) => r.measure.startsWith(start));

describe('check', () => {
  it('meets a bound exactly, misses past it, and has no verdict without a value or a goal', () => {
    expect(check(0.85, GOALS.originCOverA)).toBe(true);
    expect(check(0.849, GOALS.originCOverA)).toBe(false);
    expect(check(1, GOALS.edgeAddedP50Ms)).toBe(true);
    expect(check(1.01, GOALS.edgeAddedP50Ms)).toBe(false);
    expect(check(0.5, GOALS.edgeThroughputRatio)).toBe(true);
    expect(check(0.499, GOALS.edgeThroughputRatio)).toBe(false);
    expect(check(null, GOALS.edgeAddedP50Ms)).toBeNull();
    expect(check(1, null)).toBeNull();
  });
});

describe('tierRows: origin', () => {
  it('shows the large model, binary, c=64 cells and checks c/a, CPU, rows per CPU-second, c/b and the open-loop p95', () => {
    const rows = tierRows(ok('origin', originResults(80)));
    expect(rows.map((r) => r.measure)).toEqual([
      "(a) raw onnxruntime-node, batch 64, the origin's threading (intra-op all, 1 in flight) (rows/s)",
      '(a) raw onnxruntime-node, best: batch 64, intra-op all, 1 in flight, spinning (rows/s)',
      '(b) naive, no batching, c=64',
      '(c) dynamic batching, c=64',
      "(c) over (a) with the origin's threading, c=64",
      '(c) server CPU, c=64 (load generator 1 cores beside it)',
      "(c) rows per CPU-second, c=64: 2700 against raw's 1500",
      '(c) over (b), c=64',
      '(c) open loop at 80 % of peak (2160 req/s offered; peak 2700 just before)',
      '(c) mlp-classifier over the HTTP floor (d), c=64',
    ]);
    expect(rows[0]).toMatchObject({ throughput_rps: 2500, versus: 'rows/cpu-s', value: 1400, goal: null, met: null });
    expect(rows[1]).toMatchObject({ throughput_rps: 3000, p50_ms: null, value: 1500, goal: null, met: null });
    expect(rows[2]).toMatchObject({ throughput_rps: 200, p50_ms: 300, p95_ms: 600, p99_ms: 900, met: null });
    expect(rows[3]).toMatchObject({ throughput_rps: 2700, p50_ms: 20, p95_ms: 40, p99_ms: 60, versus: 'c/a', value: 0.9, goal: GOALS.originCOverA, met: true });
    expect(rows[4]).toMatchObject({ value: 1.08, goal: null });
    expect(rows[5]).toMatchObject({ versus: 'cores', value: 1, goal: GOALS.originServerCores, met: false });
    expect(rows[6]).toMatchObject({ value: 1.8, goal: GOALS.originRowsPerCpuRatio, met: true });
    expect(rows[7]).toMatchObject({ versus: 'c/b', value: 13.5, goal: GOALS.originCOverB, met: true });
    expect(rows[8]).toMatchObject({ throughput_rps: 2100, p50_ms: 30, p95_ms: 80, versus: 'p95 ms', value: 80, met: true });
    expect(rows[9]).toMatchObject({ throughput_rps: 50, versus: 'c/d', value: null, goal: null });
  });

  it('misses the goals it does not reach', () => {
    const results = originResults(457);
    results.cells = results.cells!.map((c) => (c.server === 'c' && c.mode === 'binary' ? cell('c', 700, 60) : c));
    const rows = tierRows(ok('origin', results));
    expect(byMeasure(rows, '(c) dynamic')).toMatchObject({ value: 0.233, met: false });
    expect(byMeasure(rows, '(c) over (b)')).toMatchObject({ value: 3.5, met: false });
    expect(byMeasure(rows, '(c) rows per CPU-second')).toMatchObject({ value: 0.467, met: false });
    expect(byMeasure(rows, '(c) open loop')).toMatchObject({ value: 457, met: false });
  });

  it('has no verdict where the c=64 cells were not measured', () => {
    const results = originResults(80);
    results.cells = results.cells!.filter((c) => c.concurrency !== 64);
    results.peak_80pct = null;
    const rows = tierRows(ok('origin', results));
    expect(byMeasure(rows, '(c) dynamic')).toMatchObject({ throughput_rps: null, value: null, met: null });
    expect(byMeasure(rows, '(c) over (b)')).toMatchObject({ value: null, met: null });
    expect(byMeasure(rows, '(c) open loop')).toMatchObject({
      measure: '(c) open loop at 80 % of peak (- req/s offered; peak - just before)',
      value: null,
      met: null,
    });
  });
});

describe('tierRows: edge', () => {
  const edge = {
    connections: 8,
    p50_ms_direct: 1.43,
    p95_ms_direct: 2.1,
    p99_ms_direct: 3,
    p50_ms_edge: 2.2,
    p95_ms_edge: 3,
    p99_ms_edge: 4,
    added_p50_ms: 0.77,
    rps_direct_1conn: 650,
    rps_edge_1conn: 420,
    rps_direct: 2000,
    rps_edge: 1200,
    p50_ms_direct_loaded: 3.5,
    p95_ms_direct_loaded: 6,
    p99_ms_direct_loaded: 9,
    p50_ms_edge_loaded: 6,
    p95_ms_edge_loaded: 9,
    p99_ms_edge_loaded: 12,
    p50_ms_floor: 2.0,
    p95_ms_floor: 2.8,
    p99_ms_floor: 3.6,
    added_p50_ms_floor: 0.57,
    rps_floor_1conn: 480,
    rps_floor: 1500,
    p50_ms_floor_loaded: 5,
    p95_ms_floor_loaded: 8,
    p99_ms_floor_loaded: 11,
    p50_ms_wrangler: 8.76,
    p95_ms_wrangler: 11,
    p99_ms_wrangler: 15,
    added_p50_ms_wrangler: 7.33,
    rps_wrangler_1conn: 110,
    rps_wrangler: 500,
    p50_ms_wrangler_loaded: 15,
    p95_ms_wrangler_loaded: 20,
    p99_ms_wrangler_loaded: 30,
  };

  it('puts direct, the edge in workerd, the relay-only floor and the edge under wrangler side by side; the goals judge the edge in workerd only', () => {
    const rows = tierRows(ok('edge', edge));
    expect(rows.map((r) => r.measure)).toEqual([
      'direct to origin, 1 connection',
      'through the edge in workerd, 1 connection',
      'through a relay-only Worker in workerd (the floor), 1 connection',
      "through the edge under wrangler's dev engine, 1 connection",
      'direct to origin, 8 connections',
      'through the edge in workerd, 8 connections',
      'through a relay-only Worker in workerd (the floor), 8 connections',
      "through the edge under wrangler's dev engine, 8 connections",
    ]);
    expect(rows[0]).toMatchObject({ throughput_rps: 650, p50_ms: 1.43, p99_ms: 3, goal: null });
    expect(rows[1]).toMatchObject({ throughput_rps: 420, p50_ms: 2.2, p99_ms: 4, versus: 'added p50 ms', value: 0.77, goal: GOALS.edgeAddedP50Ms, met: true });
    expect(rows[2]).toMatchObject({ throughput_rps: 480, p50_ms: 2.0, versus: 'added p50 ms', value: 0.57, goal: null, met: null });
    expect(rows[3]).toMatchObject({ throughput_rps: 110, p50_ms: 8.76, versus: 'added p50 ms', value: 7.33, goal: null, met: null });
    expect(rows[5]).toMatchObject({ throughput_rps: 1200, p95_ms: 9, versus: 'edge/direct req/s', value: 0.6, goal: GOALS.edgeThroughputRatio, met: true });
    expect(rows[6]).toMatchObject({ throughput_rps: 1500, p95_ms: 8, versus: 'floor/direct req/s', value: 0.75, goal: null, met: null });
    expect(rows[7]).toMatchObject({ throughput_rps: 500, p95_ms: 20, versus: 'edge/direct req/s', value: 0.25, goal: null, met: null });
    const slow = tierRows(ok('edge', { ...edge, added_p50_ms: 1.2, rps_edge: 900 }));
    expect([slow[1]!.met, slow[5]!.met]).toEqual([false, false]);
  });

  it("judges the throughput by the median of the rounds' own ratios, when the file has them", () => {
    const rows = tierRows(ok('edge', { ...edge, throughput_ratio: 0.44, throughput_ratio_floor: 0.52, throughput_ratio_wrangler: 0.2 }));
    expect(rows[5]).toMatchObject({ versus: 'edge/direct req/s', value: 0.44, goal: GOALS.edgeThroughputRatio, met: false });
    expect([rows[6]!.value, rows[7]!.value]).toEqual([0.52, 0.2]);
  });

  it('shows what an older results file lacks (p99, the floor and wrangler rows) as missing, not as zero', () => {
    const {
      p99_ms_direct: _a,
      p99_ms_edge: _b,
      p50_ms_wrangler: _c,
      added_p50_ms_wrangler: _d,
      rps_wrangler: _e,
      added_p50_ms_floor: _f,
      rps_floor: _g,
      ...older
    } = edge;
    const rows = tierRows(ok('edge', { ...older, p95_ms_edge: null }));
    expect(rows[0]!.p99_ms).toBeNull();
    expect(rows[1]).toMatchObject({ p95_ms: null, p99_ms: null, met: true });
    expect(rows[2]).toMatchObject({ value: null });
    expect(rows[3]).toMatchObject({ p50_ms: null, value: null });
    expect(rows[6]).toMatchObject({ throughput_rps: null, value: null });
    expect(rows[7]).toMatchObject({ throughput_rps: null, value: null });
  });
});

describe('tierRows: client', () => {
  it('checks the overhead ratio, the cache hit and the cold-load ratio, and reports the micro-batch rows without a goal', () => {
    const rows = tierRows(
      ok('client', {
        raw_p50_ms: 0.336,
        raw_p95_ms: 0.5,
        raw_p99_ms: 0.9,
        sdk_p50_ms: 0.354,
        sdk_p95_ms: 0.6,
        sdk_p99_ms: 1,
        overhead_ratio: 1.054,
        cache_hit_p50_ms: 0.114,
        cache_hit_p95_ms: 0.2,
        cache_hit_p99_ms: 0.3,
        cold_load_ms: 50.6,
        raw_cold_load_ms: 48,
        cold_load_ratio: 1.054,
        microbatch_callers: 8,
        sequential_rps: 1500,
        sequential_p50_ms: 0.6,
        sequential_p95_ms: 0.8,
        sequential_p99_ms: 1.2,
        concurrent_rps: 2400,
        concurrent_p50_ms: 2.1,
        concurrent_p95_ms: 3,
        concurrent_p99_ms: 4,
        microbatch_throughput_ratio: 1.6,
      }),
    );
    expect(rows.map((r) => [r.versus, r.value, r.met])).toEqual([
      [null, null, null],
      ['sdk/raw p50', 1.054, false],
      ['p50 ms', 0.114, true],
      ['ms', 48, null],
      ['sdk/raw', 1.054, true],
      [null, null, null],
      ['concurrent/one at a time', 1.6, null],
    ]);
    expect(rows[0]).toMatchObject({ throughput_rps: null, p50_ms: 0.336, p95_ms: 0.5, p99_ms: 0.9 });
    expect(rows[4]!.measure).toContain('50.6 ms');
    expect(rows[6]).toMatchObject({ throughput_rps: 2400, p50_ms: 2.1, p95_ms: 3, p99_ms: 4 });
  });

  it('reads a results file from before the cold-load ratio and micro-batch rows as missing figures', () => {
    const rows = tierRows(ok('client', { raw_p50_ms: 0.3, sdk_p50_ms: 0.31, overhead_ratio: 1.033, cold_load_ms: 50 }));
    expect(rows[4]).toMatchObject({ value: null, met: null });
    expect(rows[6]).toMatchObject({ throughput_rps: null, value: null, met: null });
  });
});

describe('buildSummary and renderSummary', () => {
  const outcomes: TierOutcome[] = [
    ok('origin', originResults(457)),
    { tier: 'edge', status: 'failed', exit_code: 3, seconds: 12.5 },
    { tier: 'client', status: 'no-results', exit_code: 0, seconds: 5, detail: 'bench/results/client.json is from an earlier run' },
  ];
  const summary = buildSummary(outcomes, MACHINE, true, new Date('2026-01-02T03:04:05.000Z'));

  it('records the machine and each tier, without the tiers’ raw results', () => {
    expect(summary).toMatchObject({ schema: 'tandem-bench-summary/1', generated_at: '2026-01-02T03:04:05.000Z', machine: MACHINE, quick: true });
    expect(summary.tiers).toEqual([
      { tier: 'origin', status: 'ok', exit_code: 0, seconds: 10 },
      { tier: 'edge', status: 'failed', exit_code: 3, seconds: 12.5 },
      { tier: 'client', status: 'no-results', exit_code: 0, seconds: 5, detail: 'bench/results/client.json is from an earlier run' },
    ]);
  });

  it('gives a tier that failed or wrote nothing one row saying so, with no figures', () => {
    const edge = summary.rows.filter((r) => r.tier === 'edge');
    expect(edge).toEqual([
      {
        tier: 'edge',
        measure: 'FAILED (exit 3)',
        throughput_rps: null,
        p50_ms: null,
        p95_ms: null,
        p99_ms: null,
        versus: null,
        value: null,
        goal: null,
        met: null,
      },
    ]);
    expect(summary.rows.filter((r) => r.tier === 'client').map((r) => r.measure)).toEqual(['no results (bench/results/client.json is from an earlier run)']);
  });

  it('prints one table with the verdicts', () => {
    const text = renderSummary(summary);
    const lines = text.split('\n');
    expect(lines[0]).toBe('Tandem benchmarks: Test CPU, 2 cores, node v20.19.0, 2026-01-02T03:04:05.000Z (--quick: smoke figures, do not quote)');
    expect(lines[2]).toMatch(/^tier\s+measure\s+req\/s\s+p50 ms\s+p95 ms\s+p99 ms\s+vs baseline\s+goal\s+met$/);
    expect(lines.find((l) => l.includes('(c) dynamic batching'))).toMatch(/c\/a 0\.900\s+>= 0\.85\s+met$/);
    expect(lines.find((l) => l.includes('open loop'))).toMatch(/p95 ms 457\s+<= 100\s+MISSED$/);
    expect(lines.find((l) => l.includes('FAILED (exit 3)'))).toMatch(/^edge\s+FAILED \(exit 3\)(\s+-){4}$/);
  });

  it('says n/a where a goal has no measured figure', () => {
    const results = originResults(80);
    results.peak_80pct = null;
    const text = renderSummary(buildSummary([ok('origin', results)], MACHINE, false, new Date(0)));
    expect(text.split('\n').find((l) => l.includes('open loop'))).toMatch(/p95 ms -\s+<= 100\s+n\/a$/);
  });
});
