/**
 * `npm run bench:client`: what the client SDK costs on top of onnxruntime-web, in Chromium, through the
 * SDK's real Web Worker: Debian's Chromium (playwright-core, as e2e/ launches it) opens the bench page
 * (bench/client-page/, built by Vite and served on 127.0.0.1 with the edge's routes beside it), and every
 * figure is timed inside the page. The baseline is raw onnxruntime-web in a minimal postMessage worker
 * (bench/client-page/raw-worker.ts): the floor any worker-based SDK pays. Both run the int8
 * mlp-classifier, batch 1, WASM, 1 thread, on the same bytes.
 *
 * - run: `model.run(..., { cache: 'no-store' })` and the raw worker's `session.run`, interleaved in one
 *   page (alternating which goes first), after a warm-up; p50/p95/p99 and sdk p50 / raw p50;
 * - cold load: in a fresh browser context each time (empty IndexedDB and HTTP cache), `createTandem` +
 *   `load` (worker start, manifest verify, download, SHA-256, session) against a new raw worker's fetch +
 *   `InferenceSession.create`; BENCH_CLIENT_COLD pairs, alternating which goes first, median of each;
 * - cache hit: `model.run` of an input answered before (the result cache);
 * - micro-batch: 8 `model.run` callers at once against the same 8 calls one at a time (issue 16):
 *   calls per second and p50 per call, rounds interleaved.
 *
 * Writes bench/results/client.json (the fields bench/lib/summary.ts reads). `BENCH_CLIENT_RUNS` sets the
 * runs per measure (default 2000), `BENCH_CLIENT_COLD` the cold-load pairs (default 3: each
 * compiles onnxruntime-web's 28 MB WASM anew). `BENCH_CLIENT_PROFILE=FILE` writes a CPU profile of the
 * page's main thread during the run measure (`.cpuprofile`, for Chrome DevTools), and prints its busiest
 * functions: where the SDK's main-thread share of a run goes.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { BatchSamples, BenchApi, BenchTarget, Samples } from './client-page/main.ts';
import { startBenchPageServer } from './client-page/server.ts';
import { listModelVersions, readEnvelope } from '../origin/repository.ts';
import { publishFp32DeviceVariant, signedRepository } from '../origin/test-support.ts';
import { loadTrustedKeys } from '../protocol/keys.ts';
import type { Manifest } from '../protocol/manifest.ts';
import { verifyManifest } from '../protocol/signed-manifest.ts';
import { GOALS } from './lib/goals.ts';
import { median, percentiles, round } from './lib/stats.ts';
import { formatTable } from './lib/table.ts';

const MODEL = 'mlp-classifier';
/** The micro-batch row's model: the MLP with its fp32 file as the device variant (dynamic int8 never batches). */
const BATCH_MODEL = 'mlp-fp32-device';
const RUNS = Number(process.env.BENCH_CLIENT_RUNS ?? 2000);
const COLD_PAIRS = Number(process.env.BENCH_CLIENT_COLD ?? 3);
const WARMUP = 50;
const CALLERS = 8;
/** Rounds of CALLERS calls each way: as many calls as RUNS, at least 20 rounds. */
const ROUNDS = Math.max(20, Math.ceil(RUNS / CALLERS));
const CHROMIUM = process.env.TANDEM_CHROMIUM ?? '/usr/bin/chromium';
/** As e2e/support/browser.ts: no sandbox (containers), nothing that phones home. */
const FLAGS = ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

/** The page's bench functions (bench/client-page/main.ts), as `page.evaluate` callbacks reach them. */
type BenchWindow = { bench: BenchApi };

async function openPage(browser: Browser, url: string, target: BenchTarget): Promise<{ page: Page; close: () => Promise<void> }> {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.on('pageerror', (err) => process.stderr.write(`[page] ${err.message}\n`));
  context.on('response', (r) => {
    // The edge's /v1/trust/ routes answer 404 by design here (no root of trust: the keys are pinned).
    if (r.status() >= 400 && !new URL(r.url()).pathname.startsWith('/v1/trust/')) process.stderr.write(`[page] ${r.status()} ${r.url()}\n`);
  });
  page.on('console', (m) => {
    // The 404s are reported above with their URLs; onnxruntime-web's WebGPU probe finds no adapter (WASM only).
    if (/^Failed to load resource: .* 404|^No available adapters/.test(m.text())) return;
    if (m.type() === 'error' || m.type() === 'warning') process.stderr.write(`[page ${m.type()}] ${m.text()}\n`);
  });
  await page.goto(url);
  await page.locator('#status', { hasText: /^ready$/ }).waitFor({ timeout: 60_000 });
  if (!(await page.evaluate(() => crossOriginIsolated))) throw new Error('the bench page is not cross-origin isolated: its clock would be coarse');
  await page.evaluate((t) => (window as unknown as BenchWindow).bench.setTarget(t), target);
  return { page, close: () => context.close() };
}

const p3 = (xs: number[]) => percentiles(xs, [50, 95, 99]).map((v) => round(v, 4)) as [number, number, number];
/**
 * The p50 ratio of each block of `size` consecutive pairs: how far one run's ratio can be trusted. On a
 * 2-core machine it swings from block to block (the workers' threads move between the cores the page and
 * the browser use), far more than the SDK's own share of a run.
 */
function blockRatios(runs: Samples, size: number): number[] {
  const ratios: number[] = [];
  for (let i = 0; i + size <= runs.raw.length; i += size) ratios.push(median(runs.sdk.slice(i, i + size)) / median(runs.raw.slice(i, i + size)));
  return ratios;
}
const BLOCK_PAIRS = 250;
const perSecond = (b: BatchSamples) => (CALLERS * b.roundMs.length * 1000) / b.roundMs.reduce((a, x) => a + x, 0);

/** A CPU profile of the page's main thread (DevTools protocol); `stop` writes it and prints its busiest functions by self time. */
type CpuProfile = { nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[]; samples?: number[] };

/** Prints a profile's busiest functions by self time. */
function printProfile(what: string, file: string, profile: CpuProfile): void {
  const self = new Map<string, number>();
  const total = profile.samples?.length ?? 0;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  for (const id of profile.samples ?? []) {
    const f = byId.get(id)!.callFrame;
    const name = `${f.functionName || '(anonymous)'} ${f.url.split('/').pop()}:${f.lineNumber + 1}`;
    self.set(name, (self.get(name) ?? 0) + 1);
  }
  const top = [...self].sort((a, b) => b[1] - a[1]).slice(0, 25);
  process.stdout.write(`${what} profile (${total} samples) written to ${file}; self time:\n`);
  for (const [name, n] of top) process.stdout.write(`  ${((100 * n) / total).toFixed(1).padStart(5)} %  ${name}\n`);
}

/**
 * CPU profiles of the page's main thread and of each of its Web Workers (the SDK's and the raw one), each
 * written beside `file` (`FILE`, `FILE.<worker name>.cpuprofile`). Playwright's page sessions reach pages
 * only, so the workers are attached through the browser's session, as DevTools does.
 */
async function startProfile(browser: Browser, page: Page): Promise<{ stop(file: string): Promise<void> }> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Profiler.enable');
  await cdp.send('Profiler.setSamplingInterval', { interval: 100 });
  const root = await browser.newBrowserCDPSession();
  const replies = new Map<string, (result: unknown) => void>();
  root.on('Target.receivedMessageFromTarget', ({ sessionId, message }) => {
    const reply = JSON.parse(message) as { id?: number; result?: unknown };
    if (reply.id !== undefined) replies.get(`${sessionId}:${reply.id}`)?.(reply.result);
  });
  let nextId = 0;
  const sendTo = (sessionId: string, method: string, params: object = {}) =>
    new Promise<unknown>((resolve) => {
      const id = ++nextId;
      replies.set(`${sessionId}:${id}`, resolve);
      void root.send('Target.sendMessageToTarget', { sessionId, message: JSON.stringify({ id, method, params }) });
    });
  const { targetInfos } = await root.send('Target.getTargets');
  const workers: { name: string; sessionId: string }[] = [];
  for (const t of targetInfos.filter((t) => t.type === 'worker')) {
    const { sessionId } = await root.send('Target.attachToTarget', { targetId: t.targetId, flatten: false });
    await sendTo(sessionId, 'Profiler.enable');
    await sendTo(sessionId, 'Profiler.setSamplingInterval', { interval: 100 });
    workers.push({ name: (t.title || t.url).replace(/[^\w.-]+/g, '_').slice(0, 40), sessionId });
  }
  await cdp.send('Profiler.start');
  for (const w of workers) await sendTo(w.sessionId, 'Profiler.start');
  return {
    async stop(file) {
      const { profile } = await cdp.send('Profiler.stop');
      await writeFile(file, JSON.stringify(profile));
      printProfile('main-thread', file, profile);
      for (const w of workers) {
        const { profile: wp } = (await sendTo(w.sessionId, 'Profiler.stop')) as { profile: CpuProfile };
        const wFile = `${file}.${w.name}.cpuprofile`;
        await writeFile(wFile, JSON.stringify(wp));
        printProfile(`worker ${w.name}`, wFile, wp);
      }
    },
  };
}

async function main(): Promise<void> {
  const loadBefore = loadavg();
  const repo = await signedRepository([MODEL]);
  await publishFp32DeviceVariant(repo, MODEL, BATCH_MODEL);
  let server: Awaited<ReturnType<typeof startBenchPageServer>> | undefined;
  let browser: Browser | undefined;
  try {
    const trusted = await loadTrustedKeys(repo.trustedKeys);
    const manifests = new Map<string, Manifest>();
    for (const { id, version } of await listModelVersions(repo.repository)) {
      manifests.set(id, (await verifyManifest(await readEnvelope(repo.repository, id, version), trusted)).manifest);
    }
    const manifest = manifests.get(MODEL)!;
    const device = manifest.variants.find((v) => v.tier === 'device')!;
    const input = device.inputs[0]!;
    server = await startBenchPageServer({ repository: repo.repository, manifests });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
    const target: BenchTarget = {
      model: MODEL,
      batchModel: BATCH_MODEL,
      input: input.name,
      features: Number(input.shape[1]),
      artifactUrl: `${server.url}/v1/artifacts/${device.artifact.sha256}`,
      config: {
        edge: server.url,
        publicKeys: JSON.parse(repo.trustedKeys),
        wasmPaths: `${server.url}/ort/`,
        // WASM only, and 1 thread although the page is cross-origin isolated (for its clock): the raw worker's settings.
        capabilities: { webgpu: { available: false, reason: 'bench: WASM only' }, crossOriginIsolated: false },
        persistStorage: false,
        telemetry: false,
      },
    };

    // Cold loads, each in a fresh context (empty IndexedDB, HTTP cache), alternating which goes first.
    const coldSdk: number[] = [];
    const coldRaw: number[] = [];
    for (let i = 0; i < COLD_PAIRS; i++) {
      for (const which of i % 2 === 0 ? (['sdk', 'raw'] as const) : (['raw', 'sdk'] as const)) {
        const { page, close } = await openPage(browser, server.url, target);
        if (which === 'sdk') {
          const cold = await page.evaluate(() => (window as unknown as BenchWindow).bench.coldSdk());
          if (cold.backend !== 'wasm' || cold.fromCache !== false) throw new Error(`cold SDK load: backend ${cold.backend}, fromCache ${cold.fromCache}`);
          coldSdk.push(cold.ms);
        } else {
          coldRaw.push((await page.evaluate(() => (window as unknown as BenchWindow).bench.coldRaw())).ms);
        }
        await page.evaluate(() => (window as unknown as BenchWindow).bench.dispose());
        await close();
      }
    }

    // Warm figures, all in one page: both loaded, then interleaved runs, cache hits, micro-batching.
    const { page, close } = await openPage(browser, server.url, target);
    await page.evaluate(() => (window as unknown as BenchWindow).bench.coldRaw());
    await page.evaluate(() => (window as unknown as BenchWindow).bench.coldSdk());
    const profiling = process.env.BENCH_CLIENT_PROFILE ? await startProfile(browser, page) : undefined;
    const runs: Samples = await page.evaluate(([n, w]) => (window as unknown as BenchWindow).bench.interleaved(n, w), [RUNS, WARMUP] as const);
    if (profiling) await profiling.stop(process.env.BENCH_CLIENT_PROFILE!);
    const hits: number[] = await page.evaluate(([n, w]) => (window as unknown as BenchWindow).bench.cacheHits(n, w), [RUNS, WARMUP] as const);
    const batch = await page.evaluate(([r, c, w]) => (window as unknown as BenchWindow).bench.microbatch(r, c, w), [ROUNDS, CALLERS, 5] as const);
    await page.evaluate(() => (window as unknown as BenchWindow).bench.dispose());
    await close();
    const chromiumVersion = browser.version();

    const [rawP50, rawP95, rawP99] = p3(runs.raw);
    const [sdkP50, sdkP95, sdkP99] = p3(runs.sdk);
    const [hitP50, hitP95, hitP99] = p3(hits);
    const [seqP50, seqP95, seqP99] = p3(batch.sequential.perCall);
    const [conP50, conP95, conP99] = p3(batch.concurrent.perCall);
    const overhead = percentiles(runs.sdk, [50])[0]! / percentiles(runs.raw, [50])[0]!;
    const blocks = blockRatios(runs, BLOCK_PAIRS);
    const coldRatio = median(coldSdk) / median(coldRaw);
    const seqRps = perSecond(batch.sequential);
    const conRps = perSecond(batch.concurrent);
    const result = {
      schema: 'tandem.bench.client/2',
      generated_at: new Date().toISOString(),
      machine: {
        cpu: cpus()[0]?.model.trim() ?? 'unknown',
        cores: cpus().length,
        node: process.version,
        chromium: chromiumVersion,
        load_before: loadBefore,
        load_after: loadavg(),
      },
      setting:
        "Chromium (headless), the SDK through its Web Worker against raw onnxruntime-web in a minimal postMessage worker; WASM 1 thread, int8 mlp-classifier, batch 1; page built by Vite, served with the edge's routes on 127.0.0.1",
      runs: RUNS,
      cold_pairs: COLD_PAIRS,
      raw_p50_ms: rawP50,
      raw_p95_ms: rawP95,
      raw_p99_ms: rawP99,
      sdk_p50_ms: sdkP50,
      sdk_p95_ms: sdkP95,
      sdk_p99_ms: sdkP99,
      overhead_ratio: round(overhead, 3),
      overhead_ratio_blocks: blocks.length
        ? { pairs: BLOCK_PAIRS, count: blocks.length, min: round(Math.min(...blocks), 3), median: round(median(blocks), 3), max: round(Math.max(...blocks), 3) }
        : undefined,
      cold_load_ms: round(median(coldSdk), 1),
      raw_cold_load_ms: round(median(coldRaw), 1),
      cold_load_ratio: round(coldRatio, 3),
      cold_load_samples_ms: coldSdk.map((x) => round(x, 1)),
      raw_cold_load_samples_ms: coldRaw.map((x) => round(x, 1)),
      cache_hit_p50_ms: hitP50,
      cache_hit_p95_ms: hitP95,
      cache_hit_p99_ms: hitP99,
      microbatch_callers: CALLERS,
      microbatch_rounds: ROUNDS,
      sequential_rps: round(seqRps, 1),
      sequential_p50_ms: seqP50,
      sequential_p95_ms: seqP95,
      sequential_p99_ms: seqP99,
      concurrent_rps: round(conRps, 1),
      concurrent_p50_ms: conP50,
      concurrent_p95_ms: conP95,
      concurrent_p99_ms: conP99,
      microbatch_throughput_ratio: round(conRps / seqRps, 3),
      microbatch_model: `${BATCH_MODEL} (fp32 device variant)`,
      microbatch_onnx_runs: batch.batching.runs,
      microbatch_calls: batch.batching.callers,
      goals: {
        overhead_ratio_max: GOALS.clientOverheadRatio.bound,
        cold_load_ratio_max: GOALS.clientColdLoadRatio.bound,
        cache_hit_p50_ms_max: GOALS.clientCacheHitP50Ms.bound,
      },
    };
    const out = join(import.meta.dirname, 'results', 'client.json');
    await mkdir(dirname(out), { recursive: true });
    await writeFile(out, `${JSON.stringify(result, null, 2)}\n`);
    const met = (ok: boolean) => (ok ? 'yes' : 'NO');
    process.stdout.write(
      `Tandem client benchmark: ${result.machine.cpu}, ${result.machine.cores} cores, Chromium ${chromiumVersion}; ${result.setting}; ${RUNS} runs each, ${COLD_PAIRS} cold loads each\n\n` +
        formatTable(
          ['measure', 'calls/s', 'p50 ms', 'p95 ms', 'p99 ms', 'goal', 'met'],
          [
            ['raw worker session.run', '', rawP50, rawP95, rawP99, '', ''],
            ['sdk model.run (no-store)', '', sdkP50, sdkP95, sdkP99, '', ''],
            ['sdk / raw (p50)', '', result.overhead_ratio, '', '', `<= ${GOALS.clientOverheadRatio.bound}`, met(overhead <= GOALS.clientOverheadRatio.bound)],
            ...(result.overhead_ratio_blocks
              ? [
                  [
                    `sdk / raw (p50) per ${BLOCK_PAIRS} pairs: min, median, max`,
                    '',
                    `${result.overhead_ratio_blocks.min}, ${result.overhead_ratio_blocks.median}, ${result.overhead_ratio_blocks.max}`,
                    '',
                    '',
                    '',
                    '',
                  ],
                ]
              : []),
            ['result-cache hit', '', hitP50, hitP95, hitP99, `<= ${GOALS.clientCacheHitP50Ms.bound}`, met(hitP50 <= GOALS.clientCacheHitP50Ms.bound)],
            ['cold load: sdk createTandem + load (median)', '', result.cold_load_ms, '', '', '', ''],
            ['cold load: raw worker fetch + create (median)', '', result.raw_cold_load_ms, '', '', '', ''],
            [
              'cold load sdk / raw',
              '',
              result.cold_load_ratio,
              '',
              '',
              `<= ${GOALS.clientColdLoadRatio.bound}`,
              met(coldRatio <= GOALS.clientColdLoadRatio.bound),
            ],
            [`${CALLERS} calls one at a time (per call)`, result.sequential_rps, seqP50, seqP95, seqP99, '', ''],
            [`${CALLERS} concurrent callers (per call)`, result.concurrent_rps, conP50, conP95, conP99, '', ''],
            ['concurrent / one at a time (calls/s)', '', result.microbatch_throughput_ratio, '', '', '', ''],
            [`onnxruntime runs for ${batch.batching.callers} calls (micro-batching)`, '', batch.batching.runs, '', '', '', ''],
          ],
        ) +
        `\nwrote ${out}\n`,
    );
  } finally {
    await browser?.close();
    await server?.close();
    await repo.cleanup();
  }
}

await main();
