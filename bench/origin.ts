/**
 * `npm run bench:origin` (`-- --quick` for a smoke run under a minute; see lib/options.ts for every flag):
 * how much of onnxruntime's own throughput the origin delivers over HTTP, and what its dynamic batching
 * buys, measured side by side in one run on `large-classifier` (compute dominates) and `mlp-classifier`
 * (HTTP dominates), with JSON and with binary tensors, at each concurrency:
 *
 *   a  raw onnxruntime-node in this process at its best batch size: the ceiling
 *   b  the real origin (origin/main.ts in a child process) with batching off: the naive server
 *   c  the same origin with dynamic batching (its defaults, or per-model overrides given with --model-config)
 *   d  the same HTTP stack answering the same POST with no work: the floor
 *
 * plus the origin's p95 in open loop at 80% of its peak on the large model with binary tensors, and one
 * design question: on this machine's cores, one run at a time on every core (intra-op threads 0, the
 * default) or two runs at once on one thread each (TANDEM_INTRA_OP_THREADS=1, TANDEM_SESSION_CONCURRENCY=2).
 *
 * Prints tables to stdout (progress to stderr) and writes `bench/results/origin.json`, whose shape is
 * documented in lib/results.ts. Servers are child processes on 127.0.0.1 and are stopped however the run
 * ends; the model repository is a signed temporary copy built through the shared build cache.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { batchingFor, loadOriginConfig } from '../origin/config.ts';
import { runClosedLoop } from './lib/autocannon-run.ts';
import { runOpenLoop } from './lib/open-loop.ts';
import type { LoadResult } from './lib/recorder.ts';
import { benchRepository, type BenchModel, type BenchRepository } from './lib/bench-repository.ts';
import { inferTarget, probe, type BodyMode, type InferTarget } from './lib/bodies.ts';
import { launch, type ChildService as ChildServer } from '../stack/child-process.ts';
import { spawnOrigin } from '../stack/origin-process.ts';
import { parseBenchOptions, type BenchOptions } from './lib/options.ts';
import { breakdown, readMetrics, waitIdle, type MetricsSnapshot } from './lib/origin-metrics.ts';
import { sweepRaw, type RawSweep } from './lib/raw-ort.ts';
import { renderReport } from './lib/report.ts';
import {
  RESULTS_SCHEMA,
  SERVER_LABELS,
  findCell,
  goal,
  rowsPerCpuSecond,
  ratiosC64,
  type BenchResults,
  type Cell,
  type Figures,
  type OriginSettings,
  type PeakRun,
  type ThreadsVsSessions,
} from './lib/results.ts';
import { ratio, round } from './lib/stats.ts';
import { GOALS } from './lib/goals.ts';

const ROOT = resolve(import.meta.dirname, '..');
const MODELS = [
  { id: 'large-classifier', short: 'large', about: 'x float32 [batch,1024] -> logits, probabilities [batch,1000]; ~25M params, compute dominates' },
  { id: 'mlp-classifier', short: 'mlp', about: 'x float32 [batch,256] -> 10 classes; small, HTTP dominates' },
] as const;
const MODES: readonly BodyMode[] = ['json', 'binary'];
const INFER_TOKEN = 'bench-inference-token';
const ADMIN_TOKEN = 'bench-admin-token';

/** Server b: the same origin with batching off. */
const NAIVE_ENV = { TANDEM_MAX_BATCH_SIZE: '1', TANDEM_MAX_QUEUE_DELAY_MS: '0', TANDEM_SESSION_CONCURRENCY: '1' };
/** Server c: the origin's own defaults (64 rows, 2 ms, one run at a time, every core). */
const BATCHING_ENV = {};
/** The alternative to the default threading: two runs at once, one onnxruntime thread each. */
const SESSIONS_ENV = { TANDEM_INTRA_OP_THREADS: '1', TANDEM_SESSION_CONCURRENCY: '2' };

async function main(): Promise<void> {
  const options = parseBenchOptions(process.argv.slice(2), process.env);
  const loadBefore = loadavg();
  const cores = cpus().length;
  progress(`bench:origin: ${cores} cores, load average ${loadBefore.map((v) => v.toFixed(2)).join(' ')}${options.quick ? ', --quick' : ''}`);

  const repo = await benchRepository(MODELS.map((m) => m.id));
  try {
    const models = MODELS.map((m) => repo.models.find((built) => built.id === m.id)!);
    const large = models[0]!;
    const top = Math.max(...options.concurrency);

    // a: nothing else runs while the ceiling is measured.
    const raw: Record<string, RawSweep> = {};
    for (const model of models) raw[model.id] = await rawCeiling(model, options);

    const cells: Cell[] = [];
    await withServer(floorServer(), (floor) => serverCells(floor, models, options, 'd', cells));
    await withServer(originServer(repo, 'b (naive)', NAIVE_ENV), (naive) => serverCells(naive, models, options, 'b', cells));

    // c, and the sessions alternative, take the per-model overrides given with --model-config, if any.
    const batchingEnv = withModelConfig(BATCHING_ENV, options);
    const sessionsEnv = withModelConfig(SESSIONS_ENV, options);
    let peak: PeakRun | null = null;
    let threads: Figures | undefined;
    await withServer(originServer(repo, 'c (batching)', batchingEnv), async (origin) => {
      await serverCells(origin, models, options, 'c', cells);
      const target = inferTarget(origin.url, large.id, large.variant.inputs, 'binary', INFER_TOKEN);

      // The peak is measured again right before the open loop, on the same server: this machine's speed
      // drifts by up to 30 % within a run, and 80 % of a faster moment minutes earlier can be more than the
      // origin serves now (a queue that only grows, and a p95 that measures it).
      const bestCellRps = Math.max(...cells.filter((c) => c.server === 'c' && c.model === large.id && c.mode === 'binary').map((c) => c.throughput_rps ?? 0));
      progress(`c: peak, just before the open loop: ${large.id} binary c=${top}`);
      const justBefore = await closedFigures(origin, target, options, top, large.id);
      progress(`   ${line(justBefore)}`);
      const peakRps = justBefore.throughput_rps ?? bestCellRps;
      const rate = Math.max(1, Math.round(peakRps * 0.8));
      progress(`c: 80% of peak: ${large.id} binary, open loop at ${rate} req/s (peak ${peakRps}; the run's best closed-loop cell ${bestCellRps})`);
      const figures = await measure(origin, large.id, (onWindow) =>
        runOpenLoop(target, { rate, warmupSeconds: options.warmupSeconds, durationSeconds: options.durationSeconds, onWindow }),
      );
      peak = { model: large.id, mode: 'binary', peak_rps: round(peakRps, 1), best_cell_rps: round(bestCellRps, 1), target_rps: rate, ...figures };
      progress(`   ${line(figures)}`);

      progress(`c: threads (intra-op 0, one run at a time): ${large.id} binary c=${top}`);
      threads = await closedFigures(origin, target, options, top, large.id);
      progress(`   ${line(threads)}`);
    });

    let sessions: Figures | undefined;
    await withServer(originServer(repo, 'c (sessions)', sessionsEnv), async (origin) => {
      progress(`c: sessions (intra-op 1, two runs at once): ${large.id} binary c=${top}`);
      sessions = await closedFigures(origin, inferTarget(origin.url, large.id, large.variant.inputs, 'binary', INFER_TOKEN), options, top, large.id);
      progress(`   ${line(sessions)}`);
    });

    const configs = { b: NAIVE_ENV, c: batchingEnv, sessions: sessionsEnv };
    const results = assemble(options, cores, loadBefore, raw, cells, peak, threads, sessions, models, configs);
    process.stdout.write(`\n${renderReport(results, (id) => `${id}: ${MODELS.find((m) => m.id === id)?.about ?? ''}`)}`);
    const out = resolve(ROOT, options.out);
    await mkdir(dirname(out), { recursive: true });
    await writeFile(out, `${JSON.stringify(results, null, 2)}\n`);
    process.stdout.write(`\nwrote ${out}\n`);
  } finally {
    await repo.cleanup();
  }
}

async function rawCeiling(model: BenchModel, options: BenchOptions): Promise<RawSweep> {
  progress(`a: raw onnxruntime ${model.id}, batch ${options.batches.join('/')}`);
  const sweep = await sweepRaw(model.artifactPath, model.variant.inputs, {
    batches: options.batches,
    seconds: options.rawSeconds,
    sweep: { intraOpThreads: 0, parallel: 1, spinning: true },
    // The other threadings, at the best batch size: no spin-waiting (the origin's default), one thread per run
    // with one or two runs in flight. The ceiling is the fastest of all.
    alternatives: [
      { intraOpThreads: 0, parallel: 1, spinning: false },
      { intraOpThreads: 1, parallel: 1, spinning: true },
      { intraOpThreads: 1, parallel: 2, spinning: true },
    ],
  });
  progress(`   best ${sweep.best.rows_per_s} rows/s at batch ${sweep.best.batch} (threads ${sweep.best.intra_op_threads}, parallel ${sweep.best.parallel})`);
  return sweep;
}

function floorServer(): () => Promise<ChildServer> {
  return () =>
    launch({
      name: 'd (floor)',
      command: process.execPath,
      args: ['--import', 'tsx', join(ROOT, 'bench/floor-server.ts'), '--port', '0'],
      cwd: ROOT,
      scrubTandemEnv: true,
    });
}

/** The real origin (origin/main.ts) on the bench repository, with `env` on top of the common settings. */
function originServer(repo: BenchRepository, name: string, env: Record<string, string>): () => Promise<ChildServer> {
  return () => spawnOrigin({ name, env: { ...originEnv(repo), ...env }, scrubTandemEnv: true, failOnRefusedModel: true });
}

function originSettings(env: Record<string, string>, models: readonly BenchModel[]): OriginSettings {
  return { env, models: Object.fromEntries(models.map((m) => [m.id, effectiveConfig(env, m.id)])) };
}

function withModelConfig(env: Record<string, string>, options: BenchOptions): Record<string, string> {
  return options.modelConfig ? { ...env, TANDEM_MODEL_CONFIG: options.modelConfig } : env;
}

function originEnv(repo: Pick<BenchRepository, 'repository' | 'trustedKeys'>): Record<string, string> {
  return {
    TANDEM_MODEL_REPOSITORY: repo.repository,
    TANDEM_TRUSTED_KEYS: repo.trustedKeys,
    TANDEM_ORIGIN_TOKEN: INFER_TOKEN,
    TANDEM_ADMIN_TOKEN: ADMIN_TOKEN,
    TANDEM_DRAIN_TIMEOUT_MS: '3000',
  };
}

/** The batching and threading an origin started with `env` uses for `modelId`, as its own config reads it. */
function effectiveConfig(env: Record<string, string>, modelId: string) {
  const config = loadOriginConfig({ ...originEnv({ repository: 'x', trustedKeys: '[]' }), ...env }, { repository: 'x', trustedKeysFile: 'x' });
  return { ...batchingFor(config, modelId), intra_op_threads: config.intraOpThreads };
}

async function withServer(start: () => Promise<ChildServer>, body: (server: ChildServer) => Promise<void>): Promise<void> {
  const started = performance.now();
  const server = await start();
  progress(`${server.name}: listening on ${server.url} after ${((performance.now() - started) / 1000).toFixed(1)} s`);
  try {
    await body(server);
  } finally {
    await server.stop();
  }
}

/** Every model × mode × concurrency against one server; origins (b, c) also report their batching counters. */
async function serverCells(server: ChildServer, models: readonly BenchModel[], options: BenchOptions, key: Cell['server'], cells: Cell[]): Promise<void> {
  for (const model of models) {
    for (const mode of MODES) {
      const target = inferTarget(server.url, model.id, model.variant.inputs, mode, INFER_TOKEN);
      await probe(target);
      for (const concurrency of options.concurrency) {
        cells.push(await closedCell(server, target, options, { model: model.id, mode, concurrency, server: key }, key === 'd' ? undefined : model.id));
      }
    }
  }
}

async function closedCell(
  server: ChildServer,
  target: InferTarget,
  options: BenchOptions,
  where: Pick<Cell, 'model' | 'mode' | 'concurrency' | 'server'>,
  metricsModel?: string,
): Promise<Cell> {
  const figures = await closedFigures(server, target, options, where.concurrency, metricsModel);
  progress(`${where.server}: ${where.model} ${where.mode} c=${where.concurrency}: ${line(figures)}`);
  return { ...where, ...figures };
}

function closedFigures(server: ChildServer, target: InferTarget, options: BenchOptions, connections: number, metricsModel?: string): Promise<Figures> {
  return measure(server, metricsModel, (onWindow) =>
    runClosedLoop(target, { connections, warmupSeconds: options.warmupSeconds, durationSeconds: options.durationSeconds, onWindow }),
  );
}

/**
 * Runs one load and adds what the server side saw in the same window: its CPU and the generator's (this
 * process), and, for an origin, its batching counters.
 */
async function measure(
  server: ChildServer,
  metricsModel: string | undefined,
  run: (onWindow: (edge: 'start' | 'end') => Promise<void>) => Promise<LoadResult>,
): Promise<Figures> {
  interface Edge {
    at: number;
    serverCpu: number | undefined;
    genCpu: NodeJS.CpuUsage;
    metrics: MetricsSnapshot | undefined;
  }
  if (metricsModel) await waitIdle(server.url);
  const edges: Partial<Record<'start' | 'end', Edge>> = {};
  const load = await run(async (edge) => {
    const mark = { at: performance.now(), serverCpu: server.cpuSeconds(), genCpu: process.cpuUsage() };
    const metrics = metricsModel ? await readMetrics(server.url, metricsModel).catch(() => undefined) : undefined;
    edges[edge] = { ...mark, metrics };
  });
  const { start, end } = edges;
  const seconds = start && end ? (end.at - start.at) / 1000 : 0;
  const cores = (used: number | undefined) => (used !== undefined && seconds > 0 ? round(used / seconds, 2) : null);
  return {
    ...load,
    rows_per_s: load.throughput_rps, // One row per request.
    server_cpu_cores: cores(start?.serverCpu !== undefined && end?.serverCpu !== undefined ? end.serverCpu - start.serverCpu : undefined),
    loadgen_cpu_cores: cores(start && end ? cpuSeconds(end.genCpu) - cpuSeconds(start.genCpu) : undefined),
    server_side: start?.metrics && end?.metrics ? breakdown(start.metrics, end.metrics) : null,
  };
}

function cpuSeconds(usage: NodeJS.CpuUsage): number {
  return (usage.user + usage.system) / 1e6;
}

function assemble(
  options: BenchOptions,
  cores: number,
  loadBefore: number[],
  raw: Record<string, RawSweep>,
  cells: Cell[],
  peak: PeakRun | null,
  threads: Figures | undefined,
  sessions: Figures | undefined,
  models: readonly BenchModel[],
  configs: Record<'b' | 'c' | 'sessions', Record<string, string>>,
): BenchResults {
  const large = 'large-classifier';
  const top = Math.max(...options.concurrency);
  const ratios = Object.fromEntries(MODELS.map((m) => [m.short, ratiosC64(cells, raw[m.id], m.id)]));
  const threadsConfig = effectiveConfig(configs.c, large);
  const sessionsConfig = effectiveConfig(configs.sessions, large);
  const defaults = effectiveConfig({}, large);
  const threadsVsSessions: ThreadsVsSessions | null =
    threads && sessions
      ? {
          model: large,
          mode: 'binary',
          concurrency: top,
          threads: { intra_op_threads: threadsConfig.intra_op_threads, session_concurrency: threadsConfig.concurrency, ...threads },
          sessions: { intra_op_threads: sessionsConfig.intra_op_threads, session_concurrency: sessionsConfig.concurrency, ...sessions },
          faster:
            threads.throughput_rps === null || sessions.throughput_rps === null
              ? null
              : threads.throughput_rps >= sessions.throughput_rps
                ? 'threads'
                : 'sessions',
          origin_default: defaults.intra_op_threads === 0 && defaults.concurrency === 1 ? 'threads' : 'sessions',
        }
      : null;
  const p95At80 = peak?.p95_ms ?? null;
  const largeBinary64 = ratios.large!;
  const largeC64 = findCell(cells, large, 'binary', 64, 'c');
  return {
    schema: RESULTS_SCHEMA,
    generated_at: new Date().toISOString(),
    machine: {
      cpu: cpus()[0]?.model.trim() ?? 'unknown',
      cores,
      node: process.version,
      platform: process.platform,
      arch: process.arch,
      load_before: loadBefore.map((v) => round(v, 2) ?? 0),
      load_after: loadavg().map((v) => round(v, 2) ?? 0),
    },
    settings: {
      quick: options.quick,
      warmup_s: options.warmupSeconds,
      duration_s: options.durationSeconds,
      raw_seconds: options.rawSeconds,
      concurrency: options.concurrency,
      raw_batches: options.batches,
      rows_per_request: 1,
      load_generator: `autocannon 8 in the benchmark process, sharing the ${cores} cores with the server under test (a child process)`,
      servers: SERVER_LABELS,
      origin: {
        b: originSettings(configs.b, models),
        c: originSettings(configs.c, models),
        sessions: originSettings(configs.sessions, models),
      },
    },
    raw_ort: raw,
    cells,
    ratios,
    p95_ms_at_80pct_peak: p95At80,
    peak_80pct: peak,
    threads_vs_sessions: threadsVsSessions,
    goals: [
      goal(`large binary c=64: c/a`, largeBinary64.c_over_a_c64, { atLeast: GOALS.originCOverA.bound }),
      goal(`large binary c=64: c/b`, largeBinary64.c_over_b_c64, { atLeast: GOALS.originCOverB.bound }),
      goal(`large binary c=64: server CPU, cores`, largeC64?.server_cpu_cores ?? null, { atLeast: GOALS.originServerCores.bound }),
      goal(`large binary c=64: rows per CPU-second, c/a`, ratio(rowsPerCpuSecond(largeC64), raw[large]?.best.rows_per_cpu_s), {
        atLeast: GOALS.originRowsPerCpuRatio.bound,
      }),
      goal(`large binary: p95 ms at 80% of peak`, p95At80, { below: GOALS.originP95At80Ms.bound }),
    ],
  };
}

function line(f: Figures): string {
  const busy = f.server_side?.compute_busy;
  return (
    `${f.throughput_rps ?? '-'} req/s, p50 ${f.p50_ms ?? '-'} p95 ${f.p95_ms ?? '-'} p99 ${f.p99_ms ?? '-'} ms, ` +
    `errors ${f.errors}, non-2xx ${f.non2xx}` +
    (f.server_side ? `, ${f.server_side.mean_batch_rows ?? '-'} rows/run, busy ${busy ?? '-'}` : '') +
    `, cpu server ${f.server_cpu_cores ?? '-'} gen ${f.loadgen_cpu_cores ?? '-'}`
  );
}

function progress(text: string): void {
  process.stderr.write(`${text}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:origin failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
