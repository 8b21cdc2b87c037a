/**
 * Running a model on the two ONNX Runtime builds Tandem serves from, behind one small interface, so the
 * agreement measurement is the same code for both: onnxruntime-node (the origin's runtime) and
 * onnxruntime-web's WASM backend (what browsers without WebGPU use), here under Node with one thread and
 * its .wasm files from node_modules, never from the network. Each runtime is imported on first use only.
 * (onnxruntime-web's WebGPU backend needs a GPU adapter, which Node does not have.)
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { TandemError } from '../../protocol/errors.ts';
import { tensorsByName, type NamedTensors, type Tensor, type TensorDtype } from '../../protocol/tensor.ts';

export type RunnerRuntime = 'node' | 'wasm';

/** A loaded model. */
export interface ModelRunner {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /** Runs the model; every output comes back as `{ dtype, dims, data }`. */
  run(inputs: NamedTensors): Promise<NamedTensors>;
  release(): Promise<void>;
}

/** The part of onnxruntime's API both builds share and this module uses. */
interface OrtModule {
  Tensor: new (type: TensorDtype, data: unknown, dims: readonly number[]) => unknown;
  InferenceSession: { create(model: Uint8Array, options?: object): Promise<OrtSession> };
}

interface OrtSession {
  inputNames: readonly string[];
  outputNames: readonly string[];
  run(feeds: Record<string, unknown>): Promise<Record<string, { type: string; dims: readonly number[]; data: unknown }>>;
  release(): Promise<void>;
}

/**
 * @example
 * const runner = await openRunner('wasm', bytes);
 * const outputs = await runner.run({ x: { dtype: 'float32', dims: [1, 4], data: new Float32Array(4) } });
 * @throws TandemError `inference_failed` when the runtime refuses the model.
 */
export async function openRunner(runtime: RunnerRuntime, model: Uint8Array): Promise<ModelRunner> {
  const ort = runtime === 'node' ? ((await import('onnxruntime-node')) as unknown as OrtModule) : await webRuntime();
  const options = runtime === 'node' ? { intraOpNumThreads: 1, interOpNumThreads: 1 } : { executionProviders: ['wasm'] };
  let session: OrtSession;
  try {
    session = await ort.InferenceSession.create(model, options);
  } catch (cause) {
    throw new TandemError('inference_failed', `onnxruntime-${runtime === 'node' ? 'node' : 'web (WASM)'} cannot load the model: ${(cause as Error).message}`, {
      cause,
    });
  }
  return {
    inputNames: session.inputNames,
    outputNames: session.outputNames,
    async run(inputs) {
      const feeds = tensorsByName<unknown>();
      for (const [name, t] of Object.entries(inputs)) feeds[name] = new ort.Tensor(t.dtype, t.data, t.dims);
      let results: Awaited<ReturnType<OrtSession['run']>>;
      try {
        results = await session.run(feeds);
      } catch (cause) {
        throw new TandemError(
          'inference_failed',
          `onnxruntime-${runtime === 'node' ? 'node' : 'web (WASM)'} failed to run the model: ${(cause as Error).message}`,
          { cause },
        );
      }
      const outputs = tensorsByName();
      for (const [name, t] of Object.entries(results)) outputs[name] = { dtype: t.type as TensorDtype, dims: [...t.dims], data: t.data } as Tensor;
      return outputs;
    },
    release: () => session.release(),
  };
}

let webConfigured = false;

async function webRuntime(): Promise<OrtModule> {
  const ort = await import('onnxruntime-web');
  if (!webConfigured) {
    // One thread (worker threads would need a module loader) and the .wasm files beside the package's dist.
    ort.env.wasm.numThreads = 1;
    ort.env.wasm.wasmPaths ??= pathToFileURL(join(dirname(createRequire(import.meta.url).resolve('onnxruntime-web')), '/')).href;
    webConfigured = true;
  }
  return ort as unknown as OrtModule;
}
