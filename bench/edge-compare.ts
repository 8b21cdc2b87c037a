/**
 * `npm run bench:edge:compare`: Worker code side by side, and where one request's time goes in it. One
 * origin; one edge in workerd (stack/edge-miniflare.ts, the path issue 15's goals judge) per checkout
 * named; the same mlp-classifier inference as `bench:edge` driven at the origin directly and through each
 * edge, the rounds interleaved (direct A B direct A B ...) so a burst of load from elsewhere hits each about
 * equally. Per edge: p50 added over direct in the same round, req/s over direct's, the workerd process's CPU
 * per request (every thread: the HTTP server, the isolate, the subrequest), and what the Worker's own
 * request log says (`total_ms`, `upstream_ms`: in workerd the clock moves only across I/O, so these time
 * the waits, not the CPU).
 *
 *   npm run bench:edge:compare -- [--rounds 3] [--duration 3] [--connections 8] [--cpu-prof DIR] [NAME=DIR ...]
 *
 * NAME=DIR is a checkout whose Worker runs (`before=/tmp/before`: a `git archive` of the commit to compare
 * with, its node_modules linked); `now=.` is this one (the default list). A DIR ending in `+direct` serves that
 * Worker on a socket of its own, without Miniflare's entry worker in front (stack/edge-miniflare.ts `direct`). Vars, secrets and R2 are this
 * checkout's for every edge. `--cpu-prof DIR` then profiles each edge's isolate through the DevTools
 * protocol during one more run at one connection, writes DIR/<name>.cpuprofile and prints the busy time by
 * stage: each sample charged to the innermost source module of ours on its stack (the bundle's `// path`
 * comments name them), else to hono, else to what V8 calls it ((program): workerd's own C++ on the
 * isolate's thread, such as parsing and writing HTTP; (garbage collector)).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { DEFAULT_REPOSITORY } from '../models/build.ts';
import { processCpuSeconds } from '../stack/child-process.ts';
import { DEV_API_KEY, DEV_API_KEYS, DEV_ORIGIN_TOKEN } from '../stack/dev-credentials.ts';
import { startEdgeInWorkerd, type WorkerdEdge } from '../stack/edge-miniflare.ts';
import { freePort } from '../stack/edge-process.ts';
import { startDevOrigin } from './lib/dev-origin.ts';
import { measure, type Measurement, type Target } from './lib/edge-measure.ts';
import { percentile, round } from './lib/stats.ts';
import { formatTable } from './lib/table.ts';

interface Edge {
  name: string;
  edge: WorkerdEdge;
  pid: number | undefined;
  inspectorPort: number;
  /** The Worker's request log lines since the last `take()`. */
  lines: { total: number[]; upstream: number[] };
}

interface Cell {
  m: Measurement;
  /** CPU µs per answered request of the process serving this path (workerd, or the origin for direct). */
  cpuUs: number;
  /** Origin CPU µs per request in the same run. */
  originUs: number;
  /** Medians of the Worker's `total_ms` and `upstream_ms` (edges only). */
  totalMs?: number;
  upstreamMs?: number;
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      rounds: { type: 'string', default: '3' },
      duration: { type: 'string', default: '3' },
      connections: { type: 'string', default: '8' },
      'cpu-prof': { type: 'string' },
    },
  });
  const rounds = Number(values.rounds);
  const duration = Number(values.duration);
  const connections = Number(values.connections);
  const configs = (positionals.length > 0 ? positionals : ['now=.']).map((p) => {
    const at = p.indexOf('=');
    if (at < 1) throw new Error(`expected NAME=DIR, got ${p}`);
    const dir = p.slice(at + 1);
    return { name: p.slice(0, at), root: resolve(dir.replace(/\+direct$/, '')), direct: dir.endsWith('+direct') };
  });

  const { origin, trustedKeys } = await startDevOrigin();
  const edges: Edge[] = [];
  try {
    // One at a time, so each workerd process is told apart by its pid.
    for (const { name, root, direct } of configs) {
      const before = workerdPids();
      const inspectorPort = await freePort();
      const lines: Edge['lines'] = { total: [], upstream: [] };
      const edge = await startEdgeInWorkerd({
        origins: [origin.url],
        repository: DEFAULT_REPOSITORY,
        trustedKeys,
        originToken: DEV_ORIGIN_TOKEN,
        apiKeys: [...DEV_API_KEYS],
        workerConfig: join(root, 'wrangler.toml'),
        direct,
        ...(values['cpu-prof'] ? { inspectorPort } : {}),
        onLine: (line) => {
          if (!line.startsWith('{"event":"request"')) return;
          const entry = JSON.parse(line) as { total_ms?: number; upstream_ms?: number };
          if (entry.total_ms !== undefined) lines.total.push(entry.total_ms);
          if (entry.upstream_ms !== undefined) lines.upstream.push(entry.upstream_ms);
        },
      });
      const pid = [...workerdPids()].find((p) => !before.has(p));
      edges.push({ name, edge, pid, inspectorPort, lines });
    }

    const body = JSON.stringify({ inputs: [{ name: 'x', shape: [1, 256], datatype: 'FP32', data: Array.from({ length: 256 }, (_, i) => Math.sin(i)) }] });
    const path = '/v2/models/mlp-classifier/infer';
    const direct: Target = { url: `${origin.url}${path}`, body, headers: { 'content-type': 'application/json', authorization: `Bearer ${DEV_ORIGIN_TOKEN}` } };
    const viaEdge = (e: Edge): Target => ({
      url: `${e.edge.url}${path}`,
      body,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${DEV_API_KEY}`, 'x-client-id': 'bench' },
    });
    const paths: { name: string; target: Target; edge?: Edge }[] = [
      { name: 'direct', target: direct },
      ...edges.map((e) => ({ name: e.name, target: viaEdge(e), edge: e })),
    ];

    const run = async (p: (typeof paths)[number], conns: number, seconds: number): Promise<Cell> => {
      const pid = p.edge ? p.edge.pid : origin.pid;
      if (p.edge) {
        p.edge.lines.total.length = 0;
        p.edge.lines.upstream.length = 0;
      }
      const cpu0 = pid ? processCpuSeconds(pid) : undefined;
      const origin0 = origin.cpuSeconds();
      const m = await measure(p.target, conns, seconds);
      const cpu1 = pid ? processCpuSeconds(pid) : undefined;
      const origin1 = origin.cpuSeconds();
      const perReq = (a: number | undefined, b: number | undefined) =>
        a === undefined || b === undefined ? Number.NaN : ((b - a) * 1e6) / Math.max(1, m.requests);
      const cell: Cell = { m, cpuUs: perReq(cpu0, cpu1), originUs: perReq(origin0, origin1) };
      if (p.edge) {
        cell.totalMs = percentile(p.edge.lines.total, 50);
        cell.upstreamMs = percentile(p.edge.lines.upstream, 50);
      }
      return cell;
    };

    for (const p of paths) await run(p, 1, 2);
    const cells = new Map<string, { one: Cell[]; many: Cell[] }>(paths.map((p) => [p.name, { one: [], many: [] }]));
    for (let r = 0; r < rounds; r++) {
      process.stderr.write(`round ${r + 1}/${rounds} (load average ${loadavg()[0]!.toFixed(1)})\n`);
      for (const p of paths) cells.get(p.name)!.one.push(await run(p, 1, duration));
      for (const p of paths) cells.get(p.name)!.many.push(await run(p, connections, duration));
      // The table so far after each round, so a run cut short still says something.
      printTable(r + 1);
    }

    function printTable(done: number): void {
      const median = (xs: number[]) => percentile(xs.filter(Number.isFinite), 50);
      const min = (xs: number[]) => Math.min(...xs.filter(Number.isFinite));
      const directOf = cells.get('direct')!;
      const rows = paths.map(({ name }) => {
        const { one, many } = cells.get(name)!;
        const added = one.map((c, i) => c.m.p50 - directOf.one[i]!.m.p50);
        const ratio = many.map((c, i) => c.m.rps / directOf.many[i]!.m.rps);
        return [
          name,
          round(median(one.map((c) => c.m.p50)), 3),
          round(min(one.map((c) => c.m.p50)), 3),
          name === 'direct' ? null : round(median(added), 3),
          round(median(one.map((c) => c.m.p99)), 2),
          round(median(one.map((c) => c.cpuUs)), 0),
          name === 'direct' ? null : round(median(one.map((c) => c.totalMs ?? Number.NaN)), 3),
          name === 'direct' ? null : round(median(one.map((c) => c.upstreamMs ?? Number.NaN)), 3),
          round(median(many.map((c) => c.m.rps)), 0),
          name === 'direct' ? null : round(median(ratio), 3),
          round(median(many.map((c) => c.m.p50)), 2),
          round(median(many.map((c) => c.cpuUs)), 0),
          round(median(many.map((c) => c.originUs)), 0),
          [...one, ...many].reduce((n, c) => n + c.m.errors, 0),
        ];
      });
      process.stdout.write(
        `\n${done} of ${rounds} rounds of ${duration} s, interleaved; medians over the rounds (load average now ${loadavg()
          .map((l) => l.toFixed(1))
          .join(' ')})\n`,
      );
      process.stdout.write(
        `${formatTable(
          [
            'path',
            'p50 ms',
            'min p50',
            'added p50',
            'p99 ms',
            'cpu µs/req',
            'worker total_ms',
            'upstream_ms',
            `req/s c=${connections}`,
            '/ direct',
            `p50 c=${connections}`,
            `cpu µs/req c=${connections}`,
            'origin µs/req',
            'errors',
          ],
          rows,
        )}\n`,
      );
      process.stdout.write(
        `(cpu µs/req: the process serving that path, every thread (workerd for an edge, the origin for direct); origin µs/req: the origin's in the c=${connections} runs)\n`,
      );
    }

    if (values['cpu-prof']) {
      const dir = resolve(values['cpu-prof']);
      await mkdir(dir, { recursive: true });
      for (const p of paths) {
        if (!p.edge) continue;
        const profile = await profileDuring(p.edge.inspectorPort, () => measure(p.target, 1, duration));
        await writeFile(join(dir, `${p.name}.cpuprofile`), JSON.stringify(profile.profile));
        process.stdout.write(`\n${p.name}: isolate profile at 1 connection, ${profile.requests} requests (${join(dir, `${p.name}.cpuprofile`)})\n`);
        process.stdout.write(
          `${formatTable(['stage', 'share of busy', 'µs per request'], stages(profile.profile, readFileSync(p.edge.edge.bundle, 'utf8'), profile.requests))}\n`,
        );
      }
    }
  } finally {
    await Promise.all([...edges.map((e) => e.edge.stop()), origin.stop()]);
  }
}

/** Pids of workerd processes whose parent is this process (Miniflare's children). */
function workerdPids(): Set<number> {
  const out = new Set<number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (name === 'workerd' && ppid === process.pid) out.add(Number(entry));
    } catch {
      // Gone meanwhile.
    }
  }
  return out;
}

interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }[];
  samples: number[];
  timeDeltas: number[];
}

/** Profiles the isolate behind `port` (Miniflare's inspector proxy) while `load` runs. */
async function profileDuring(port: number, load: () => Promise<Measurement>): Promise<{ profile: CpuProfile; requests: number }> {
  const targets = (await (await fetch(`http://127.0.0.1:${port}/json`)).json()) as { webSocketDebuggerUrl: string }[];
  const url = targets[0]?.webSocketDebuggerUrl;
  if (!url) throw new Error(`no inspector target on port ${port}`);
  const ws = new WebSocket(url);
  await new Promise((done, fail) => ws.once('open', done).once('error', fail));
  let id = 0;
  const pending = new Map<number, (result: unknown) => void>();
  ws.on('message', (data) => {
    const message = JSON.parse(String(data)) as { id?: number; result?: unknown };
    if (message.id !== undefined) pending.get(message.id)?.(message.result);
  });
  const send = (method: string, params: Record<string, unknown> = {}) =>
    new Promise<unknown>((done) => {
      const n = ++id;
      pending.set(n, done);
      ws.send(JSON.stringify({ id: n, method, params }));
    });
  try {
    await send('Profiler.enable');
    await send('Profiler.setSamplingInterval', { interval: 100 });
    await send('Profiler.start');
    const m = await load();
    const { profile } = (await send('Profiler.stop')) as { profile: CpuProfile };
    return { profile, requests: m.requests };
  } finally {
    ws.close();
  }
}

/**
 * Busy time by stage: each sample charged to the innermost frame of ours on its stack (named by the bundle
 * module its line falls in), else to hono, else to the leaf's own name. `(idle)` is left out of the shares.
 */
export function stages(profile: CpuProfile, bundle: string, requests: number): (string | number | null)[][] {
  const starts: { line: number; module: string }[] = [];
  bundle.split('\n').forEach((text, line) => {
    const m = /^\/\/ ((?:worker|protocol|node_modules)\/\S+)$/.exec(text);
    if (m) starts.push({ line, module: m[1]!.replace(/^node_modules\/(hono)\/.*$/, '$1').replace(/^node_modules\/([^/]+)\/.*$/, 'node_modules/$1') });
  });
  const moduleAt = (line: number) => {
    let lo = 0;
    let hi = starts.length - 1;
    let found: string | undefined;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (starts[mid]!.line <= line) {
        found = starts[mid]!.module;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found;
  };
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const stageOf = new Map<number, string>();
  const classify = (leaf: number): string => {
    const cached = stageOf.get(leaf);
    if (cached) return cached;
    let hono: string | undefined;
    let stage: string | undefined;
    for (let at: number | undefined = leaf; at !== undefined; at = parent.get(at)) {
      const frame = byId.get(at)!.callFrame;
      const module = frame.url ? moduleAt(frame.lineNumber) : undefined;
      if (module?.startsWith('worker/') || module?.startsWith('protocol/')) {
        stage = module;
        break;
      }
      if (module && !hono) hono = module;
    }
    const name = byId.get(leaf)!.callFrame.functionName;
    const result = stage ?? hono ?? (name.startsWith('(') ? name : `(native) ${name || 'anonymous'}`);
    stageOf.set(leaf, result);
    return result;
  };
  const totals = new Map<string, number>();
  profile.samples.forEach((node, i) => {
    const s = classify(node);
    totals.set(s, (totals.get(s) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  const busy = [...totals].filter(([s]) => s !== '(idle)').reduce((sum, [, us]) => sum + us, 0);
  return [...totals]
    .sort((a, b) => b[1] - a[1])
    .map(([s, us]) => [s, s === '(idle)' ? null : round((us / busy) * 100, 1), round(us / Math.max(1, requests), 1)]);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:edge:compare failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
