/**
 * The page `npm run bench:client` drives in Chromium (bench/client.ts): the SDK as an app uses it
 * (`createTandem`, `load`, `model.run`, its own Web Worker) beside the baseline, onnxruntime-web in a
 * minimal postMessage worker (raw-worker.ts), on the same model bytes from the same server. Every
 * figure is taken here, with the page's clock, so the Playwright hop is never in it; bench/client.ts only
 * calls these functions (`window.bench`) and reads their samples back.
 */
import { createTandem, type Tandem, type TandemConfig, type TandemModel } from '../../client/index.ts';
import type { RawReply, RawRequest } from './raw-worker.ts';

/** What the bench needs to know of the model: its id, its input, and the raw artifact's URL. */
export interface BenchTarget {
  model: string;
  /** The micro-batch row's model: same inputs as `model`, a device variant that can batch. */
  batchModel: string;
  input: string;
  features: number;
  artifactUrl: string;
  config: TandemConfig;
}

export interface Samples {
  raw: number[];
  sdk: number[];
}

export interface BatchSamples {
  /** Latency of each call, ms. */
  perCall: number[];
  /** Wall time of each round of `callers` calls, ms. */
  roundMs: number[];
}

const inputFor = (seed: number, features: number) => Float32Array.from({ length: features }, (_, i) => Math.sin((i + 1) * (seed + 1)));

/** A request to the raw worker before it gets its id. */
type RawCall = RawRequest extends infer R ? (R extends RawRequest ? Omit<R, 'id'> : never) : never;

/** The raw baseline: one minimal worker and its pending requests. */
class RawWorker {
  private readonly worker = new Worker(new URL('./raw-worker.ts', import.meta.url), { type: 'module', name: 'raw-ort' });
  private readonly pending = new Map<number, (reply: RawReply) => void>();
  private next = 0;

  constructor() {
    this.worker.onmessage = ({ data }: MessageEvent<RawReply>) => {
      this.pending.get(data.id)?.(data);
      this.pending.delete(data.id);
    };
  }

  call(request: RawCall, transfer: Transferable[] = []): Promise<RawReply> {
    const id = ++this.next;
    return new Promise((resolve, reject) => {
      this.pending.set(id, (reply) => (reply.error ? reject(new Error(`raw worker: ${reply.error}`)) : resolve(reply)));
      this.worker.postMessage({ ...request, id } as RawRequest, transfer);
    });
  }

  terminate(): void {
    this.worker.terminate();
  }
}

let target: BenchTarget | undefined;
let tandem: Tandem | undefined;
let model: TandemModel | undefined;
let raw: RawWorker | undefined;

const setup = () => {
  if (!target) throw new Error('bench.target was not set');
  return target;
};

const sdkRun = (data: Float32Array, cache: 'no-store' | 'default', on: TandemModel = model!) => {
  const t = setup();
  return on.run({ [t.input]: { data, dims: [1, t.features] } }, { cache });
};

/** The raw worker gets the input as a structured clone (the caller's array stays intact), as the SDK's copy-then-transfer keeps it. */
const rawRun = (data: Float32Array) => {
  const t = setup();
  return raw!.call({ type: 'run', input: t.input, data, dims: [1, t.features] });
};

async function timed(body: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await body();
  return performance.now() - started;
}

const bench = {
  setTarget(t: BenchTarget) {
    target = t;
  },

  /** `createTandem` + `load` on the device (manifest, verify, download, hash, session), in ms; caches empty in a fresh context. */
  async coldSdk(): Promise<{ ms: number; backend: string | undefined; fromCache: boolean | undefined }> {
    const t = setup();
    const started = performance.now();
    tandem = createTandem(t.config);
    model = await tandem.load(t.model, { placement: 'device-only', waitForDevice: true });
    const ms = performance.now() - started;
    return { ms, backend: model.device?.backend, fromCache: model.device?.fromCache };
  },

  /** A new minimal worker, then fetch + `InferenceSession.create` on the same bytes, in ms. */
  async coldRaw(): Promise<{ ms: number }> {
    const t = setup();
    const started = performance.now();
    raw = new RawWorker();
    await raw.call({ type: 'load', url: t.artifactUrl, wasmPaths: t.config.wasmPaths! });
    return { ms: performance.now() - started };
  },

  /** `runs` pairs (after `warmup`), raw and SDK one after the other, alternating which goes first. */
  async interleaved(runs: number, warmup: number): Promise<Samples> {
    const t = setup();
    const inputs = Array.from({ length: 16 }, (_, i) => inputFor(i, t.features));
    const out: Samples = { raw: [], sdk: [] };
    for (let i = 0; i < runs + warmup; i++) {
      const x = inputs[i % inputs.length]!;
      const r = () => timed(() => rawRun(x));
      const s = () => timed(() => sdkRun(x, 'no-store'));
      let rawMs: number;
      let sdkMs: number;
      if (i % 2 === 0) {
        rawMs = await r();
        sdkMs = await s();
      } else {
        sdkMs = await s();
        rawMs = await r();
      }
      if (i >= warmup) {
        out.raw.push(rawMs);
        out.sdk.push(sdkMs);
      }
    }
    return out;
  },

  /** `model.run` of an input answered before: the result cache (its key a SHA-256 of the input, one IndexedDB read, its last use written back). */
  async cacheHits(runs: number, warmup: number): Promise<number[]> {
    const t = setup();
    const x = inputFor(1234, t.features);
    await sdkRun(x, 'default');
    const samples: number[] = [];
    for (let i = 0; i < runs + warmup; i++) {
      const started = performance.now();
      const result = await sdkRun(x, 'default');
      const ms = performance.now() - started;
      if (result.ranOn !== 'cache') throw new Error(`expected a result-cache hit, ran on ${result.ranOn}`);
      if (i >= warmup) samples.push(ms);
    }
    return samples;
  },

  /**
   * `rounds` rounds of `callers` `model.run` calls (no-store, each its own input), alternating: one at a
   * time (each awaited before the next starts) and all at once (`Promise.all`), which is where the
   * worker's micro-batching, if any, can merge them.
   */
  async microbatch(
    rounds: number,
    callers: number,
    warmup: number,
  ): Promise<{ sequential: BatchSamples; concurrent: BatchSamples; batching: { runs: number; callers: number } }> {
    const t = setup();
    if (!tandem) throw new Error('coldSdk() first: the micro-batch model loads on its Tandem');
    const batched = await tandem.load(t.batchModel, { placement: 'device-only', waitForDevice: true });
    const before = (await tandem.stats()).batching;
    const inputs = Array.from({ length: callers }, (_, i) => inputFor(100 + i, t.features));
    const sequential: BatchSamples = { perCall: [], roundMs: [] };
    const concurrent: BatchSamples = { perCall: [], roundMs: [] };
    const oneAtATime = async (keep: boolean) => {
      const started = performance.now();
      for (const x of inputs) {
        const ms = await timed(() => sdkRun(x, 'no-store', batched));
        if (keep) sequential.perCall.push(ms);
      }
      if (keep) sequential.roundMs.push(performance.now() - started);
    };
    const allAtOnce = async (keep: boolean) => {
      const started = performance.now();
      const each = await Promise.all(inputs.map((x) => sdkRun(x, 'no-store', batched).then(() => performance.now() - started)));
      if (keep) {
        concurrent.perCall.push(...each);
        concurrent.roundMs.push(performance.now() - started);
      }
    };
    for (let i = 0; i < rounds + warmup; i++) {
      const keep = i >= warmup;
      if (i % 2 === 0) {
        await oneAtATime(keep);
        await allAtOnce(keep);
      } else {
        await allAtOnce(keep);
        await oneAtATime(keep);
      }
    }
    const after = (await tandem.stats()).batching;
    await batched.dispose();
    // What the worker did with these calls: onnxruntime runs against callers (equal when nothing coalesced).
    return { sequential, concurrent, batching: { runs: after.runs - before.runs, callers: after.callers - before.callers } };
  },

  async dispose(): Promise<void> {
    await model?.dispose();
    raw?.terminate();
  },
};

export type BenchApi = typeof bench;
(window as unknown as { bench: BenchApi }).bench = bench;
document.querySelector('#status')!.textContent = 'ready';
