/**
 * The benchmark's settings: one object, from flags with environment fallbacks, checked before anything
 * starts. Defaults keep the full run within about six minutes on two cores; `--quick` is a smoke run of
 * under a minute (fewer cells, short windows: its figures are for checking the machinery, not for quoting).
 *
 * | flag | env | default (quick) | meaning |
 * | --- | --- | --- | --- |
 * | --duration S | BENCH_DURATION | 4 (0.5) | measured seconds per cell |
 * | --warmup S | BENCH_WARMUP | 1 (0.5) | seconds of load before measuring, per cell |
 * | --raw-seconds S | BENCH_RAW_SECONDS | 1.5 (0.3) | seconds per raw onnxruntime batch size |
 * | --concurrency LIST | BENCH_CONCURRENCY | 1,8,64 (1,64) | connections, one row per request |
 * | --out PATH | BENCH_OUT | bench/results/origin.json | results file |
 * | --model-config JSON | BENCH_MODEL_CONFIG | {} (the origin's defaults) | TANDEM_MODEL_CONFIG for the batching origin (c) |
 * | --quick | BENCH_QUICK=1 | off | the smoke settings above |
 */
import { parseArgs } from 'node:util';

export interface BenchOptions {
  quick: boolean;
  durationSeconds: number;
  warmupSeconds: number;
  rawSeconds: number;
  concurrency: number[];
  /** Raw onnxruntime batch sizes swept for the ceiling. */
  batches: number[];
  out: string;
  /** Per-model batching overrides for the batching origin (c), as TANDEM_MODEL_CONFIG JSON; '' for its defaults. */
  modelConfig: string;
}

export function parseBenchOptions(argv: readonly string[], env: Record<string, string | undefined>): BenchOptions {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      quick: { type: 'boolean' },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      'raw-seconds': { type: 'string' },
      concurrency: { type: 'string' },
      out: { type: 'string' },
      'model-config': { type: 'string' },
    },
  });
  const quick = values.quick ?? /^(1|true|yes)$/i.test(env.BENCH_QUICK ?? '');
  return {
    quick,
    durationSeconds: seconds('duration', values.duration ?? env.BENCH_DURATION, quick ? 0.5 : 4),
    warmupSeconds: seconds('warmup', values.warmup ?? env.BENCH_WARMUP, quick ? 0.5 : 1, 0),
    rawSeconds: seconds('raw-seconds', values['raw-seconds'] ?? env.BENCH_RAW_SECONDS, quick ? 0.3 : 1.5),
    concurrency: list('concurrency', values.concurrency ?? env.BENCH_CONCURRENCY, quick ? [1, 64] : [1, 8, 64]),
    batches: [1, 8, 32, 64, 128],
    out: values.out ?? env.BENCH_OUT ?? 'bench/results/origin.json',
    modelConfig: json('model-config', values['model-config'] ?? env.BENCH_MODEL_CONFIG),
  };
}

function seconds(name: string, value: string | undefined, fallback: number, min = 0.1): number {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < min || n > 600) throw new Error(`--${name} must be a number of seconds from ${min} to 600, got "${value}"`);
  return n;
}

function list(name: string, value: string | undefined, fallback: number[]): number[] {
  if (value === undefined || value === '') return fallback;
  const items = value.split(',').map((v) => Number(v.trim()));
  if (items.length === 0 || items.some((n) => !Number.isInteger(n) || n < 1 || n > 1024)) {
    throw new Error(`--${name} must be a comma-separated list of integers from 1 to 1024, got "${value}"`);
  }
  return [...new Set(items)].sort((a, b) => a - b);
}

function json(name: string, value: string | undefined): string {
  if (value === undefined || value === '') return '';
  try {
    JSON.parse(value);
  } catch {
    throw new Error(`--${name} must be JSON, e.g. '{"large-classifier":{"maxQueueDelayMs":10}}', got "${value}"`);
  }
  return value;
}
