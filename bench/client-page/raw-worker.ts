/**
 * The baseline of `npm run bench:client`: the least a worker-based SDK can do. onnxruntime-web in a module
 * Web Worker, driven by plain postMessage from the page: `load` fetches the bytes and creates the session
 * (WASM, 1 thread, as the SDK's worker does), `run` runs one input and posts back what `session.run`
 * answers, every output of the model (as the SDK's `model.run` does unless asked for fewer), their
 * buffers transferred. No manifest, no hash, no cache, no comlink.
 */
import * as ort from 'onnxruntime-web';

/** The messages this worker takes, and what it answers (`id` pairs them). */
export type RawRequest =
  | { id: number; type: 'load'; url: string; wasmPaths: string }
  | { id: number; type: 'run'; input: string; data: Float32Array; dims: number[] };
export type RawReply = { id: number; error?: string; outputs?: Record<string, { data: Float32Array; dims: readonly number[] }> };

const scope = self as unknown as {
  onmessage: ((event: MessageEvent<RawRequest>) => void) | null;
  postMessage(message: RawReply, transfer?: Transferable[]): void;
};

let session: ort.InferenceSession | undefined;

scope.onmessage = async ({ data: request }) => {
  try {
    if (request.type === 'load') {
      ort.env.wasm.wasmPaths = request.wasmPaths;
      ort.env.wasm.numThreads = 1;
      const bytes = new Uint8Array(await (await fetch(request.url)).arrayBuffer());
      session = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'] });
      scope.postMessage({ id: request.id });
      return;
    }
    if (!session) throw new Error('no session: load first');
    const results = await session.run({ [request.input]: new ort.Tensor('float32', request.data, request.dims) });
    const outputs: NonNullable<RawReply['outputs']> = {};
    for (const [name, tensor] of Object.entries(results)) outputs[name] = { data: tensor.data as Float32Array, dims: tensor.dims };
    scope.postMessage({ id: request.id, outputs }, [...new Set(Object.values(outputs).map((o) => o.data.buffer))]);
  } catch (err) {
    scope.postMessage({ id: request.id, error: err instanceof Error ? err.message : String(err) });
  }
};
