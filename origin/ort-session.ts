/**
 * The origin's only contact with onnxruntime-node: open a session from verified bytes, check that the
 * model's own signature agrees with its manifest, and run it on protocol tensors.
 *
 * onnxruntime-node's `run` blocks the thread that calls it (its promise only defers a synchronous native
 * call), so each session lives in a worker thread (`session-thread.mjs`): while a batch computes there, the
 * main thread keeps parsing requests, filling the next batch, answering health checks and honouring
 * deadlines. Outputs cross back by transfer (the run's own buffers move, no copy); inputs cross by
 * structured clone unless the caller hands their buffers over (`RunOptions.transfer`).
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type * as ort from 'onnxruntime-node';
import { TandemError } from '../protocol/errors.ts';
import type { TensorSpec } from '../protocol/manifest.ts';
import { tensorsByName, transferablesOf, type Tensor } from '../protocol/tensor.ts';

/**
 * onnxruntime refused a run itself (a Gather index out of range, a shape it cannot broadcast): the one
 * failure a request's own data can cause, so the batcher runs a failed batch's requests apart on it
 * (model-registry.ts). A session thread that died is another error.
 */
export class RunRejected extends TandemError {
  constructor(reason: string) {
    super('inference_failed', `onnxruntime run failed: ${reason}`);
  }
}

export interface SessionOptions {
  /** Threads per run; 0 means one per core the process may use (`os.availableParallelism()`). */
  intraOpThreads: number;
  /** Session threads (each a full copy of the model); runs go to the least busy. Default 1. */
  lanes?: number;
  /**
   * Let onnxruntime's intra-op threads spin between parallel sections. Fastest when nothing else needs the
   * cores; on a server whose HTTP thread shares them, spinning starves it (measured: 33% less throughput
   * on 2 cores), so the origin turns it off by default.
   */
  spinning?: boolean;
}

/** What the model file itself declares about its inputs and outputs. */
export interface DeclaredSignature {
  readonly inputMetadata: readonly ort.InferenceSession.ValueMetadata[];
  readonly outputMetadata: readonly ort.InferenceSession.ValueMetadata[];
}

export interface RunOptions {
  /**
   * Move the inputs' buffers to the session thread instead of copying them: they are detached (empty) in
   * the caller afterwards. Only for buffers the caller owns outright (a batch it assembled), never views
   * into a request body or Node's shared Buffer pool.
   */
  transfer?: boolean;
}

export interface ModelSession extends DeclaredSignature {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(inputs: Record<string, Tensor>, outputs?: readonly string[], options?: RunOptions): Promise<Record<string, Tensor>>;
  release(): Promise<void>;
}

const THREAD_SCRIPT = new URL('./session-thread.mjs', import.meta.url);

type ThreadMessage =
  | ({ type: 'ready'; inputNames: string[]; outputNames: string[] } & DeclaredSignature)
  | { type: 'failed'; message: string }
  | { type: 'result'; id: number; outputs: Record<string, Tensor> }
  | { type: 'error'; id: number; message: string };

interface Lane {
  worker: Worker;
  pending: Map<number, { resolve: (outputs: Record<string, Tensor>) => void; reject: (err: TandemError) => void }>;
  dead: TandemError | undefined;
}

export async function openSession(bytes: Uint8Array, options: SessionOptions): Promise<ModelSession> {
  const sessionOptions: ort.InferenceSession.SessionOptions = {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    // Not onnxruntime's own 0: that counts physical cores as onnxruntime detects them, and on a 2-vCPU
    // virtual machine it ran every batch on one thread (measured: 1.0 cores busy, half the rows per second
    // of two threads at batch 128).
    intraOpNumThreads: options.intraOpThreads || availableParallelism(),
    interOpNumThreads: 1,
    executionMode: 'sequential',
    extra: { session: { intra_op: { allow_spinning: options.spinning ? '1' : '0' } } },
  };
  const started = await Promise.allSettled(Array.from({ length: Math.max(1, options.lanes ?? 1) }, () => startLane(bytes, sessionOptions)));
  const lanes = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value.lane] : []));
  const failure = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failure) {
    await Promise.all(lanes.map((lane) => lane.worker.terminate()));
    throw failure.reason;
  }
  const ready = (started[0] as PromiseFulfilledResult<{ lane: Lane; ready: Extract<ThreadMessage, { type: 'ready' }> }>).value.ready;
  let nextId = 0;
  return {
    inputNames: ready.inputNames,
    outputNames: ready.outputNames,
    inputMetadata: ready.inputMetadata,
    outputMetadata: ready.outputMetadata,
    run(inputs, outputs, runOptions) {
      const lane = lanes.reduce((best, l) => (l.pending.size < best.pending.size ? l : best));
      if (lane.dead) return Promise.reject(lane.dead);
      const id = nextId++;
      // Only what onnxruntime needs crosses to the thread: a caller's extra fields (names, parameters) could
      // be anything, and structured clone recurses into them.
      const feeds = tensorsByName();
      for (const [name, t] of Object.entries(inputs)) feeds[name] = { dtype: t.dtype, dims: t.dims, data: t.data } as Tensor;
      return new Promise((resolve, reject) => {
        lane.pending.set(id, { resolve, reject });
        try {
          const message = { type: 'run', id, inputs: feeds, ...(outputs ? { outputs: [...outputs] } : {}) };
          if (runOptions?.transfer) lane.worker.postMessage(message, transferablesOf(Object.values(feeds)));
          else lane.worker.postMessage(message);
        } catch (err) {
          lane.pending.delete(id); // A failed post must not leave its entry (and the inputs it holds) behind.
          reject(
            new TandemError('internal', `could not pass the inputs to the session thread: ${err instanceof Error ? err.message : String(err)}`, { cause: err }),
          );
        }
      });
    },
    async release() {
      await Promise.all(
        lanes.map(async (lane) => {
          if (lane.dead) return;
          const exited = new Promise((resolve) => lane.worker.once('exit', resolve));
          lane.worker.postMessage({ type: 'release' });
          await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 2000).unref())]);
          await lane.worker.terminate();
        }),
      );
    },
  };
}

function startLane(bytes: Uint8Array, options: ort.InferenceSession.SessionOptions): Promise<{ lane: Lane; ready: Extract<ThreadMessage, { type: 'ready' }> }> {
  const worker = new Worker(THREAD_SCRIPT, { workerData: { bytes, options }, execArgv: [] });
  const lane: Lane = { worker, pending: new Map(), dead: undefined };
  return new Promise((resolve, reject) => {
    const fail = (error: TandemError) => {
      lane.dead = error;
      for (const pending of lane.pending.values()) pending.reject(error);
      lane.pending.clear();
      reject(error); // No effect once ready.
    };
    worker.on('message', (message: ThreadMessage) => {
      switch (message.type) {
        case 'ready':
          resolve({ lane, ready: message });
          break;
        case 'failed':
          fail(new TandemError('model_not_ready', `onnxruntime could not load the model: ${message.message}`));
          break;
        case 'result':
          lane.pending.get(message.id)?.resolve(message.outputs);
          lane.pending.delete(message.id);
          break;
        case 'error':
          lane.pending.get(message.id)?.reject(new RunRejected(message.message));
          lane.pending.delete(message.id);
          break;
      }
    });
    worker.on('error', (err) => fail(new TandemError('inference_failed', `session thread crashed: ${err.message}`, { cause: err })));
    worker.on('exit', (code) => {
      if (!lane.dead) fail(new TandemError('inference_failed', `session thread exited (code ${code})`));
    });
  });
}

/**
 * Checks the manifest's signature of a variant against what the model itself declares, so a manifest
 * can't promise inputs the model doesn't take.
 * @throws TandemError `manifest_invalid` naming the first disagreement.
 */
export function checkSignature(session: DeclaredSignature, inputs: readonly TensorSpec[], outputs: readonly TensorSpec[]): void {
  compare('input', session.inputMetadata, inputs);
  compare('output', session.outputMetadata, outputs);
}

function compare(kind: string, actual: readonly ort.InferenceSession.ValueMetadata[], declared: readonly TensorSpec[]): void {
  const fail = (why: string) => new TandemError('manifest_invalid', `manifest ${kind}s disagree with the model: ${why}`);
  const names = (list: readonly { name: string }[]) =>
    list
      .map((v) => v.name)
      .sort()
      .join(',');
  if (names(actual) !== names(declared)) throw fail(`model has [${names(actual)}], manifest has [${names(declared)}]`);
  for (const spec of declared) {
    const meta = actual.find((m) => m.name === spec.name)!;
    if (!meta.isTensor) throw fail(`"${spec.name}" is not a tensor`);
    if (meta.type !== spec.dtype) throw fail(`"${spec.name}" is ${meta.type} in the model, ${spec.dtype} in the manifest`);
    if (meta.shape.length === 0) continue; // The model leaves the shape open.
    if (meta.shape.length !== spec.shape.length) throw fail(`"${spec.name}" has rank ${meta.shape.length}, manifest ${spec.shape.length}`);
    meta.shape.forEach((dim, axis) => {
      const want = spec.shape[axis];
      if (typeof dim === 'number' && dim >= 0 && dim !== want) {
        throw fail(`"${spec.name}" dimension ${axis} is ${dim} in the model, ${String(want)} in the manifest`);
      }
    });
  }
}
