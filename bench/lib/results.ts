/**
 * The shape of `bench/results/origin.json`, the contract a later `npm run bench` aggregator reads, and the
 * pure functions that derive its ratios and goal checks from the measured cells.
 *
 * ```jsonc
 * {
 *   "schema": "tandem-bench-origin/1",        // bumped when a field changes meaning
 *   "generated_at": "2026-01-01T00:00:00.000Z",
 *   "machine": { "cpu": "AMD EPYC", "cores": 2, "node": "v20.19.0", "platform": "linux", "arch": "x64",
 *                "load_before": [1m, 5m, 15m], "load_after": [1m, 5m, 15m] },
 *   "settings": { "quick": false, "warmup_s": 1, "duration_s": 4, "raw_seconds": 1.5, "concurrency": [1, 8, 64],
 *                 "raw_batches": [1, 8, 32, 64, 128], "rows_per_request": 1,
 *                 "load_generator": "…", "servers": { "a": "…", "b": "…", "c": "…", "d": "…" },
 *                 "origin": { "b" | "c" | "sessions": { "env": { TANDEM_* set for that server },
 *                   "models": { "<model id>": { "maxBatchSize", "maxQueueDelayMs", "maxQueueRows", "concurrency",
 *                                               "intra_op_threads" } } } } },
 *   "raw_ort": { "<model id>": { "points": [{ "batch", "intra_op_threads", "parallel", "runs", "rows_per_s", "run_ms" }],
 *                                "best": { …one of points } } },                       // server a
 *   "cells": [{ "model": "<model id>", "mode": "json" | "binary", "concurrency": 64, "server": "b" | "c" | "d",
 *               "throughput_rps", "rows_per_s", "p50_ms", "p95_ms", "p99_ms", "mean_ms", "errors", "non2xx",
 *               "requests", "seconds", "status_codes": { "200": n },
 *               "server_cpu_cores", "loadgen_cpu_cores",                 // CPU used / window, in cores
 *               "server_side": { "mean_batch_rows", "batches_per_s", "compute_ms_per_batch", "compute_busy",
 *                                "queue_ms_mean", "server_ms_mean" } | null }],   // b and c only
 *   "ratios": { "large": { "c_over_a_c64", "c_over_b_c64", "c_over_d_c64",          // binary tensors
 *                          "json": { "c_over_a_c64", "c_over_b_c64", "c_over_d_c64" } },
 *               "mlp": { … } },
 *   "p95_ms_at_80pct_peak": 42.1,                                                   // = peak_80pct.p95_ms
 *   "peak_80pct": { "model", "mode", "peak_rps", "best_cell_rps", "target_rps", …a cell's figures, "server_side" },
 *   "threads_vs_sessions": { "model", "mode", "concurrency",
 *                            "threads": { "intra_op_threads": 0, "session_concurrency": 1, …a cell's figures },
 *                            "sessions": { "intra_op_threads": 1, "session_concurrency": 2, … },
 *                            "faster": "threads" | "sessions", "origin_default": "threads" | "sessions" },
 *   "goals": [{ "name", "goal", "measured", "met" }]
 * }
 * ```
 * Rows per request are always 1, so `rows_per_s` equals `throughput_rps` for servers b, c and d. A figure
 * that could not be measured is `null`, never NaN.
 */
import type { LoadResult } from './recorder.ts';
import type { ServerBreakdown } from './origin-metrics.ts';
import type { RawSweep } from './raw-ort.ts';
import { ratio } from './stats.ts';

export const RESULTS_SCHEMA = 'tandem-bench-origin/1';

export type ServerKey = 'a' | 'b' | 'c' | 'd';
export type Mode = 'json' | 'binary';

export const SERVER_LABELS: Record<ServerKey, string> = {
  a: 'raw onnxruntime-node in process, best batch size (the ceiling)',
  b: 'naive: the origin with batching off (maxBatchSize 1, maxQueueDelayMs 0, concurrency 1)',
  c: 'the origin with dynamic batching',
  d: 'HTTP floor: hono on @hono/node-server answering the same POST with no work',
};

export interface Figures extends LoadResult {
  rows_per_s: number | null;
  /** CPU seconds used per second of window, in cores (2 = both cores of a 2-core machine). */
  server_cpu_cores: number | null;
  loadgen_cpu_cores: number | null;
  server_side: ServerBreakdown | null;
}

export interface Cell extends Figures {
  model: string;
  mode: Mode;
  concurrency: number;
  server: Exclude<ServerKey, 'a'>;
}

/** The origin (c) over the ceiling (a, rows/s), the naive server (b) and the HTTP floor (d) (requests/s). */
export interface RatioSet {
  c_over_a: number | null;
  c_over_b: number | null;
  c_over_d: number | null;
}

/** A RatioSet at concurrency 64, as the results file names it. */
export interface Ratios {
  c_over_a_c64: number | null;
  c_over_b_c64: number | null;
  c_over_d_c64: number | null;
}

export interface PeakRun extends Figures {
  model: string;
  mode: Mode;
  /** The closed-loop throughput at the top concurrency, measured just before the open loop. */
  peak_rps: number | null;
  /** The run's best closed-loop cell of the same model and mode, measured earlier (for comparison). */
  best_cell_rps: number | null;
  /** 80 % of `peak_rps`: the open loop's offered rate. */
  target_rps: number | null;
}

export interface ThreadsVsSessions {
  model: string;
  mode: Mode;
  concurrency: number;
  threads: Figures & { intra_op_threads: number; session_concurrency: number };
  sessions: Figures & { intra_op_threads: number; session_concurrency: number };
  faster: 'threads' | 'sessions' | null;
  origin_default: 'threads' | 'sessions';
}

export interface Goal {
  name: string;
  goal: string;
  measured: number | null;
  met: boolean | null;
}

/** How one origin server was configured: the variables set, and the batching each model got from them. */
export interface OriginSettings {
  env: Record<string, string>;
  models: Record<string, { maxBatchSize: number; maxQueueDelayMs: number; maxQueueRows: number; concurrency: number; intra_op_threads: number }>;
}

export interface BenchSettings {
  quick: boolean;
  warmup_s: number;
  duration_s: number;
  raw_seconds: number;
  concurrency: number[];
  raw_batches: number[];
  rows_per_request: 1;
  load_generator: string;
  servers: Record<ServerKey, string>;
  origin: Record<'b' | 'c' | 'sessions', OriginSettings>;
}

export interface BenchResults {
  schema: typeof RESULTS_SCHEMA;
  generated_at: string;
  machine: { cpu: string; cores: number; node: string; platform: string; arch: string; load_before: number[]; load_after: number[] };
  settings: BenchSettings;
  raw_ort: Record<string, RawSweep>;
  cells: Cell[];
  ratios: Record<string, Ratios & { json: Ratios }>;
  p95_ms_at_80pct_peak: number | null;
  peak_80pct: PeakRun | null;
  threads_vs_sessions: ThreadsVsSessions | null;
  goals: Goal[];
}

/**
 * The raw point measured with the threading the origin (c) uses for `model` (its intra-op threads, no
 * spin-waiting, one run in flight per session), at the sweep's best batch size: (a) as the origin's own
 * settings would give it. Undefined in results that did not measure it.
 */
export function rawWithOriginThreading(results: Pick<BenchResults, 'raw_ort' | 'settings'>, model: string): RawSweep['points'][number] | undefined {
  const sweep = results.raw_ort?.[model];
  const settings = results.settings?.origin.c.models[model];
  if (!sweep || !settings) return undefined;
  return sweep.points.find(
    (p) => p.batch === sweep.best.batch && p.intra_op_threads === settings.intra_op_threads && !p.spinning && p.parallel === settings.concurrency,
  );
}

/** Rows answered per CPU-second of the server process in a cell (rows/s over cores used), or null. */
export function rowsPerCpuSecond(cell: Pick<Figures, 'rows_per_s' | 'server_cpu_cores'> | undefined): number | null {
  if (!cell || cell.rows_per_s === null || !cell.server_cpu_cores) return null;
  return Math.round((cell.rows_per_s / cell.server_cpu_cores) * 10) / 10;
}

/** The cell for one model, mode, concurrency and server, if measured. */
export function findCell(cells: readonly Cell[], model: string, mode: Mode, concurrency: number, server: Cell['server']): Cell | undefined {
  return cells.find((c) => c.model === model && c.mode === mode && c.concurrency === concurrency && c.server === server);
}

/** c/a (rows/s over the raw ceiling), c/b and c/d (requests/s) at `concurrency`. */
export function ratiosAt(cells: readonly Cell[], raw: RawSweep | undefined, model: string, mode: Mode, concurrency: number): RatioSet {
  const c = findCell(cells, model, mode, concurrency, 'c');
  return {
    c_over_a: ratio(c?.rows_per_s, raw?.best.rows_per_s),
    c_over_b: ratio(c?.throughput_rps, findCell(cells, model, mode, concurrency, 'b')?.throughput_rps),
    c_over_d: ratio(c?.throughput_rps, findCell(cells, model, mode, concurrency, 'd')?.throughput_rps),
  };
}

/** The results file's `ratios.<short name>` entry: binary tensors at the top, JSON under `json`. */
export function ratiosC64(cells: readonly Cell[], raw: RawSweep | undefined, model: string): Ratios & { json: Ratios } {
  const named = (r: RatioSet): Ratios => ({ c_over_a_c64: r.c_over_a, c_over_b_c64: r.c_over_b, c_over_d_c64: r.c_over_d });
  return { ...named(ratiosAt(cells, raw, model, 'binary', 64)), json: named(ratiosAt(cells, raw, model, 'json', 64)) };
}

/** Checks `measured` against a lower (`>=`) or upper (`<`) bound. */
export function goal(name: string, measured: number | null, bound: { atLeast: number } | { below: number }): Goal {
  if ('atLeast' in bound) return { name, goal: `>= ${bound.atLeast}`, measured, met: measured === null ? null : measured >= bound.atLeast };
  return { name, goal: `< ${bound.below}`, measured, met: measured === null ? null : measured < bound.below };
}
