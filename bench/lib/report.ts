/**
 * The text report of an origin benchmark, rendered from the results object alone (so an aggregator can
 * print it again from `bench/results/origin.json`).
 */
import { SERVER_LABELS, ratiosAt, rowsPerCpuSecond, type BenchResults, type Figures, type Mode } from './results.ts';
import { formatTable, show, type CellValue } from './table.ts';

export function renderReport(r: BenchResults, describeModel: (id: string) => string = (id) => id): string {
  const out: string[] = [];
  const s = r.settings;
  out.push(
    `Tandem origin benchmark: ${r.machine.cpu}, ${r.machine.cores} cores, node ${r.machine.node}${s.quick ? ' (--quick: smoke figures, do not quote)' : ''}`,
    `load average (1/5/15 min) before ${r.machine.load_before.map((v) => v.toFixed(2)).join(' ')}, after ${r.machine.load_after.map((v) => v.toFixed(2)).join(' ')}`,
    `Load generator: autocannon in the benchmark process (one JavaScript thread) on the same ${r.machine.cores} cores as the server`,
    `under test (a child process), so every HTTP figure includes the generator's own CPU ("gen cpu", in cores).`,
    `Every request carries 1 row; each cell is ${s.warmup_s} s of warm-up then ${s.duration_s} s measured; latency from request written to answer read.`,
    '',
    ...(['a', 'b', 'c', 'd'] as const).map((k) => `  ${k}: ${SERVER_LABELS[k]}`),
    `Columns: rows/run = mean rows per onnxruntime run; busy = the origin's compute seconds per wall second (its timer`,
    `also counts event-loop time before onnxruntime's run starts, so it overstates); q ms = mean wait in the batching queue;`,
    `srv cpu / gen cpu = cores used by the server process (every thread) and by this process (the load generator);`,
    `rows/cpu-s = rows answered per CPU-second of the server process (raw: of this process while it ran).`,
    '',
  );
  if (r.machine.load_before[0]! > r.machine.cores / 2 || r.machine.load_after[0]! > r.machine.cores * 1.5) {
    out.push(`WARNING: the machine looked busy (load average above; this run adds about ${r.machine.cores}): figures are low and noisy.`, '');
  }

  for (const key of ['b', 'c', 'sessions'] as const) {
    const models = Object.entries(s.origin[key].models)
      .map(
        ([id, m]) =>
          `${id} maxBatchSize ${m.maxBatchSize}, maxQueueDelayMs ${m.maxQueueDelayMs}, concurrency ${m.concurrency}, intra-op threads ${m.intra_op_threads}`,
      )
      .join('; ');
    out.push(`origin ${key}: ${models}`);
  }
  out.push('');

  out.push('(a) raw onnxruntime-node, one session in this process (threads 0 = all cores; parallel = runs in flight)');
  const rawRows: CellValue[][] = [];
  for (const [model, sweep] of Object.entries(r.raw_ort)) {
    for (const p of sweep.points) {
      rawRows.push([
        model,
        p.batch,
        p.intra_op_threads,
        p.parallel,
        p.spinning ? 'yes' : 'no',
        p.rows_per_s,
        p.run_ms,
        p.cpu_cores,
        p.rows_per_cpu_s,
        same(p, sweep.best) ? '<- best' : '',
      ]);
    }
  }
  out.push(formatTable(['model', 'batch', 'threads', 'parallel', 'spin', 'rows/s', 'ms/run', 'cores', 'rows/cpu-s', ''], rawRows), '');

  const models = [...new Set(r.cells.map((c) => c.model))];
  for (const model of models) {
    out.push(describeModel(model));
    const rows = r.cells.filter((c) => c.model === model).map((c) => [c.mode, c.concurrency, c.server, ...figureColumns(c)]);
    out.push(formatTable(['mode', 'conc', 'srv', ...FIGURE_HEADERS], rows), '');
  }

  out.push('Ratios: c/a = origin rows/s over the raw ceiling; c/b = over the naive server; c/d = over the HTTP floor (requests/s)');
  const ratioRows: CellValue[][] = [];
  for (const model of models) {
    for (const mode of ['binary', 'json'] as Mode[]) {
      for (const concurrency of s.concurrency) {
        const x = ratiosAt(r.cells, r.raw_ort[model], model, mode, concurrency);
        ratioRows.push([model, mode, concurrency, x.c_over_a, x.c_over_b, x.c_over_d]);
      }
    }
  }
  out.push(formatTable(['model', 'mode', 'conc', 'c/a', 'c/b', 'c/d'], ratioRows), '');

  if (r.peak_80pct) {
    const p = r.peak_80pct;
    out.push(
      `80% of peak: ${p.model} ${p.mode}, origin peak ${show(p.peak_rps)} req/s (closed loop at the top concurrency, just before; the run's best closed-loop cell ${show(p.best_cell_rps)}), open loop at ${show(p.target_rps)} req/s`,
      `(Poisson arrivals over node:http keep-alive, bench/lib/open-loop.ts; each latency counted from its request's due time)`,
      formatTable(['target req/s', ...FIGURE_HEADERS], [[p.target_rps, ...figureColumns(p)]]),
      '',
    );
  }

  if (r.threads_vs_sessions) {
    const t = r.threads_vs_sessions;
    out.push(
      `Threads vs sessions on ${t.model}, ${t.mode}, concurrency ${t.concurrency}: one run at a time on every core, or two runs at once on one thread each`,
    );
    out.push(
      formatTable(
        ['config', 'intra-op', 'sessions', ...FIGURE_HEADERS],
        [
          ['threads', t.threads.intra_op_threads, t.threads.session_concurrency, ...figureColumns(t.threads)],
          ['sessions', t.sessions.intra_op_threads, t.sessions.session_concurrency, ...figureColumns(t.sessions)],
        ],
      ),
      `faster: ${t.faster ?? '-'}; the origin's default is ${t.origin_default}${t.faster && t.faster !== t.origin_default ? ' (the default is NOT the faster one here)' : ''}`,
      '',
    );
  }

  out.push('Goals (measured beside the goal)');
  out.push(
    formatTable(
      ['goal', 'target', 'measured', 'met'],
      r.goals.map((g) => [g.name, g.goal, g.measured, g.met === null ? '-' : g.met ? 'yes' : 'NO']),
    ),
  );
  return `${out.join('\n')}\n`;
}

const FIGURE_HEADERS = ['req/s', 'rows/s', 'p50 ms', 'p95 ms', 'p99 ms', 'err', 'non2xx', 'rows/run', 'busy', 'q ms', 'srv cpu', 'gen cpu', 'rows/cpu-s'];

function figureColumns(f: Figures): CellValue[] {
  return [
    f.throughput_rps,
    f.rows_per_s,
    f.p50_ms,
    f.p95_ms,
    f.p99_ms,
    f.errors,
    f.non2xx,
    f.server_side?.mean_batch_rows,
    f.server_side?.compute_busy,
    f.server_side?.queue_ms_mean,
    f.server_cpu_cores,
    f.loadgen_cpu_cores,
    rowsPerCpuSecond(f),
  ];
}

function same(a: object, b: object): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
