/**
 * The device side's end: `dispose()` with the SDK's own worker runtime (adapters/worker-runtime.ts) around
 * a Worker run in this thread, so that what is pending at dispose is a real comlink call or run.
 */
import { expose } from 'comlink';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Manifest, ManifestVariant } from '../protocol/manifest.ts';
import { startWorkerRuntime } from './adapters/worker-runtime.ts';
import { CAPABLE_DEVICE } from './core/capabilities.ts';
import { createDevice } from './device.ts';
import type { LoadResult, RuntimeStats } from './runtime/contract.ts';
import { serveRuns } from './runtime/run-port.ts';

const variant: ManifestVariant = {
  name: 'int8',
  tier: 'device',
  artifact: { path: 'device.onnx', sha256: 'a'.repeat(64), bytes: 100, mediaType: 'application/vnd.onnx' },
  opset: 17,
  inputs: [{ name: 'x', dtype: 'float32', shape: ['batch', 1] }],
  outputs: [{ name: 'y', dtype: 'float32', shape: ['batch', 1] }],
  quantization: { method: 'none' },
  requirements: { minMemoryMiB: 1, minStorageMiB: 1, backends: ['wasm'] },
};
const manifest: Manifest = { schemaVersion: 1, id: 'm', version: '1.0.0', createdAt: '2026-01-01T00:00:00Z', task: 'classification', variants: [variant] };
const choice = { target: 'device' as const, variant, backends: ['wasm' as const] };
const input = { x: { dtype: 'float32' as const, dims: [1, 1], data: Float32Array.of(1) } };
const notReady = { name: 'TandemError', code: 'model_not_ready' };

const loaded: LoadResult = {
  sessionId: 's1',
  backend: 'wasm',
  attempts: [],
  fromCache: false,
  cached: true,
  timings: { downloadMs: 0, verifyMs: 0, sessionMs: 0 },
  inputNames: ['x'],
  outputNames: ['y'],
};
const stats: RuntimeStats = { network: { manifest: 0, artifact: 0, infer: 0, other: 0 }, modelCacheHits: 0, modelCacheMisses: 0, sessions: 1 };

const ports: MessagePort[] = [];
afterEach(() => {
  vi.unstubAllGlobals();
  for (const port of ports.splice(0)) port.close();
});

/**
 * Stubs `Worker` with one that serves `api` by comlink in this thread. Its runs never answer (a model
 * still computing); `terminate()` silences it as a browser's does: no event, no answer to what is pending.
 */
function stubWorker(api: { init: () => Promise<void> }) {
  class InThreadWorker extends EventTarget {
    readonly page: MessagePort;
    constructor() {
      super();
      const { port1, port2 } = new MessageChannel();
      ports.push(port1, port2);
      const attachRunPort = (port: MessagePort) => {
        ports.push(port);
        serveRuns(port, () => new Promise(() => {}));
      };
      expose({ ...api, attachRunPort, load: async () => loaded, stats: async () => stats, clearModelCache: async () => {} }, port2);
      this.page = port1;
      port1.onmessage = ({ data }) => this.dispatchEvent(new MessageEvent('message', { data }));
    }
    postMessage(message: unknown, transfer: Transferable[]) {
      this.page.postMessage(message, transfer);
    }
    terminate() {
      this.page.close();
    }
  }
  vi.stubGlobal('Worker', InThreadWorker);
}

function device() {
  const startRuntime = vi.fn(startWorkerRuntime);
  const created = createDevice({
    edge: 'https://edge.test',
    headers: async () => ({}),
    probe: async () => CAPABLE_DEVICE,
    overrides: undefined,
    startRuntime,
    wasmPaths: undefined,
    retry: { attempts: 1, baseDelayMs: 1, maxDelayMs: 1 },
    timeoutMs: 1000,
    persist: undefined,
    warn: () => {},
  });
  return { device: created, startRuntime };
}

describe('device.dispose()', () => {
  it('rejects a run in flight in the worker, and every later device call, with model_not_ready', async () => {
    stubWorker({ init: async () => {} });
    const { device: d, startRuntime } = device();
    const session = await d.open(manifest, choice);
    expect(await d.stats()).toEqual(stats);
    const run = session.runtime.run(session.sessionId, input);
    await d.dispose();
    await expect(run).rejects.toMatchObject(notReady);
    await expect(session.runtime.run(session.sessionId, input)).rejects.toMatchObject(notReady);
    await expect(d.open(manifest, choice)).rejects.toMatchObject(notReady);
    await expect(d.stats()).rejects.toMatchObject(notReady);
    await expect(d.clearModelCache()).rejects.toMatchObject(notReady);
    await expect(d.cachedArtifacts('m')).rejects.toMatchObject(notReady);
    // No new worker took the terminated one's place.
    expect(startRuntime).toHaveBeenCalledTimes(1);
  });

  it('does not wait for a worker still starting: the load waiting on it rejects', async () => {
    stubWorker({ init: () => new Promise(() => {}) });
    const { device: d, startRuntime } = device();
    const opening = d.open(manifest, choice);
    expect(startRuntime).toHaveBeenCalledTimes(1);
    await d.dispose();
    await expect(opening).rejects.toMatchObject(notReady);
  });
});
