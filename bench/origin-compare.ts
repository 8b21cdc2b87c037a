/**
 * `npm run bench:origin:compare`: origin settings side by side, for tuning on a noisy shared machine. Every
 * configuration runs as its own origin (started once, all listening at once, only one loaded at a time),
 * and the rounds interleave them (A B C A B C ...), so a burst of load from elsewhere hits each about
 * equally; the table gives each one's min and median over the rounds and its median as a ratio of the
 * first (the baseline). One cell: a model, binary tensors, closed loop at one concurrency.
 *
 *   npm run bench:origin:compare -- [--model large-classifier] [--concurrency 64] [--rounds 5]
 *     [--duration 3] [--warmup 1] [--cpu-prof DIR] [--raw] [NAME=JSON ...]
 *
 * Each NAME=JSON is a configuration: its TANDEM_* environment as a JSON object, e.g.
 * `lanes2='{"TANDEM_SESSION_CONCURRENCY":"2","TANDEM_INTRA_OP_THREADS":"1"}'`; `base={}` is the origin's
 * defaults (the default list is `base={}` alone). The key `_root` runs the origin of another checkout
 * (`{"_root":"/tmp/before"}`, a `git archive` of the commit to compare with, its node_modules linked), so a
 * code change is measured beside the code before it. `--cpu-prof DIR` starts every origin with
 * `node --cpu-prof` (main thread and session threads), profiles written to DIR when it stops. `--raw`
 * adds raw onnxruntime-node at batch 64 with the origin's threading and with the fastest one, measured
 * before any server starts.
 */
import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { launch, parseJsonLine, type ChildService } from '../stack/child-process.ts';
import { runClosedLoop } from './lib/autocannon-run.ts';
import { benchRepository } from './lib/bench-repository.ts';
import { inferTarget, probe } from './lib/bodies.ts';
import { breakdown, readMetrics, waitIdle } from './lib/origin-metrics.ts';
import { sweepRaw } from './lib/raw-ort.ts';
import { round } from './lib/stats.ts';
import { formatTable } from './lib/table.ts';

const TOKEN = 'bench-inference-token';
const ROOT = resolve(import.meta.dirname, '..');

interface Sample {
  rps: number;
  p95: number;
  serverCores: number;
  genCores: number;
  rowsPerRun: number;
  /** Share of the window a batch was running (summed over lanes). */
  busy: number;
  /** Mean wait in the batching queue, mean compute time of one batch, mean server-side request time (ms). */
  queueMs: number;
  computeMs: number;
  serverMs: number;
  /** CPU microseconds per request: the main thread (HTTP, codec, batching) and every other thread (onnxruntime). */
  mainUs: number;
  otherUs: number;
  /** Rows answered per CPU-second of the server process. */
  rowsPerCpuS: number;
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      model: { type: 'string', default: 'large-classifier' },
      concurrency: { type: 'string', default: '64' },
      rounds: { type: 'string', default: '5' },
      duration: { type: 'string', default: '3' },
      warmup: { type: 'string', default: '1' },
      'cpu-prof': { type: 'string' },
      raw: { type: 'boolean' },
    },
  });
  const configs = (positionals.length > 0 ? positionals : ['base={}']).map((p) => {
    const at = p.indexOf('=');
    if (at <= 0) throw new Error(`a configuration is NAME=JSON, got "${p}"`);
    const { _root: root, ...env } = JSON.parse(p.slice(at + 1)) as Record<string, string>;
    return { name: p.slice(0, at), env, root: resolve(root ?? ROOT) };
  });
  const connections = Number(values.concurrency);
  const rounds = Number(values.rounds);
  const duration = Number(values.duration);
  const warmup = Number(values.warmup);
  const profDir = values['cpu-prof'] ? resolve(values['cpu-prof']) : undefined;
  if (profDir) await mkdir(profDir, { recursive: true });
  progress(
    `load average ${loadavg()
      .map((v) => v.toFixed(2))
      .join(' ')}`,
  );

  const repo = await benchRepository([values.model]);
  const model = repo.models[0]!;
  try {
    if (values.raw) {
      for (const [label, config] of [
        ['origin threading (intra-op 0, no spinning)', { intraOpThreads: 0, parallel: 1, spinning: false }],
        ['intra-op 0, spinning', { intraOpThreads: 0, parallel: 1, spinning: true }],
        ['intra-op 1, 2 in flight', { intraOpThreads: 1, parallel: 2, spinning: false }],
        ['intra-op 1, 2 sessions', { intraOpThreads: 1, parallel: 2, spinning: false, lanes: 2 }],
      ] as const) {
        const samples: string[] = [];
        for (let r = 0; r < Math.max(2, Math.ceil(rounds / 2)); r++) {
          const { best } = await sweepRaw(model.artifactPath, model.variant.inputs, { batches: [64], seconds: duration / 2, sweep: config });
          samples.push(`${best.rows_per_s} rows/s on ${best.cpu_cores} cores (${best.rows_per_cpu_s} rows/cpu-s)`);
        }
        progress(`raw batch 64, ${label}: ${samples.join('; ')}`);
      }
    }
    const servers: { name: string; origin: ChildService }[] = [];
    try {
      for (const config of configs) {
        const origin = await launch({
          name: config.name,
          command: process.execPath,
          args: [...(profDir ? ['--cpu-prof', '--cpu-prof-dir', profDir] : []), '--import', 'tsx', join(config.root, 'origin/main.ts'), '--port', '0'],
          cwd: config.root,
          failFromLine: (line) => (parseJsonLine(line)?.event === 'model_refused' ? line : undefined),
          env: {
            TANDEM_MODEL_REPOSITORY: repo.repository,
            TANDEM_TRUSTED_KEYS: repo.trustedKeys,
            TANDEM_ORIGIN_TOKEN: TOKEN,
            TANDEM_ADMIN_TOKEN: 'bench-admin-token',
            TANDEM_DRAIN_TIMEOUT_MS: '3000',
            ...config.env,
          },
          scrubTandemEnv: true,
        });
        servers.push({ name: config.name, origin });
        progress(`${config.name}: ${origin.url} ${JSON.stringify(config.env)}${config.root === ROOT ? '' : ` (${config.root})`}`);
      }
      const samples = new Map<string, Sample[]>(configs.map((c) => [c.name, []]));
      for (let r = 0; r < rounds; r++) {
        for (const { name, origin } of servers) {
          const target = inferTarget(origin.url, model.id, model.variant.inputs, 'binary', TOKEN);
          await probe(target);
          await waitIdle(origin.url);
          let start: { at: number; cpu: number; main: number; gen: NodeJS.CpuUsage; m: Awaited<ReturnType<typeof readMetrics>> } | undefined;
          let end: typeof start;
          const load = await runClosedLoop(target, {
            connections,
            warmupSeconds: warmup,
            durationSeconds: duration,
            onWindow: async (edge) => {
              const mark = {
                at: performance.now(),
                cpu: origin.cpuSeconds() ?? 0,
                main: mainThreadCpu(origin.pid),
                gen: process.cpuUsage(),
                m: await readMetrics(origin.url, model.id),
              };
              if (edge === 'start') start = mark;
              else end = mark;
            },
          });
          const seconds = (end!.at - start!.at) / 1000;
          const cpu = end!.cpu - start!.cpu;
          const gen = (end!.gen.user + end!.gen.system - start!.gen.user - start!.gen.system) / 1e6;
          const sample: Sample = {
            rps: load.throughput_rps ?? 0,
            p95: load.p95_ms ?? Number.NaN,
            serverCores: cpu / seconds,
            genCores: gen / seconds,
            rowsPerRun: breakdown(start!.m, end!.m).mean_batch_rows ?? 0,
            busy: breakdown(start!.m, end!.m).compute_busy ?? 0,
            queueMs: breakdown(start!.m, end!.m).queue_ms_mean ?? Number.NaN,
            computeMs: breakdown(start!.m, end!.m).compute_ms_per_batch ?? Number.NaN,
            serverMs: breakdown(start!.m, end!.m).server_ms_mean ?? Number.NaN,
            mainUs: ((end!.main - start!.main) / load.requests) * 1e6,
            otherUs: ((cpu - (end!.main - start!.main)) / load.requests) * 1e6,
            rowsPerCpuS: cpu > 0 ? load.requests / cpu : 0,
          };
          samples.get(name)!.push(sample);
          progress(
            `round ${r + 1} ${name}: ${sample.rps} req/s, p95 ${sample.p95} ms, server ${sample.serverCores.toFixed(2)} cores, gen ${sample.genCores.toFixed(2)}, ${sample.rowsPerRun} rows/run, busy ${sample.busy}, queue ${sample.queueMs} ms, batch ${sample.computeMs} ms, server ${sample.serverMs} ms, cpu µs/req main ${sample.mainUs.toFixed(0)} other ${sample.otherUs.toFixed(0)}, ${sample.rowsPerCpuS.toFixed(0)} rows/cpu-s, errors ${load.errors}, non2xx ${load.non2xx}`,
          );
        }
      }
      const base = median(samples.get(configs[0]!.name)!.map((s) => s.rps));
      const rows = configs.map(({ name }) => {
        const list = samples.get(name)!;
        const med = (pick: (s: Sample) => number) => round(median(list.map(pick)), 2);
        return [
          name,
          round(Math.min(...list.map((s) => s.rps)), 1),
          med((s) => s.rps),
          round(median(list.map((s) => s.rps)) / base, 3),
          med((s) => s.p95),
          med((s) => s.serverCores),
          med((s) => s.genCores),
          med((s) => s.rowsPerRun),
          med((s) => s.busy),
          med((s) => s.queueMs),
          med((s) => s.computeMs),
          med((s) => s.serverMs),
          med((s) => s.mainUs),
          med((s) => s.otherUs),
          med((s) => s.rowsPerCpuS),
        ];
      });
      process.stdout.write(
        `\n${model.id} binary c=${connections}, ${rounds} rounds of ${duration} s, interleaved; load average now ${loadavg()
          .map((v) => v.toFixed(2))
          .join(' ')}\n`,
      );
      process.stdout.write(
        `${formatTable(['config', 'min req/s', 'median req/s', `/ ${configs[0]!.name}`, 'p95 ms', 'srv cores', 'gen cores', 'rows/run', 'busy', 'q ms', 'batch ms', 'srv ms', 'main µs/req', 'other µs/req', 'rows/cpu-s'], rows)}\n`,
      );
    } finally {
      await Promise.all(servers.map((s) => s.origin.stop()));
    }
  } finally {
    await repo.cleanup();
  }
}

/** CPU seconds of the process's main thread (its JavaScript event loop) on Linux, else NaN. */
function mainThreadCpu(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/task/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function progress(text: string): void {
  process.stderr.write(`${text}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:origin:compare failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
