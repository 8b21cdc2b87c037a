/**
 * `npm run bench`: every tier's benchmark in one go, then one summary table. Runs bench/origin.ts,
 * bench/edge.ts and bench/client.ts one after another as child processes (they would share the same cores
 * if run at once), each printing its own tables; then reads the results files they wrote, prints the summary
 * (lib/summary.ts) and writes it to bench/results/summary.json. A tier that fails is reported in the table
 * with its exit code and the others still run; the command then exits 1.
 *
 *   npm run bench -- [--quick] [--duration S] [--tiers origin,edge,client]
 *
 * | flag | origin | edge | client |
 * | --- | --- | --- | --- |
 * | --quick | --quick | --duration 2 | BENCH_CLIENT_RUNS=300 |
 * | --duration S | --duration S | --duration S | - |
 *
 * Each tier's other settings come from its environment variables (BENCH_* for the origin, see
 * lib/options.ts; BENCH_CLIENT_RUNS for the client), which pass through.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { arch, cpus, platform } from 'node:os';
import { dirname, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { TIERS, buildSummary, renderSummary, type Tier, type TierOutcome } from './lib/summary.ts';

const ROOT = resolve(import.meta.dirname, '..');
const SUMMARY_FILE = resolve(ROOT, 'bench/results/summary.json');
const QUICK_EDGE_DURATION_S = '2';
const QUICK_CLIENT_RUNS = '300';

interface TierRun {
  args: string[];
  env: Record<string, string>;
  /** The results file the tier writes. */
  results: string;
}

function tierRun(tier: Tier, quick: boolean, duration: string | undefined): TierRun {
  switch (tier) {
    case 'origin':
      return {
        args: [...(quick ? ['--quick'] : []), ...(duration ? ['--duration', duration] : [])],
        env: {},
        results: resolve(ROOT, process.env.BENCH_OUT || 'bench/results/origin.json'),
      };
    case 'edge':
      return {
        args: [...(quick ? ['--rounds', '1'] : []), ...(duration ? ['--duration', duration] : quick ? ['--duration', QUICK_EDGE_DURATION_S] : [])],
        env: {},
        results: resolve(ROOT, 'bench/results/edge.json'),
      };
    case 'client':
      return {
        args: [],
        env: quick && !process.env.BENCH_CLIENT_RUNS ? { BENCH_CLIENT_RUNS: QUICK_CLIENT_RUNS } : {},
        results: resolve(ROOT, 'bench/results/client.json'),
      };
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { quick: { type: 'boolean' }, duration: { type: 'string' }, tiers: { type: 'string' } },
  });
  const quick = values.quick ?? false;
  const tiers = parseTiers(values.tiers);
  if (values.duration !== undefined && !(Number(values.duration) > 0)) throw new Error(`--duration must be a number of seconds, got "${values.duration}"`);

  // A signal stops the tier running now (its own cleanup stops its servers) and skips the rest; the summary
  // of what ran is still printed. Ctrl-C reaches the child through the terminal's process group already.
  let stopped: NodeJS.Signals | undefined;
  let current: ChildProcess | undefined;
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      stopped ??= signal;
      if (signal !== 'SIGINT') current?.kill(signal);
    });
  }

  const outcomes: TierOutcome[] = [];
  for (const tier of tiers) {
    if (stopped) {
      outcomes.push({ tier, status: 'not-run', exit_code: null, seconds: null, detail: stopped });
      continue;
    }
    const run = tierRun(tier, quick, values.duration);
    process.stdout.write(`\n== bench:${tier}${run.args.length ? ` ${run.args.join(' ')}` : ''} ==\n\n`);
    const startedAt = Date.now();
    const child = spawn(process.execPath, ['--import', 'tsx', `bench/${tier}.ts`, ...run.args], {
      cwd: ROOT,
      stdio: 'inherit',
      env: { ...process.env, ...run.env },
    });
    current = child;
    const { code, signal } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) => {
      child.once('error', (err) => {
        process.stderr.write(`bench: could not start bench/${tier}.ts: ${err.message}\n`);
        done({ code: null, signal: null });
      });
      child.once('exit', (exitCode, exitSignal) => done({ code: exitCode, signal: exitSignal }));
    });
    current = undefined;
    const seconds = Math.round((Date.now() - startedAt) / 100) / 10;
    if (code !== 0) {
      outcomes.push({ tier, status: 'failed', exit_code: code, seconds, ...(signal ? { detail: signal } : {}) });
      continue;
    }
    outcomes.push({ tier, exit_code: code, seconds, ...(await readResults(run.results, startedAt)) });
  }

  const summary = buildSummary(
    outcomes,
    { cpu: cpus()[0]?.model.trim() ?? 'unknown', cores: cpus().length, node: process.version, platform: platform(), arch: arch() },
    quick,
    new Date(),
  );
  process.stdout.write(`\n${renderSummary(summary)}`);
  await mkdir(dirname(SUMMARY_FILE), { recursive: true });
  await writeFile(SUMMARY_FILE, `${JSON.stringify(summary, null, 2)}\n`);
  process.stdout.write(`\nwrote ${relative(ROOT, SUMMARY_FILE)}\n`);

  if (stopped) return stopped === 'SIGINT' ? 130 : 143;
  return outcomes.every((o) => o.status === 'ok') ? 0 : 1;
}

/** The tier's results file, if this run wrote it: one older than the run is a previous run's, not shown. */
async function readResults(file: string, startedAt: number): Promise<Pick<TierOutcome, 'status' | 'results' | 'detail'>> {
  const name = relative(ROOT, file);
  const info = await stat(file).catch(() => undefined);
  if (!info) return { status: 'no-results', detail: `${name} not written` };
  if (info.mtimeMs < startedAt - 1000) return { status: 'no-results', detail: `${name} is from an earlier run` };
  try {
    return { status: 'ok', results: JSON.parse(await readFile(file, 'utf8')) };
  } catch (err) {
    return { status: 'no-results', detail: `${name} unreadable: ${err instanceof Error ? err.message : String(err)}` };
  }
}

function parseTiers(value: string | undefined): Tier[] {
  if (value === undefined || value === '') return [...TIERS];
  const names = value.split(',').map((v) => v.trim());
  const unknown = names.filter((n) => !TIERS.includes(n as Tier));
  if (unknown.length > 0 || names.length === 0) throw new Error(`--tiers takes a comma-separated list of ${TIERS.join(', ')}; got "${value}"`);
  // Always in the canonical order, so the summary reads the same however the flag was written.
  return TIERS.filter((t) => names.includes(t));
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
