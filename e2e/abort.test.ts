/**
 * Aborts as the web does them, in Chromium against the real stack: a device run that is computing in the
 * Web Worker (a large batch on shapes-cnn, on WASM) is aborted and its caller sees a DOMException
 * `AbortError` within 50 ms, timed in the page with `performance.now()`; the worker's late answer goes
 * nowhere and the model runs again. An already-aborted `load` and `run` reject the same way, and an
 * aborted origin run too.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ARTIFACTS, WASM_ONLY } from './support/browser.ts';
import { useE2eSession } from './support/hooks.ts';
import { SdkPage } from './support/sdk-page.ts';

const session = useE2eSession();

/** What the page measured (types local: e2e does not compile client/). */
interface AbortFigures {
  batch: number;
  fullRunMs: number;
  abortedAfterMs: number;
  /** Whether the run had already answered when the abort came (then the test proves nothing). */
  settledBeforeAbort: boolean;
  /** From `controller.abort()` to the rejection reaching the caller. */
  latencyMs: number;
  name: string;
  isDomException: boolean;
  sameAsReason: boolean;
  /** A run after the aborted one (which the worker finished first). */
  nextRun: { ranOn: string; batch: number; outputType: string; isTensor: boolean };
}

describe('aborts', () => {
  it('a long device run, aborted while the worker computes, rejects with AbortError within 50 ms; the model runs again', async () => {
    const sdk = await SdkPage.open(session.context, session.env.stack.demoUrl);
    await sdk.createInstance('wasm', { capabilities: WASM_ONLY });
    // shapes-cnn, the largest built-in model with a device variant (the large classifier is origin-only).
    const load = await sdk.load('wasm', 'shapes-cnn', 'int8', 'device-only');
    expect(load, JSON.stringify(load)).toMatchObject({ ok: true, value: { target: 'device', backend: 'wasm' } });

    const figures = (await sdk.page.evaluate(async (key) => {
      const byom = (window as unknown as { byom: { models: Record<string, PageModel> } }).byom;
      const model = byom.models[key]!;
      const images = (batch: number) => ({ image: { type: 'float32', dims: [batch, 1, 28, 28], data: new Float32Array(batch * 28 * 28).fill(0.5) } });
      // Warm (the first run of a session pays for its set-up), then a batch that keeps the worker busy for
      // a while (at least 600 ms), found by doubling.
      await model.run(images(2), { cache: 'no-store' });
      let batch = 512;
      let fullRunMs = 0;
      for (;;) {
        const t0 = performance.now();
        await model.run(images(batch), { cache: 'no-store' });
        fullRunMs = performance.now() - t0;
        if (fullRunMs >= 600 || batch >= 1 << 16) break;
        batch *= 2;
      }
      const controller = new AbortController();
      const input = images(batch);
      const started = performance.now();
      const running = model.run(input, { cache: 'no-store', signal: controller.signal });
      let settledBeforeAbort = false;
      running.then(
        () => (settledBeforeAbort ||= !controller.signal.aborted),
        () => {},
      );
      await new Promise((r) => setTimeout(r, 100));
      const t0 = performance.now();
      const abortedAfterMs = t0 - started;
      controller.abort();
      const err = await running.then(
        () => undefined,
        (e: unknown) => e,
      );
      const latencyMs = performance.now() - t0;
      const next = await model.run(images(2), { cache: 'no-store' });
      const y = Object.values(next.outputs)[0]!;
      return {
        batch,
        fullRunMs,
        abortedAfterMs,
        settledBeforeAbort,
        latencyMs,
        name: (err as { name?: string } | undefined)?.name ?? 'resolved',
        isDomException: err instanceof DOMException,
        sameAsReason: err === controller.signal.reason,
        nextRun: { ranOn: next.ranOn, batch: y.dims[0]!, outputType: y.type, isTensor: typeof y.getData === 'function' && typeof y.dispose === 'function' },
      };

      interface PageModel {
        run(
          inputs: Record<string, unknown>,
          options: { cache: string; signal?: AbortSignal },
        ): Promise<{ ranOn: string; outputs: Record<string, { type: string; dims: readonly number[]; getData?: unknown; dispose?: unknown }> }>;
      }
    }, 'wasm/shapes-cnn/int8')) as AbortFigures;

    console.log(`abort: ${JSON.stringify(figures)}`);
    await mkdir(ARTIFACTS, { recursive: true });
    await writeFile(join(ARTIFACTS, 'abort.json'), `${JSON.stringify(figures, null, 2)}\n`);
    expect(figures.fullRunMs).toBeGreaterThanOrEqual(600);
    expect(figures.settledBeforeAbort).toBe(false);
    expect(figures).toMatchObject({ name: 'AbortError', isDomException: true, sameAsReason: true });
    expect(figures.latencyMs).toBeLessThan(50);
    expect(figures.nextRun).toEqual({ ranOn: 'device', batch: 2, outputType: 'float32', isTensor: true });
  });

  it('an already-aborted load and run, an origin run aborted after its start, and a timed-out one reject as fetch does', async () => {
    const sdk = await SdkPage.open(session.context, session.env.stack.demoUrl);
    await sdk.createInstance('origin');
    const loaded = await sdk.load('origin', 'mlp-classifier', 'int8', 'origin-only');
    expect(loaded.ok, JSON.stringify(loaded)).toBe(true);
    const outcome = await sdk.page.evaluate(async () => {
      const byom = (window as unknown as { byom: PageGlobals }).byom;
      const tandem = byom.tandems.origin!;
      const model = byom.models['origin/mlp-classifier/int8']!;
      const nameOf = (p: Promise<unknown>) =>
        p.then(
          () => 'resolved',
          (e: unknown) => `${e instanceof DOMException ? 'DOMException' : 'other'}:${(e as { name?: string }).name}`,
        );
      const x = { x: { type: 'float32', dims: [1, 256], data: new Float32Array(256) } };
      const load = await nameOf(tandem.load('mlp-classifier', { signal: AbortSignal.abort() }));
      const run = await nameOf(model.run(x, { cache: 'no-store', signal: AbortSignal.abort() }));
      // On the origin: aborted once started (its request, if already sent, is aborted with it).
      const controller = new AbortController();
      const started = model.run(x, { cache: 'no-store', signal: controller.signal });
      await new Promise((r) => setTimeout(r, 1));
      controller.abort();
      const origin = await nameOf(started);
      const timedOut = await nameOf(model.run(x, { cache: 'no-store', signal: AbortSignal.timeout(0) }));
      return { load, run, origin, timedOut };

      interface PageGlobals {
        tandems: Record<string, { load(id: string, options: { signal?: AbortSignal }): Promise<unknown> }>;
        models: Record<string, { run(inputs: Record<string, unknown>, options: { cache: string; signal?: AbortSignal }): Promise<unknown> }>;
      }
    });
    expect(outcome).toEqual({
      load: 'DOMException:AbortError',
      run: 'DOMException:AbortError',
      origin: 'DOMException:AbortError',
      // As fetch does with AbortSignal.timeout: the signal's own TimeoutError.
      timedOut: 'DOMException:TimeoutError',
    });
  });
});
