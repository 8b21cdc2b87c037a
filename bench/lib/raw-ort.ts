/**
 * The throughput ceiling: onnxruntime-node in this process with no HTTP, no codec and no queue, running one
 * fixed batch back to back (or `parallel` runs at once on one session). It opens the session through
 * origin/ort-session.ts, so the options are exactly the origin's (graph optimisation, intra-op threads,
 * sequential execution) and onnxruntime-node is still imported only under origin/. That adapter's own cost
 * (wrapping a tensor, disposing it) is a few microseconds per run.
 *
 * Nothing else should run while this measures: call it before any server starts.
 */
import { readFile } from 'node:fs/promises';
import type { TensorSpec } from '../../protocol/manifest.ts';
import type { Tensor } from '../../protocol/tensor.ts';
import { openSession, type ModelSession } from '../../origin/ort-session.ts';
import { randomFloats } from '../../origin/test-support.ts';
import { round } from './stats.ts';

export interface RawPoint {
  batch: number;
  /** 0 = every core (the origin's default). */
  intra_op_threads: number;
  /** Runs in flight at once on the one session. */
  parallel: number;
  /** onnxruntime's intra-op threads spin-wait (fastest alone; the origin turns it off). */
  spinning: boolean;
  runs: number;
  rows_per_s: number | null;
  /** Mean wall time of one run. */
  run_ms: number | null;
  /** CPU seconds this process used per second while measuring (every thread: onnxruntime's and the session thread's), in cores. */
  cpu_cores?: number | null;
  /** Rows per CPU-second of this process: the figure that holds when other work shares the cores. */
  rows_per_cpu_s?: number | null;
}

export interface RawSweep {
  points: RawPoint[];
  best: RawPoint;
}

export interface RawConfig {
  intraOpThreads: number;
  parallel: number;
  spinning: boolean;
  /** Sessions (each in its own thread) the runs are spread over. Default 1. */
  lanes?: number;
}

/**
 * Measures each batch size with `sweep` (the origin's default threads), then the best batch size again with
 * each of `alternatives`, and reports the fastest of all as `best`.
 */
export async function sweepRaw(
  artifactPath: string,
  inputs: readonly TensorSpec[],
  options: { batches: readonly number[]; seconds: number; sweep: RawConfig; alternatives?: readonly RawConfig[] },
): Promise<RawSweep> {
  const bytes = new Uint8Array(await readFile(artifactPath));
  const points: RawPoint[] = [];
  await withSession(bytes, options.sweep, async (session) => {
    for (const batch of options.batches) points.push(await measure(session, inputs, batch, options.sweep, options.seconds));
  });
  const bestBatch = fastest(points).batch;
  for (const config of options.alternatives ?? []) {
    await withSession(bytes, config, async (session) => {
      points.push(await measure(session, inputs, bestBatch, config, options.seconds));
    });
  }
  return { points, best: fastest(points) };
}

async function withSession<T>(bytes: Uint8Array, config: RawConfig, body: (session: ModelSession) => Promise<T>): Promise<T> {
  const session = await openSession(bytes, { intraOpThreads: config.intraOpThreads, spinning: config.spinning, lanes: config.lanes ?? 1 });
  try {
    return await body(session);
  } finally {
    await session.release();
  }
}

/** Back-to-back runs of one batch for `seconds` (at least 3 runs per lane), after two warm-up runs. */
async function measure(session: ModelSession, specs: readonly TensorSpec[], batch: number, config: RawConfig, seconds: number): Promise<RawPoint> {
  const inputs: Record<string, Tensor> = {};
  for (const [i, spec] of specs.entries()) {
    const dims = spec.shape.map((d) => (typeof d === 'number' ? d : batch));
    inputs[spec.name] = {
      dtype: 'float32',
      dims,
      data: randomFloats(
        dims.reduce((a, b) => a * b, 1),
        101 + i,
      ),
    };
  }
  for (let i = 0; i < 2; i++) await session.run(inputs);
  let runs = 0;
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const deadline = started + seconds * 1000;
  const lane = async () => {
    for (let own = 0; own < 3 || performance.now() < deadline; own++) {
      await session.run(inputs);
      runs++;
    }
  };
  await Promise.all(Array.from({ length: config.parallel }, lane));
  const elapsed = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  return {
    batch,
    intra_op_threads: config.intraOpThreads,
    parallel: config.parallel,
    spinning: config.spinning,
    runs,
    rows_per_s: round((runs * batch) / elapsed, 1),
    run_ms: round(((elapsed * 1000) / runs) * config.parallel, 3),
    cpu_cores: round(cpuSeconds / elapsed, 2),
    rows_per_cpu_s: cpuSeconds > 0 ? round((runs * batch) / cpuSeconds, 1) : null,
  };
}

function fastest(points: readonly RawPoint[]): RawPoint {
  return points.reduce((a, b) => ((b.rows_per_s ?? 0) > (a.rows_per_s ?? 0) ? b : a));
}
