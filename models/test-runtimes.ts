/**
 * The two ONNX Runtime builds the models must run in, opened the same way for tests: onnxruntime-node
 * (what the origin uses) and onnxruntime-web's WASM backend (what browsers use), here under Node with
 * one thread and the .wasm files loaded from node_modules, never from the network.
 *
 * Only tests import this: the builder itself never loads a runtime.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as ortNode from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web';

export type RuntimeName = 'node' | 'web';

/** A loaded model: runs float32 inputs and returns every output as a Float32Array. */
export interface TestSession {
  run(feeds: Record<string, { data: Float32Array; dims: readonly number[] }>): Promise<Record<string, Float32Array>>;
  release(): Promise<void>;
}

let webConfigured = false;

function configureWeb(): void {
  if (webConfigured) return;
  const dist = dirname(createRequire(import.meta.url).resolve('onnxruntime-web'));
  ortWeb.env.wasm.numThreads = 1;
  ortWeb.env.wasm.wasmPaths = `${pathToFileURL(join(dist, '/')).href}`;
  webConfigured = true;
}

/**
 * @example
 * const session = await openSession('web', await readFile('int8.onnx'));
 * const { logits } = await session.run({ x: { data, dims: [1, 256] } });
 */
export async function openSession(runtime: RuntimeName, model: Uint8Array): Promise<TestSession> {
  if (runtime === 'node') {
    const session = await ortNode.InferenceSession.create(model, { intraOpNumThreads: 1, interOpNumThreads: 1 });
    return {
      async run(feeds) {
        const inputs: Record<string, ortNode.Tensor> = {};
        for (const [name, t] of Object.entries(feeds)) inputs[name] = new ortNode.Tensor('float32', t.data, [...t.dims]);
        return floatOutputs(await session.run(inputs));
      },
      release: () => session.release(),
    };
  }
  configureWeb();
  const session = await ortWeb.InferenceSession.create(model, { executionProviders: ['wasm'] });
  return {
    async run(feeds) {
      const inputs: Record<string, ortWeb.Tensor> = {};
      for (const [name, t] of Object.entries(feeds)) inputs[name] = new ortWeb.Tensor('float32', t.data, [...t.dims]);
      return floatOutputs(await session.run(inputs));
    },
    release: () => session.release(),
  };
}

function floatOutputs(results: Record<string, { data: unknown }>): Record<string, Float32Array> {
  const out: Record<string, Float32Array> = {};
  for (const [name, tensor] of Object.entries(results)) {
    if (!(tensor.data instanceof Float32Array)) throw new Error(`output ${name} is not float32`);
    out[name] = tensor.data;
  }
  return out;
}
