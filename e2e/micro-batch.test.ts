/**
 * Micro-batching through the real Web Worker in Chromium (issue 16): 8 concurrent `run`s of a model that
 * can batch give each caller the outputs its run gives alone, and the worker coalesced them into fewer
 * onnxruntime runs (`tandem.stats().batching`); with `microBatch: false` the same 8 make 8 runs. The
 * built-in models' device variant is dynamic int8, which never batches (its activation ranges span the
 * batch), so the test publishes the MLP with its fp32 file as the device variant, signed by the stack's
 * key. Times are printed, not asserted (bench/ measures them).
 *
 * Tolerance: |a − b| ≤ 1e-5·max(1, |b|) between a coalesced answer and the same rows run alone.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { FP32_DEVICE_VARIANT, publishFp32DeviceVariant } from '../origin/test-support.ts';
import { WASM_ONLY } from './support/browser.ts';
import { useE2eSession } from './support/hooks.ts';
import { SdkPage } from './support/sdk-page.ts';

const session = useE2eSession();
const ID = 'mlp-fp32-device';
const VARIANT = FP32_DEVICE_VARIANT;
const CALLERS = 8;

beforeAll(async () => {
  await publishFp32DeviceVariant(session.env.repo, 'mlp-classifier', ID);
  await session.env.stack.restartEdge(); // Seeds its R2 again from the repository, this model included.
});

interface Phase {
  outputs: number[][];
  ms: number;
  batching: { runs: number; callers: number };
}

interface PageSdk {
  createTandem(config: Record<string, unknown>): PageTandem;
}
interface PageTandem {
  load(id: string, options: Record<string, unknown>): Promise<PageModel>;
  stats(): Promise<{ batching: { runs: number; callers: number } }>;
  dispose(): Promise<void>;
}
interface PageModel {
  run(inputs: Record<string, unknown>, options: Record<string, unknown>): Promise<{ ranOn: string; outputs: Record<string, { data: Float32Array }> }>;
}

/** In the page: the model loaded on WASM, its 8 inputs run one at a time, then all 8 at once; each phase's logits, time and batching counts. */
async function oneThenConcurrent(page: SdkPage, microBatch: unknown) {
  return page.page.evaluate(
    async ({ id, variant, callers, microBatch, capabilities }) => {
      const sdk = (window as unknown as { byom: { sdk: PageSdk } }).byom.sdk;
      const served = (await (await fetch('/demo-config.json')).json()) as { edge: string; publicKeys: unknown };
      const tandem = sdk.createTandem({
        edge: served.edge,
        publicKeys: served.publicKeys,
        apiKey: 'dev-api-key',
        wasmPaths: new URL('/ort/', location.href).href,
        placement: 'device-only',
        persistStorage: false,
        telemetry: false,
        capabilities,
        microBatch,
      });
      try {
        const model = await tandem.load(id, { variant });
        // Caller i sends 1 + i % 3 rows of its own values.
        const inputs = Array.from({ length: callers }, (_, i) => {
          const rows = 1 + (i % 3);
          return { x: { data: Float32Array.from({ length: rows * 256 }, (_, j) => Math.sin(i * 1000 + j * 0.37)), dims: [rows, 256] } };
        });
        const run = async (x: (typeof inputs)[number]) => {
          const r = await model.run(x, { cache: 'no-store' });
          if (r.ranOn !== 'device') throw new Error(`ran on ${r.ranOn}`);
          return Array.from(r.outputs.logits!.data);
        };
        await run(inputs[0]!); // Warm: the first run of a session is slower.
        const phase = async (go: () => Promise<number[][]>) => {
          const before = (await tandem.stats()).batching;
          const start = performance.now();
          const outputs = await go();
          const ms = performance.now() - start;
          const after = (await tandem.stats()).batching;
          return { outputs, ms, batching: { runs: after.runs - before.runs, callers: after.callers - before.callers } };
        };
        const alone = await phase(async () => {
          const out: number[][] = [];
          for (const x of inputs) out.push(await run(x));
          return out;
        });
        const together = await phase(() => Promise.all(inputs.map(run)));
        await tandem.dispose();
        return { ok: true as const, alone, together };
      } catch (err) {
        const e = err as { code?: string; message?: string };
        return { ok: false as const, code: e.code, message: e.message ?? String(err) };
      }
    },
    { id: ID, variant: VARIANT, callers: CALLERS, microBatch, capabilities: WASM_ONLY },
  );
}

function worstDifference(a: number[][], b: number[][]): number {
  let worst = 0;
  a.forEach((row, i) => {
    expect(row.length).toBe(b[i]!.length);
    row.forEach((v, j) => (worst = Math.max(worst, Math.abs(v - b[i]![j]!) / Math.max(1, Math.abs(b[i]![j]!)))));
  });
  return worst;
}

const figures = (name: string, alone: Phase, together: Phase) =>
  console.log(
    `${name}: ${CALLERS} callers one at a time ${alone.ms.toFixed(1)} ms (${alone.batching.runs} runs), ` +
      `concurrently ${together.ms.toFixed(1)} ms (${together.batching.runs} onnxruntime runs for ${together.batching.callers} calls)`,
  );

describe('micro-batching in the Web Worker', () => {
  it(`${CALLERS} concurrent runs are coalesced into fewer onnxruntime runs, each caller getting its lone run's outputs`, async () => {
    const page = await SdkPage.open(session.context, session.env.stack.demoUrl);
    const result = await oneThenConcurrent(page, undefined);
    expect(result).toMatchObject({ ok: true });
    if (!result.ok) return;
    figures('micro-batching on (defaults)', result.alone, result.together);
    expect(result.alone.batching).toEqual({ runs: CALLERS, callers: CALLERS });
    expect(result.together.batching.callers).toBe(CALLERS);
    expect(result.together.batching.runs).toBeLessThan(CALLERS);
    expect(worstDifference(result.together.outputs, result.alone.outputs)).toBeLessThanOrEqual(1e-5);
  });

  it('with microBatch: false the same concurrent runs are not coalesced, and agree too', async () => {
    const page = await SdkPage.open(session.context, session.env.stack.demoUrl);
    const result = await oneThenConcurrent(page, false);
    expect(result).toMatchObject({ ok: true });
    if (!result.ok) return;
    figures('micro-batching off', result.alone, result.together);
    expect(result.together.batching).toEqual({ runs: 0, callers: 0 });
    expect(worstDifference(result.together.outputs, result.alone.outputs)).toBeLessThanOrEqual(1e-5);
  });
});
