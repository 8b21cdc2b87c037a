/**
 * `npm run bench:edge`: what the edge adds to an inference. Starts one origin and three Workers in front of
 * it, all on the built-in repository with dev credentials: the edge straight in workerd through Miniflare
 * (stack/edge-miniflare.ts, what production runs: the row the goals judge), the floor (bench/edge-floor/: a
 * Worker that only relays, run the same way: what workerd and the extra hop cost before the edge does
 * anything) and the edge under wrangler's dev engine (stack/edge-runtime.ts: its local proxy worker in front
 * of workerd, no inspector). Then drives the same mlp-classifier request straight at the origin and through
 * each, in turn, with autocannon: one connection for latency (no queueing), then several for throughput,
 * in rounds (direct, edge, floor, dev engine, then again), so that the machine's drift over a run reaches
 * every path alike. Prints each path's median over the rounds, the added latency and the throughput ratio
 * (medians of the rounds' own, each round's beside them); writes bench/results/edge.json (the `*_edge`
 * fields are the workerd path, `*_floor` the relay-only Worker, `*_wrangler` the dev engine).
 *
 *   npm run bench:edge -- [--rounds 3] [--duration 2] [--connections 8]   (duration: seconds per path per round)
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_REPOSITORY } from '../models/build.ts';
import { DEV_API_KEY, DEV_API_KEYS, DEV_ORIGIN_TOKEN } from '../stack/dev-credentials.ts';
import { startEdgeInWorkerd } from '../stack/edge-miniflare.ts';
import { startEdge } from '../stack/edge-process.ts';
import { GOALS } from './lib/goals.ts';
import { startDevOrigin } from './lib/dev-origin.ts';
import { measure, type Measurement } from './lib/edge-measure.ts';
import { median } from './lib/stats.ts';

const ROOT = resolve(import.meta.dirname, '..');

type Path = 'direct' | 'workerd' | 'floor' | 'wrangler';
const PATHS: readonly Path[] = ['direct', 'workerd', 'floor', 'wrangler'];

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { rounds: { type: 'string' }, duration: { type: 'string' }, connections: { type: 'string' } } });
  const rounds = Number(values.rounds ?? 3);
  const duration = Number(values.duration ?? 2);
  const connections = Number(values.connections ?? 8);
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds must be a whole number of at least 1, got "${values.rounds}"`);

  const { origin, trustedKeys } = await startDevOrigin();
  const edgeOptions = { origins: [origin.url], repository: DEFAULT_REPOSITORY, trustedKeys, originToken: DEV_ORIGIN_TOKEN, apiKeys: [...DEV_API_KEYS] };
  // The Workers start together (each bundles or seeds its own copy); if one fails, the others are stopped too.
  const started = await Promise.allSettled([
    // On a socket of its own: Miniflare's entry worker, a second isolate in front that production lacks, is left out.
    startEdgeInWorkerd({ ...edgeOptions, direct: true }),
    startEdgeInWorkerd({ ...edgeOptions, direct: true, workerConfig: join(ROOT, 'bench', 'edge-floor', 'wrangler.toml') }),
    // The dev engine without the DevTools inspector that `wrangler dev` always starts: it taxes every
    // subrequest and console line, and the deployed Worker has none.
    startEdge({ ...edgeOptions, logLevel: 'warn', inspector: false }),
  ]);
  const [workerdStart, floorStart, wranglerStart] = started;
  if (workerdStart.status === 'rejected' || floorStart.status === 'rejected' || wranglerStart.status === 'rejected') {
    await Promise.all([...started.flatMap((s) => (s.status === 'fulfilled' ? [s.value.stop()] : [])), origin.stop()]);
    throw started.find((s) => s.status === 'rejected')?.reason;
  }
  const workerd = workerdStart.value;
  const floor = floorStart.value;
  const wrangler = wranglerStart.value;
  try {
    const body = JSON.stringify({ inputs: [{ name: 'x', shape: [1, 256], datatype: 'FP32', data: Array.from({ length: 256 }, (_, i) => Math.sin(i)) }] });
    const path = '/v2/models/mlp-classifier/infer';
    const viaEdge = (url: string) => ({
      url: `${url}${path}`,
      body,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${DEV_API_KEY}`, 'x-client-id': 'bench' },
    });
    const targets = {
      direct: { url: `${origin.url}${path}`, body, headers: { 'content-type': 'application/json', authorization: `Bearer ${DEV_ORIGIN_TOKEN}` } },
      workerd: viaEdge(workerd.url),
      floor: viaEdge(floor.url),
      wrangler: viaEdge(wrangler.url),
    } satisfies Record<Path, unknown>;
    const paths = PATHS;

    // Warm every path (JIT, connection pools, the edge's readiness checks), then take them in turn, round
    // after round.
    for (const p of paths) await measure(targets[p], 1, 2);
    const latencyRounds: Record<Path, Measurement>[] = [];
    const loadedRounds: Record<Path, Measurement>[] = [];
    for (let r = 0; r < rounds; r++) {
      const latencyNow = {} as Record<Path, Measurement>;
      for (const p of paths) latencyNow[p] = await measure(targets[p], 1, duration);
      const loadedNow = {} as Record<Path, Measurement>;
      for (const p of paths) loadedNow[p] = await measure(targets[p], connections, duration);
      latencyRounds.push(latencyNow);
      loadedRounds.push(loadedNow);
    }
    const latency = medianRound(latencyRounds);
    const loaded = medianRound(loadedRounds);

    const round = (n: number) => Math.round(n * 1000) / 1000;
    const figures = (suffix: string, p: Path) => ({
      [`p50_ms_${suffix}`]: round(latency[p].p50),
      [`p95_ms_${suffix}`]: round(latency[p].p95),
      [`p99_ms_${suffix}`]: round(latency[p].p99),
      [`rps_${suffix}_1conn`]: round(latency[p].rps),
      [`rps_${suffix}`]: round(loaded[p].rps),
      [`p50_ms_${suffix}_loaded`]: round(loaded[p].p50),
      [`p95_ms_${suffix}_loaded`]: round(loaded[p].p95),
      [`p99_ms_${suffix}_loaded`]: round(loaded[p].p99),
    });
    // Each round's difference and ratio against direct in that same round, then their median.
    const addedRounds = (p: Path, q: 'p50' | 'p95' | 'p99') => latencyRounds.map((r) => round(r[p][q] - r.direct[q]));
    const ratioRounds = (p: Path) => loadedRounds.map((r) => round(r[p].rps / r.direct.rps));
    const added = (p: Path, q: 'p50' | 'p95' | 'p99') => median(addedRounds(p, q));
    const results = {
      model: 'mlp-classifier',
      rounds,
      duration_s: duration,
      connections,
      ...figures('direct', 'direct'),
      ...figures('edge', 'workerd'),
      added_p50_ms: added('workerd', 'p50'),
      added_p95_ms: added('workerd', 'p95'),
      added_p99_ms: added('workerd', 'p99'),
      throughput_ratio: median(ratioRounds('workerd')),
      added_p50_ms_rounds: addedRounds('workerd', 'p50'),
      throughput_ratio_rounds: ratioRounds('workerd'),
      ...figures('floor', 'floor'),
      added_p50_ms_floor: added('floor', 'p50'),
      throughput_ratio_floor: median(ratioRounds('floor')),
      added_p50_ms_floor_rounds: addedRounds('floor', 'p50'),
      throughput_ratio_floor_rounds: ratioRounds('floor'),
      ...figures('wrangler', 'wrangler'),
      added_p50_ms_wrangler: added('wrangler', 'p50'),
      added_p95_ms_wrangler: added('wrangler', 'p95'),
      added_p99_ms_wrangler: added('wrangler', 'p99'),
      throughput_ratio_wrangler: median(ratioRounds('wrangler')),
      errors: paths.reduce((n, p) => n + latency[p].errors + loaded[p].errors, 0),
      node: process.version,
      note: 'edge = the Worker bundle in workerd through Miniflare (no proxy, no inspector); floor = a relay-only Worker (bench/edge-floor) run the same way; wrangler = wrangler dev engine (workerd behind its local proxy, no inspector); origin = origin/main.ts under tsx; all on loopback on the same machine, paths taken in turn, in rounds; each figure the median over the rounds, added latency and ratios taken against direct within each round',
    };
    printTable([
      ['1 connection', latency],
      [`${connections} connections`, loaded],
    ]);
    const goalP50 = GOALS.edgeAddedP50Ms.bound;
    const goalRatio = GOALS.edgeThroughputRatio.bound;
    process.stdout.write(
      `\nin workerd the edge adds ${results.added_p50_ms.toFixed(2)} ms at p50 (goal <= ${goalP50}), ${results.added_p95_ms.toFixed(2)} ms at p95 (1 connection); ` +
        `${connections} connections: ${results.throughput_ratio.toFixed(2)} x direct req/s (goal >= ${goalRatio})\n` +
        `a relay-only Worker in workerd (the floor) adds ${results.added_p50_ms_floor.toFixed(2)} ms at p50; ${results.throughput_ratio_floor.toFixed(2)} x direct req/s\n` +
        `under wrangler's dev engine it adds ${results.added_p50_ms_wrangler.toFixed(2)} ms at p50; ${results.throughput_ratio_wrangler.toFixed(2)} x direct req/s\n` +
        `medians of ${rounds} rounds; each round, the edge in workerd: added p50 ${results.added_p50_ms_rounds.join(', ')} ms; ${results.throughput_ratio_rounds.join(', ')} x direct\n`,
    );
    await mkdir(join(ROOT, 'bench', 'results'), { recursive: true });
    await writeFile(join(ROOT, 'bench', 'results', 'edge.json'), `${JSON.stringify(results, null, 2)}\n`);
    process.stdout.write('wrote bench/results/edge.json\n');
  } finally {
    await Promise.all([workerd.stop(), floor.stop(), wrangler.stop(), origin.stop()]);
  }
}

/** Each figure of each path: its median over the rounds; requests and errors summed. */
function medianRound(rounds: Record<Path, Measurement>[]): Record<Path, Measurement> {
  const byPath = {} as Record<Path, Measurement>;
  for (const p of PATHS) {
    const of = (k: 'p50' | 'p95' | 'p99' | 'rps') => median(rounds.map((r) => r[p][k]));
    const sum = (k: 'requests' | 'errors') => rounds.reduce((n, r) => n + r[p][k], 0);
    byPath[p] = { p50: of('p50'), p95: of('p95'), p99: of('p99'), rps: of('rps'), requests: sum('requests'), errors: sum('errors') };
  }
  return byPath;
}

function printTable(rows: [string, Record<Path, Measurement>][]): void {
  const f = (n: number) => n.toFixed(2).padStart(9);
  const names: Record<Path, string> = { direct: 'direct', workerd: 'edge (workerd)', floor: 'relay-only (workerd)', wrangler: 'edge (wrangler dev)' };
  process.stdout.write(
    `\n${'load'.padEnd(15)} ${'path'.padEnd(20)} ${'p50 ms'.padStart(9)} ${'p95 ms'.padStart(9)} ${'p99 ms'.padStart(9)} ${'req/s'.padStart(9)} ${'errors'.padStart(7)}\n`,
  );
  for (const [label, byPath] of rows) {
    for (const p of PATHS) {
      const m = byPath[p];
      process.stdout.write(`${label.padEnd(15)} ${names[p].padEnd(20)} ${f(m.p50)} ${f(m.p95)} ${f(m.p99)} ${f(m.rps)} ${String(m.errors).padStart(7)}\n`);
    }
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:edge failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
