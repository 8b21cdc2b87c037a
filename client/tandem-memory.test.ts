/**
 * The SDK's memory bounds in Node, on the real device runtime (onnxruntime-web WASM, in-process): the
 * load memo releasing the sessions it drops, the memory budget across loaded models, `model.dispose()`,
 * and per-model `isCached` and `delete`. Six models are the MLP's int8 weights under six ids.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as ortWeb from 'onnxruntime-web';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyModel, readVerifiedManifest, signedRepository, type TestRepository } from '../origin/test-support.ts';
import type { Manifest } from '../protocol/manifest.ts';
import { CAPABLE_DEVICE } from './core/capabilities.ts';
import { createModelCache } from './core/model-cache.ts';
import type { ResultEntry } from './core/result-cache.ts';
import { memoryStore } from './core/store.ts';
import type { TandemConfig } from './config.ts';
import { createDeviceRuntime, type OrtLike } from './runtime/device-runtime.ts';
import { createTandem } from './tandem.ts';
import { createFakeEdge, EDGE, type FakeEdge } from './test-support/fake-edge.ts';

const WASM_PATHS = pathToFileURL(join(dirname(createRequire(import.meta.url).resolve('onnxruntime-web')), '/')).href;
const quiet = () => {};
const IDS = ['m0', 'm1', 'm2', 'm3', 'm4', 'm5'];

let repo: TestRepository;
let edge: FakeEdge;
let int8Bytes: number;
const manifests = new Map<string, Manifest>();

beforeAll(async () => {
  repo = await signedRepository(['mlp-classifier']);
  for (const id of IDS) manifests.set(id, await copyModel(repo, 'mlp-classifier', id));
  manifests.set('mlp-classifier', await readVerifiedManifest(repo, 'mlp-classifier'));
  int8Bytes = manifests.get('m0')!.variants.find((v) => v.name === 'int8')!.artifact.bytes;
  edge = createFakeEdge({ repository: repo.repository, manifests });
});
afterAll(async () => {
  await repo?.cleanup();
});

function sdk(config: Partial<TandemConfig> = {}) {
  const stores = { results: memoryStore<ResultEntry>(), manifests: memoryStore<unknown>(), bytes: memoryStore<Uint8Array>() };
  const runtime = createDeviceRuntime({
    ort: ortWeb as unknown as OrtLike,
    fetch: edge.fetch,
    modelCache: createModelCache(stores.bytes, memoryStore()),
    warn: quiet,
  });
  const tandem = createTandem(
    { edge: EDGE, publicKeys: JSON.parse(repo.trustedKeys), wasmPaths: WASM_PATHS, placement: 'device-only', persistStorage: false, ...config },
    {
      fetch: edge.fetch,
      runtime,
      probe: async () => CAPABLE_DEVICE,
      resultStore: stores.results,
      manifestStore: stores.manifests,
      clientIdStore: memoryStore(),
      warn: quiet,
    },
  );
  return { tandem, stores };
}

const x = { x: { data: new Float32Array(256).fill(0.25), dims: [1, 256] } };
const artifactRequests = () => edge.requests.filter((r) => r.includes('/v1/artifacts/')).length;

describe('memory', () => {
  it('the load memo releases the session of a model it drops; the dropped handle reopens one when it runs', async () => {
    const { tandem } = sdk({ maxLoadedModels: 2 });
    const models = [];
    for (const id of IDS) {
      models.push(await tandem.load(id, { variant: 'int8' }));
      expect((await tandem.stats()).memory.sessions).toBeLessThanOrEqual(2);
    }
    // Loading m0 again opens one session, not a second beside a leaked first.
    const again = await tandem.load('m0', { variant: 'int8' });
    expect(again).not.toBe(models[0]);
    expect((await tandem.stats()).memory.sessions).toBe(2);
    expect((await models[1]!.run(x)).ranOn).toBe('device');
    expect((await tandem.stats()).memory.sessions).toBe(3);
    await tandem.dispose();
  });

  it('the memory budget keeps the open sessions within it across models, least recently used out', async () => {
    const { tandem } = sdk({ memoryBudgetBytes: Math.floor(2.5 * int8Bytes) });
    const models = [];
    for (const id of IDS) {
      const model = await tandem.load(id, { variant: 'int8' });
      await model.run(x, { cache: 'no-store' });
      models.push(model);
      const { memory } = await tandem.stats();
      expect(memory.sessions).toBeLessThanOrEqual(2);
      expect(memory.sessionBytes).toBeLessThanOrEqual(memory.budgetBytes);
    }
    const before = artifactRequests();
    // The first model's session went; its handle still runs (reopened from the model cache).
    const result = await models[0]!.run(x, { cache: 'no-store' });
    expect(result.ranOn).toBe('device');
    expect(artifactRequests()).toBe(before);
    expect((await tandem.stats()).memory).toMatchObject({ sessions: 2, peakSessions: 2 });
    await tandem.dispose();
  });

  it('model.dispose() releases its session; later runs of the handle reject with model_not_ready; a fresh load works', async () => {
    const { tandem } = sdk();
    const model = await tandem.load('m0', { variant: 'int8' });
    expect((await tandem.stats()).memory.sessions).toBe(1);
    await model.dispose();
    await model.dispose(); // Idempotent.
    expect((await tandem.stats()).memory.sessions).toBe(0);
    await expect(model.run(x)).rejects.toMatchObject({ name: 'TandemError', code: 'model_not_ready' });
    const fresh = await tandem.load('m0', { variant: 'int8' });
    expect(fresh).not.toBe(model);
    expect((await fresh.run(x)).ranOn).toBe('device');
    expect(await tandem.load('m0', { variant: 'int8' })).toBe(fresh);
    await tandem.dispose();
  });

  it('disposing a handle the memo already dropped does not forget its successor', async () => {
    const { tandem } = sdk({ maxLoadedModels: 1 });
    const first = await tandem.load('m0', { variant: 'int8' });
    await tandem.load('m1', { variant: 'int8' }); // Drops m0.
    const second = await tandem.load('m0', { variant: 'int8' }); // Drops m1.
    await first.dispose();
    expect(await tandem.load('m0', { variant: 'int8' })).toBe(second);
    await tandem.dispose();
  });

  it('isCached and delete, per model and per version', async () => {
    const { tandem, stores } = sdk();
    expect(await tandem.isCached('m2')).toBe(false);
    const model = await tandem.load('m2', { variant: 'int8' });
    await model.run(x);
    expect(await tandem.isCached('m2')).toBe(true);
    expect(await tandem.isCached('m2', { version: '1.0.0' })).toBe(true);
    expect(await tandem.isCached('m2', { version: '9.9.9' })).toBe(false);
    expect((await tandem.stats()).memory.resultEntries).toBe(1);

    await tandem.delete('m2', { version: '9.9.9' }); // Nothing of that version: nothing goes.
    expect(await tandem.isCached('m2')).toBe(true);
    await tandem.delete('m2');
    expect(await tandem.isCached('m2')).toBe(false);
    expect((await tandem.stats()).memory.resultEntries).toBe(0);
    expect([...stores.manifests.map.keys()]).toEqual([]);
    // The loaded model still runs (its session is open); a new load downloads again.
    expect((await model.run(x, { cache: 'no-store' })).ranOn).toBe('device');
    await model.dispose();
    const before = artifactRequests();
    await tandem.load('m2', { variant: 'int8' });
    expect(artifactRequests()).toBe(before + 1);
    await tandem.dispose();
  });
});
