// One onnxruntime-node session in its own worker thread.
//
// onnxruntime-node's `run` is a synchronous native call (its async wrapper only defers it with
// setImmediate), so on the main thread every batch would stall HTTP parsing, deadlines and health checks
// for its whole compute time. Here it blocks only this thread. Plain JavaScript so the thread starts
// without a TypeScript loader; the protocol between the threads is typed in ort-session.ts.
import { parentPort, workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';

const port = /** @type {import('node:worker_threads').MessagePort} */ (parentPort);
const { bytes, options } = /** @type {{ bytes: Uint8Array, options: import('onnxruntime-node').InferenceSession.SessionOptions }} */ (workerData);

try {
  const session = await ort.InferenceSession.create(bytes, options);
  port.postMessage({
    type: 'ready',
    inputNames: session.inputNames,
    outputNames: session.outputNames,
    inputMetadata: session.inputMetadata,
    outputMetadata: session.outputMetadata,
  });
  port.on(
    'message',
    async (
      /** @type {{ type: 'run', id: number, inputs: Record<string, { dtype: any, dims: number[], data: any }>, outputs?: string[] } | { type: 'release' }} */ message,
    ) => {
      if (message.type === 'release') {
        await session.release();
        port.close();
        return;
      }
      try {
        /** @type {Record<string, import('onnxruntime-node').Tensor>} */
        const feeds = Object.create(null); // No prototype: an input may be named `__proto__` (protocol/tensor.ts tensorsByName).
        for (const [name, t] of Object.entries(message.inputs)) feeds[name] = new ort.Tensor(t.dtype, t.data, t.dims);
        const results = message.outputs ? await session.run(feeds, message.outputs) : await session.run(feeds);
        /** @type {Record<string, { dtype: string, dims: readonly number[], data: unknown }>} */
        const outputs = {};
        /** @type {Set<ArrayBuffer>} */
        const buffers = new Set();
        for (const [name, value] of Object.entries(results)) {
          outputs[name] = { dtype: value.type, dims: value.dims, data: value.data };
          if (!Array.isArray(value.data) && value.data.buffer instanceof ArrayBuffer) buffers.add(value.data.buffer);
        }
        // The outputs' buffers are this run's own: moved to the main thread, not copied twice by a clone.
        try {
          port.postMessage({ type: 'result', id: message.id, outputs }, [...buffers]);
        } catch {
          port.postMessage({ type: 'result', id: message.id, outputs }); // A buffer that cannot move is copied.
        }
      } catch (err) {
        port.postMessage({ type: 'error', id: message.id, message: err instanceof Error ? err.message : String(err) });
      }
    },
  );
} catch (err) {
  port.postMessage({ type: 'failed', message: err instanceof Error ? err.message : String(err) });
}
