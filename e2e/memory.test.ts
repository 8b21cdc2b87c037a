/**
 * Memory in Chromium against the real stack: 20 models (the MLP's int8 weights published under 20 ids)
 * loaded, run and dropped one after another in one page; the Web Worker's open onnxruntime sessions, as
 * the SDK's `stats().memory` reports them from the worker, stay within the memory budget throughout, a
 * model the budget released still runs (reopened from IndexedDB), and disposing every model closes every
 * session. The load memo alone releases the sessions it drops; with neither bound every model stays open
 * (so the count is real). Steps take 0.3 to 6 s each on a loaded machine; the tests allow 5 minutes.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { copyModel, readVerifiedManifest } from '../origin/test-support.ts';
import { WASM_ONLY } from './support/browser.ts';
import { useE2eSession } from './support/hooks.ts';
import { SdkPage } from './support/sdk-page.ts';

const session = useE2eSession();
const COUNT = 20;
const IDS = Array.from({ length: COUNT }, (_, i) => `mem-${i}`);
let int8Bytes = 0;

beforeAll(async () => {
  const repo = session.env.repo;
  int8Bytes = (await readVerifiedManifest(repo, 'mlp-classifier')).variants.find((v) => v.name === 'int8')!.artifact.bytes;
  for (const id of IDS) await copyModel(repo, 'mlp-classifier', id);
  await session.env.stack.restartEdge(); // Seeds its R2 again from the repository, the 20 copies included.
});

/** One step's memory as the page saw it. */
interface Step {
  step: string;
  sessions: number;
  sessionBytes: number;
  budgetBytes: number;
  peakSessions: number;
  ranOn?: string;
  /** How long the step took in the page, ms. */
  ms: number;
}

interface PageSdk {
  createTandem(config: Record<string, unknown>): PageTandem;
}
interface PageTandem {
  load(id: string, options: Record<string, unknown>): Promise<PageModel>;
  stats(): Promise<{ memory: Omit<Step, 'step' | 'ranOn' | 'ms'> }>;
  dispose(): Promise<void>;
}
interface PageModel {
  run(inputs: Record<string, unknown>, options: Record<string, unknown>): Promise<{ ranOn: string }>;
  dispose(): Promise<void>;
}

/**
 * In the page: a `createTandem` with these bounds; loads and runs every id in turn (keeping every handle),
 * runs the first one again after the last, disposes them all, and loads the first again. Returns the
 * memory after each step, or the error.
 */
async function loadAndEvict(page: SdkPage, ids: string[], bounds: { memoryBudgetBytes: number; maxLoadedModels: number }) {
  return page.page.evaluate(
    async ({ ids, bounds, capabilities }) => {
      const sdk = (window as unknown as { byom: { sdk: PageSdk } }).byom.sdk;
      const served = (await (await fetch('/demo-config.json')).json()) as { edge: string; publicKeys: unknown };
      const tandem = sdk.createTandem({
        edge: served.edge,
        publicKeys: served.publicKeys,
        apiKey: 'dev-api-key',
        wasmPaths: new URL('/ort/', location.href).href,
        placement: 'device-only',
        persistStorage: false,
        capabilities,
        ...bounds,
      });
      const steps: Step[] = [];
      let mark = performance.now();
      const note = async (step: string, ranOn?: string) => {
        const ms = Math.round(performance.now() - mark);
        steps.push({ step, ...(await tandem.stats()).memory, ...(ranOn ? { ranOn } : {}), ms });
        mark = performance.now();
      };
      const x = { x: { data: new Float32Array(256).fill(0.5), dims: [1, 256] } };
      try {
        const models: PageModel[] = [];
        for (const id of ids) {
          const model = await tandem.load(id, { variant: 'int8' });
          models.push(model);
          await note(`run ${id}`, (await model.run(x, { cache: 'no-store' })).ranOn);
        }
        await note(`run ${ids[0]} again`, (await models[0]!.run(x, { cache: 'no-store' })).ranOn);
        for (const model of models) await model.dispose();
        await note('all disposed');
        const fresh = await tandem.load(ids[0]!, { variant: 'int8' });
        await note(`fresh load of ${ids[0]}`, (await fresh.run(x, { cache: 'no-store' })).ranOn);
        await tandem.dispose();
        return { ok: true as const, steps };
      } catch (err) {
        const e = err as { code?: string; message?: string };
        return { ok: false as const, code: e.code, message: e.message ?? String(err), steps };
      }
    },
    { ids, bounds, capabilities: WASM_ONLY },
  );
}

describe('memory', () => {
  it(`loading and evicting ${COUNT} models keeps the worker's open sessions within the budget`, async () => {
    const page = await SdkPage.open(session.context, session.env.stack.demoUrl);
    const memoryBudgetBytes = Math.floor(3.5 * int8Bytes); // Room for 3 of them.
    const result = await loadAndEvict(page, IDS, { memoryBudgetBytes, maxLoadedModels: 8 });
    console.log(
      `memory (budget ${memoryBudgetBytes} B, model ${int8Bytes} B): ${JSON.stringify(result.steps.map((s) => [s.step, s.sessions, s.sessionBytes, s.ms]))}`,
    );
    expect(result).toMatchObject({ ok: true });
    expect(result.steps).toHaveLength(COUNT + 3);
    for (const s of result.steps) {
      expect(s.sessions, s.step).toBeLessThanOrEqual(3);
      expect(s.sessionBytes, s.step).toBeLessThanOrEqual(memoryBudgetBytes);
      expect(s.peakSessions, s.step).toBeLessThanOrEqual(3);
      expect(s.budgetBytes).toBe(memoryBudgetBytes);
      if (s.ranOn) expect(s.ranOn, s.step).toBe('device');
    }
    expect(result.steps[COUNT - 1]!.sessions).toBe(3); // Full: the budget, not a lack of loads, bounds it.
    expect(result.steps.find((s) => s.step === 'all disposed')!.sessions).toBe(0);
    expect(result.steps.at(-1)!.sessions).toBe(1);
  }, 300_000);

  it('the load memo alone (budget large) releases the sessions it drops; with neither bound, every model stays open', async () => {
    const page = await SdkPage.open(session.context, session.env.stack.demoUrl);
    const memo = await loadAndEvict(page, IDS.slice(0, 8), { memoryBudgetBytes: 1 << 30, maxLoadedModels: 3 });
    console.log(`memo of 3: ${JSON.stringify(memo.steps.map((s) => [s.step, s.sessions]))}`);
    expect(memo).toMatchObject({ ok: true });
    // The first model's handle was dropped by the memo (its session released): it reopens one to run.
    for (const s of memo.steps) expect(s.sessions, s.step).toBeLessThanOrEqual(s.step.endsWith('again') ? 4 : 3);
    expect(memo.steps.find((s) => s.step === 'all disposed')!.sessions).toBe(0);

    const unbounded = await loadAndEvict(page, IDS.slice(0, 6), { memoryBudgetBytes: 1 << 30, maxLoadedModels: 64 });
    expect(unbounded).toMatchObject({ ok: true });
    expect(unbounded.steps[5]!.sessions).toBe(6);
    expect(unbounded.steps.find((s) => s.step === 'all disposed')!.sessions).toBe(0);
  }, 300_000);
});
