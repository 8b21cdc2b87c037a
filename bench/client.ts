/**
 * `npm run bench:client`: what the client SDK costs on top of onnxruntime-web, measured side by side in
 * one run, in Node: the SDK's device runtime runs in process here (in the browser it runs in a Web Worker,
 * whose message hop this does not include; the end-to-end tests cover the browser).
 *
 * - raw: onnxruntime-web (WASM, 1 thread) `session.run` on the int8 MLP, batch 1, back to back;
 * - sdk: `model.run(..., { cache: 'no-store' })` on the same model through the same backend;
 * - cold load: `createTandem` + `load` with empty caches (manifest verify, download, sha256, session);
 * - cache hit: `model.run` of an input answered before (result cache, in-memory store).
 *
 * Writes bench/results/client.json: `overhead_ratio` (sdk p50 / raw p50), `cold_load_ms`,
 * `cache_hit_p50_ms`, and the raw figures (p50/p95/p99 of each). `BENCH_CLIENT_RUNS` sets the runs per
 * measure (default 2000).
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import * as ort from 'onnxruntime-web';
import { CAPABLE_DEVICE } from '../client/core/capabilities.ts';
import { createModelCache } from '../client/core/model-cache.ts';
import type { ResultEntry } from '../client/core/result-cache.ts';
import { memoryStore } from '../client/core/store.ts';
import { createDeviceRuntime, type OrtLike } from '../client/runtime/device-runtime.ts';
import { createTandem } from '../client/tandem.ts';
import { createFakeEdge, EDGE } from '../client/test-support/fake-edge.ts';
import { listModelVersions, readEnvelope } from '../origin/repository.ts';
import { signedRepository } from '../origin/test-support.ts';
import { loadTrustedKeys } from '../protocol/keys.ts';
import type { Manifest } from '../protocol/manifest.ts';
import { verifyManifest } from '../protocol/signed-manifest.ts';
import { percentiles, round } from './lib/stats.ts';
import { GOALS } from './lib/goals.ts';
import { formatTable } from './lib/table.ts';

const OVERHEAD_RATIO_MAX = GOALS.clientOverheadRatio.bound;
const CACHE_HIT_P50_MS_MAX = GOALS.clientCacheHitP50Ms.bound;

const MODEL = 'mlp-classifier';
const RUNS = Number(process.env.BENCH_CLIENT_RUNS ?? 2000);
const WARMUP = 50;
const WASM_PATHS = pathToFileURL(join(dirname(createRequire(import.meta.url).resolve('onnxruntime-web')), '/')).href;

/** Times `body` after WARMUP warm-up calls. */
async function timeRuns(runs: number, body: (i: number) => Promise<unknown>): Promise<number[]> {
  for (let i = 0; i < WARMUP; i++) await body(i);
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    await body(i);
    samples.push(performance.now() - started);
  }
  return samples;
}

const inputFor = (seed: number) => Float32Array.from({ length: 256 }, (_, i) => Math.sin((i + 1) * (seed + 1)));

async function main(): Promise<void> {
  const loadBefore = loadavg();
  const repo = await signedRepository([MODEL]);
  try {
    const trusted = await loadTrustedKeys(repo.trustedKeys);
    const manifests = new Map<string, Manifest>();
    for (const { id, version } of await listModelVersions(repo.repository)) {
      manifests.set(id, (await verifyManifest(await readEnvelope(repo.repository, id, version), trusted)).manifest);
    }
    const manifest = manifests.get(MODEL)!;
    const int8 = manifest.variants.find((v) => v.tier === 'device')!;
    ort.env.wasm.numThreads = 1;
    ort.env.wasm.wasmPaths = WASM_PATHS;

    // raw onnxruntime-web, on its own session of the same bytes
    const bytes = new Uint8Array(await readFile(join(repo.repository, MODEL, manifest.version, int8.artifact.path)));
    const session = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'] });
    const inputs = Array.from({ length: 16 }, (_, i) => inputFor(i));

    // the SDK: cold load with empty caches
    const edge = createFakeEdge({ repository: repo.repository, manifests });
    const runtime = createDeviceRuntime({
      ort: ort as unknown as OrtLike,
      fetch: edge.fetch,
      modelCache: createModelCache(memoryStore<Uint8Array>(), memoryStore<never>()),
      warn: () => {},
    });
    const tandem = createTandem(
      { edge: EDGE, publicKeys: JSON.parse(repo.trustedKeys), wasmPaths: WASM_PATHS },
      {
        fetch: edge.fetch,
        runtime,
        probe: async () => CAPABLE_DEVICE,
        resultStore: memoryStore<ResultEntry>(),
        manifestStore: memoryStore<unknown>(),
        persist: async () => true,
        warn: () => {},
      },
    );
    const coldStarted = performance.now();
    const model = await tandem.load(MODEL, { placement: 'device-only' });
    const coldLoadMs = performance.now() - coldStarted;

    // Raw and SDK runs interleaved, alternating which goes first, so drift (CPU frequency, other load)
    // and order effects hit both alike.
    const raw: number[] = [];
    const sdk: number[] = [];
    const timed = async (body: () => Promise<unknown>) => {
      const started = performance.now();
      await body();
      return performance.now() - started;
    };
    for (let i = 0; i < RUNS + WARMUP; i++) {
      const x = inputs[i % 16]!;
      const runRaw = () => timed(() => session.run({ x: new ort.Tensor('float32', x, [1, 256]) }));
      const runSdk = () => timed(() => model.run({ x: { data: x, dims: [1, 256] } }, { cache: 'no-store' }));
      let rawMs: number;
      let sdkMs: number;
      if (i % 2 === 0) {
        rawMs = await runRaw();
        sdkMs = await runSdk();
      } else {
        sdkMs = await runSdk();
        rawMs = await runRaw();
      }
      if (i >= WARMUP) {
        raw.push(rawMs);
        sdk.push(sdkMs);
      }
    }
    await session.release();
    await model.run({ x: { data: inputs[0]!, dims: [1, 256] } }); // fills the result cache
    const hits = await timeRuns(RUNS, () => model.run({ x: { data: inputs[0]!, dims: [1, 256] } }));
    const sampleHit = await model.run({ x: { data: inputs[0]!, dims: [1, 256] } });
    if (sampleHit.ranOn !== 'cache') throw new Error(`expected a cache hit, ran on ${sampleHit.ranOn}`);
    await model.dispose();

    const [rawP50, rawP95, rawP99] = percentiles(raw, [50, 95, 99]);
    const [sdkP50, sdkP95, sdkP99] = percentiles(sdk, [50, 95, 99]);
    const [hitP50, hitP95, hitP99] = percentiles(hits, [50, 95, 99]);
    const overhead = sdkP50! / rawP50!;
    const result = {
      schema: 'tandem.bench.client/1',
      generated_at: new Date().toISOString(),
      machine: { cpu: cpus()[0]?.model.trim() ?? 'unknown', cores: cpus().length, node: process.version, load_before: loadBefore, load_after: loadavg() },
      setting: 'Node, onnxruntime-web WASM 1 thread, device runtime in process (no Web Worker hop), int8 mlp-classifier, batch 1',
      runs: RUNS,
      raw_p50_ms: round(rawP50!, 4),
      raw_p95_ms: round(rawP95!, 4),
      raw_p99_ms: round(rawP99!, 4),
      sdk_p50_ms: round(sdkP50!, 4),
      sdk_p95_ms: round(sdkP95!, 4),
      sdk_p99_ms: round(sdkP99!, 4),
      overhead_ratio: round(overhead, 3),
      cold_load_ms: round(coldLoadMs, 1),
      cache_hit_p50_ms: round(hitP50!, 4),
      cache_hit_p95_ms: round(hitP95!, 4),
      cache_hit_p99_ms: round(hitP99!, 4),
      goals: { overhead_ratio_max: OVERHEAD_RATIO_MAX, cache_hit_p50_ms_max: CACHE_HIT_P50_MS_MAX },
    };
    const out = join(import.meta.dirname, 'results', 'client.json');
    await mkdir(dirname(out), { recursive: true });
    await writeFile(out, `${JSON.stringify(result, null, 2)}\n`);
    process.stdout.write(
      `Tandem client benchmark: ${result.machine.cpu}, ${result.machine.cores} cores, ${process.version}; ${result.setting}; ${RUNS} runs each\n\n` +
        formatTable(
          ['measure', 'p50 ms', 'p95 ms', 'p99 ms', 'goal', 'met'],
          [
            ['raw session.run', result.raw_p50_ms, result.raw_p95_ms, result.raw_p99_ms, '', ''],
            ['sdk model.run (no-store)', result.sdk_p50_ms, result.sdk_p95_ms, result.sdk_p99_ms, '', ''],
            ['sdk / raw (p50)', result.overhead_ratio, '', '', `<= ${OVERHEAD_RATIO_MAX}`, overhead <= OVERHEAD_RATIO_MAX ? 'yes' : 'NO'],
            [
              'result-cache hit',
              result.cache_hit_p50_ms,
              result.cache_hit_p95_ms,
              result.cache_hit_p99_ms,
              `<= ${CACHE_HIT_P50_MS_MAX}`,
              hitP50! <= CACHE_HIT_P50_MS_MAX ? 'yes' : 'NO',
            ],
            ['cold load (verify, download, hash, session)', result.cold_load_ms, '', '', '', ''],
          ],
        ) +
        `\nwrote ${out}\n`,
    );
  } finally {
    await repo.cleanup();
  }
}

await main();
