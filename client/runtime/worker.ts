/**
 * The Web Worker entry: builds the device runtime from this worker's globals (onnxruntime-web, fetch,
 * IndexedDB, WebGPU) and exposes it with comlink. Thin on purpose; the logic is in `device-runtime.ts`.
 */
import { expose } from 'comlink';
import * as ort from 'onnxruntime-web';
import { idbStore } from '../adapters/idb-store.ts';
import { createModelCache } from '../core/model-cache.ts';
import { forgivingStore } from '../core/store.ts';
import { installErrorTransfer, type DeviceRuntime } from './contract.ts';
import { createDeviceRuntime, type OrtLike } from './device-runtime.ts';
import { serveRuns } from './run-port.ts';

installErrorTransfer();

const warn = (message: string, cause?: unknown) => console.warn(`[tandem worker] ${message}`, cause);

interface WorkerGpu {
  requestAdapter(): Promise<unknown>;
}

let adapter: Promise<boolean> | undefined;
const webgpuAvailable = () =>
  (adapter ??= (async () => {
    const gpu = (self.navigator as unknown as { gpu?: WorkerGpu }).gpu;
    if (!gpu) return false;
    try {
      return (await gpu.requestAdapter()) !== null;
    } catch {
      return false;
    }
  })());

const runtime = createDeviceRuntime({
  ort: ort as unknown as OrtLike,
  fetch: (input, init) => fetch(input, init),
  modelCache: createModelCache(
    forgivingStore(idbStore<Uint8Array>('tandem-models', 'bytes'), warn, 'model cache'),
    forgivingStore(idbStore('tandem-models-meta', 'meta'), warn, 'model cache index'),
    {
      availableBytes: async () => {
        const estimate = await self.navigator.storage?.estimate?.();
        return estimate?.quota === undefined ? undefined : estimate.quota - (estimate.usage ?? 0);
      },
    },
  ),
  webgpuAvailable,
  online: () => self.navigator.onLine,
  warn,
});

/** What the page's comlink proxy calls: the runtime, and the port its runs arrive on (run-port.ts). */
export interface WorkerApi extends DeviceRuntime {
  attachRunPort(port: MessagePort): void;
}

const api: WorkerApi = {
  ...runtime,
  attachRunPort: (port) => serveRuns(port, runtime.run),
};

expose(api);
