/**
 * The origin's only contact with onnxruntime-node: open a session from verified bytes, check that the
 * model's own signature agrees with its manifest, and run it on protocol tensors.
 *
 * Runs use onnxruntime-node's async `run`, which executes on ORT's thread pool, so the event loop keeps
 * accepting and queueing requests while a batch computes.
 */
import * as ort from 'onnxruntime-node';
import { TandemError } from '../protocol/errors.ts';
import type { TensorSpec } from '../protocol/manifest.ts';
import type { Tensor, TensorDtype } from '../protocol/tensor.ts';

export interface SessionOptions {
  /** Threads per run; 0 lets onnxruntime use every core. */
  intraOpThreads: number;
}

export interface ModelSession extends DeclaredSignature {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(inputs: Record<string, Tensor>, outputs?: readonly string[]): Promise<Record<string, Tensor>>;
  release(): Promise<void>;
}

/** What the model file itself declares about its inputs and outputs. */
export interface DeclaredSignature {
  readonly inputMetadata: readonly ort.InferenceSession.ValueMetadata[];
  readonly outputMetadata: readonly ort.InferenceSession.ValueMetadata[];
}

export async function openSession(bytes: Uint8Array, options: SessionOptions): Promise<ModelSession> {
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(bytes, {
      executionProviders: ['cpu'],
      graphOptimizationLevel: 'all',
      intraOpNumThreads: options.intraOpThreads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
    });
  } catch (cause) {
    throw new TandemError('model_not_ready', `onnxruntime could not load the model: ${(cause as Error).message}`, { cause });
  }
  return {
    inputNames: session.inputNames,
    outputNames: session.outputNames,
    inputMetadata: session.inputMetadata,
    outputMetadata: session.outputMetadata,
    async run(inputs, outputs) {
      const feeds: Record<string, ort.Tensor> = {};
      for (const [name, t] of Object.entries(inputs)) feeds[name] = new ort.Tensor(t.dtype, t.data as never, t.dims);
      let results: ort.InferenceSession.ReturnType;
      try {
        results = outputs ? await session.run(feeds, [...outputs]) : await session.run(feeds);
      } catch (cause) {
        throw new TandemError('inference_failed', `onnxruntime run failed: ${(cause as Error).message}`, { cause });
      } finally {
        for (const feed of Object.values(feeds)) feed.dispose();
      }
      const out: Record<string, Tensor> = {};
      for (const [name, value] of Object.entries(results)) {
        out[name] = { dtype: value.type as TensorDtype, dims: [...value.dims], data: value.data as never };
      }
      return out;
    },
    release: () => session.release(),
  };
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
  const names = (list: readonly { name: string }[]) => list.map((v) => v.name).sort().join(',');
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
