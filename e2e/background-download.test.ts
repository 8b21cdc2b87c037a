/**
 * The background download of issue 16, in Chromium against the real stack: on a first visit under
 * `prefer-device`, with the artifact download held back (Playwright's `route` on `/v1/artifacts/`, which
 * sees the Web Worker's requests too), `load` resolves and the first answer comes from the origin, in about
 * one round trip, while the download still waits; once it is let through, the device session opens in the
 * background and later runs say `ranOn: 'device'`. And the returning visit: the model cache holds the
 * variant, so `isCached` says so and `prefer-device` opens it before `load` resolves, no origin answer and
 * no artifact request; after `tandem.delete` it is a first visit again, and `clearCaches` empties it too.
 */
import type { Route } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { WASM_ONLY } from './support/browser.ts';
import { useE2eSession } from './support/hooks.ts';
import { SdkPage } from './support/sdk-page.ts';

const session = useE2eSession();

/** What the page saw (types local: e2e does not compile client/). */
interface FirstVisit {
  loadMs: number;
  firstAnswerMs: number;
  ranOn: string;
  fallback: unknown;
  deviceAtFirstAnswer: unknown;
}

describe('background download', () => {
  it('a first visit answers from the origin while the artifact downloads, then from the device', async () => {
    const sdk = await SdkPage.open(session.context, session.env.stack.demoUrl);
    await sdk.createInstance('bg', { capabilities: WASM_ONLY });
    await sdk.createInstance('origin');
    // The reference: an origin-only load and first answer in the same page (it also has the dev server
    // transform the chunks both use, the OIP codec and the Tensor class, so they do not count against bg).
    const originOnlyMs = await sdk.page.evaluate(async () => {
      const tandem = (
        window as unknown as { byom: { tandems: Record<string, { load(id: string, o: object): Promise<{ run(i: object, o: object): Promise<unknown> }> }> } }
      ).byom.tandems.origin!;
      const t0 = performance.now();
      const model = await tandem.load('mlp-classifier', { placement: 'origin-only' });
      await model.run({ x: { type: 'float32', dims: [1, 256], data: new Float32Array(256).fill(0.25) } }, { cache: 'no-store' });
      return performance.now() - t0;
    });

    // Every artifact request waits until the test lets it through.
    let release = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    const heldUrls: string[] = [];
    let heldSince = 0;
    const hold = async (route: Route) => {
      heldUrls.push(route.request().url());
      heldSince ||= Date.now();
      await held;
      await route.continue();
    };
    await session.context.route('**/v1/artifacts/**', hold);

    const first = (await sdk.page.evaluate(async () => {
      const byom = (window as unknown as { byom: PageGlobals }).byom;
      const phases: string[] = [];
      (window as unknown as { phases: string[] }).phases = phases;
      const t0 = performance.now();
      const model = await byom.tandems.bg!.load('mlp-classifier', { placement: 'prefer-device', onProgress: (p: { phase: string }) => phases.push(p.phase) });
      const loadMs = performance.now() - t0;
      byom.models.bg = model;
      const r = await model.run({ x: { type: 'float32', dims: [1, 256], data: new Float32Array(256).fill(0.5) } }, { cache: 'no-store' });
      return { loadMs, firstAnswerMs: performance.now() - t0, ranOn: r.ranOn, fallback: r.fallback ?? null, deviceAtFirstAnswer: model.device ?? null };

      interface PageGlobals {
        tandems: Record<string, { load(id: string, options: Record<string, unknown>): Promise<PageModel> }>;
        models: Record<string, PageModel>;
      }
      interface PageModel {
        device: unknown;
        run(inputs: Record<string, unknown>, options: Record<string, unknown>): Promise<{ ranOn: string; fallback?: unknown }>;
      }
    })) as FirstVisit;
    const heldMs = heldSince ? Date.now() - heldSince : 0;
    console.log(
      `first visit: load resolved in ${first.loadMs.toFixed(0)} ms, first answer (${first.ranOn}) at ${first.firstAnswerMs.toFixed(0)} ms ` +
        `(origin-only load and answer: ${originOnlyMs.toFixed(0)} ms); ` +
        (heldSince ? `the artifact had been held ${heldMs} ms` : 'the artifact was not asked for yet'),
    );
    // Every artifact byte is held, so the first answer cannot be the device's. On a loaded machine the origin
    // can answer before the Web Worker has even asked for the artifact: wait for that request (it must come,
    // in the background) rather than assume which happens first.
    expect(first).toMatchObject({ ranOn: 'origin', fallback: null, deviceAtFirstAnswer: null });
    await expect.poll(() => heldUrls.length, { timeout: 60_000, interval: 100 }).toBeGreaterThanOrEqual(1);
    // How long that took beside an origin-only load is printed above, not asserted (a figure, not behaviour):
    // that the answer did not wait for the download is shown by the download still being held.

    release();
    const later = await sdk.page.evaluate(async () => {
      const byom = (window as unknown as { byom: PageGlobals }).byom;
      // Shared with the first load: resolves once the background open is done.
      const waited = await byom.tandems.bg!.load('mlp-classifier', { placement: 'prefer-device', waitForDevice: true });
      const x = { x: { type: 'float32', dims: [1, 256], data: new Float32Array(256).fill(0.5) } };
      const runs = [];
      for (let i = 0; i < 2; i++) {
        const r = await waited.run(x, { cache: 'no-store' });
        runs.push({ ranOn: r.ranOn, backend: r.backend ?? null });
      }
      return { same: waited === byom.models.bg, device: waited.device, runs, phases: (window as unknown as { phases: string[] }).phases };

      interface PageGlobals {
        tandems: Record<string, { load(id: string, options: Record<string, unknown>): Promise<PageModel> }>;
        models: Record<string, PageModel>;
      }
      interface PageModel {
        device: { backend: string; fromCache: boolean } | undefined;
        run(inputs: Record<string, unknown>, options: Record<string, unknown>): Promise<{ ranOn: string; backend?: string }>;
      }
    });
    expect(later.same).toBe(true);
    expect(later.device).toMatchObject({ backend: 'wasm', fromCache: false });
    expect(later.runs).toEqual([
      { ranOn: 'device', backend: 'wasm' },
      { ranOn: 'device', backend: 'wasm' },
    ]);
    // The load's progress heard the background download and the session.
    expect(later.phases).toContain('download');
    expect(later.phases).toContain('session');
    await session.context.unroute('**/v1/artifacts/**', hold);
  });

  it('a returning visit finds the variant cached: isCached, the device before load resolves; after delete or clearCaches, not cached', async () => {
    const sdk = await SdkPage.open(session.context, session.env.stack.demoUrl);
    await sdk.createInstance('first', { capabilities: WASM_ONLY });
    expect(await sdk.load('first', 'mlp-classifier', 'int8', 'device-only')).toMatchObject({ ok: true, value: { target: 'device', backend: 'wasm' } });

    await sdk.reload(); // The same profile: IndexedDB holds the bytes; no instance survives.
    await sdk.createInstance('again', { capabilities: WASM_ONLY });
    const artifactRequests: string[] = [];
    const count = (request: { url(): string }) => void (request.url().includes('/v1/artifacts/') && artifactRequests.push(request.url()));
    session.context.on('request', count);
    const visit = () =>
      sdk.page.evaluate(async () => {
        const tandem = (window as unknown as { byom: { tandems: Record<string, PageTandem> } }).byom.tandems.again!;
        const cachedBefore = await tandem.isCached('mlp-classifier');
        const model = await tandem.load('mlp-classifier', { placement: 'prefer-device' });
        const atLoad = model.device ? { backend: model.device.backend, fromCache: model.device.fromCache } : null;
        const r = await model.run({ x: { type: 'float32', dims: [1, 256], data: new Float32Array(256).fill(0.5) } }, { cache: 'no-store' });
        return { cachedBefore, atLoad, ranOn: r.ranOn };

        interface PageTandem {
          isCached(id: string): Promise<boolean>;
          load(id: string, options: Record<string, unknown>): Promise<PageModel>;
        }
        interface PageModel {
          device: { backend: string; fromCache: boolean } | undefined;
          run(inputs: Record<string, unknown>, options: Record<string, unknown>): Promise<{ ranOn: string }>;
        }
      });
    expect(await visit()).toEqual({ cachedBefore: true, atLoad: { backend: 'wasm', fromCache: true }, ranOn: 'device' });
    expect(artifactRequests).toEqual([]);

    const afterDelete = await sdk.page.evaluate(async () => {
      const tandem = (window as unknown as { byom: { tandems: Record<string, PageTandem> } }).byom.tandems.again!;
      await tandem.delete('mlp-classifier');
      return tandem.isCached('mlp-classifier');

      interface PageTandem {
        delete(id: string): Promise<void>;
        isCached(id: string): Promise<boolean>;
      }
    });
    expect(afterDelete).toBe(false);
    await sdk.reload();
    await sdk.createInstance('again', { capabilities: WASM_ONLY });
    // Its bytes gone, prefer-device answers from the origin while the variant downloads again.
    expect(await visit()).toMatchObject({ cachedBefore: false, atLoad: null, ranOn: 'origin' });
    await expect.poll(() => artifactRequests.length, { timeout: 60_000, interval: 100 }).toBeGreaterThanOrEqual(1);
    session.context.off('request', count);

    // Cached again once the device has it; `clearCaches` empties the model cache as well.
    const cleared = await sdk.page.evaluate(async () => {
      const tandem = (window as unknown as { byom: { tandems: Record<string, PageTandem> } }).byom.tandems.again!;
      await tandem.load('mlp-classifier', { placement: 'prefer-device', waitForDevice: true });
      const before = await tandem.isCached('mlp-classifier');
      await tandem.clearCaches();
      return { before, after: await tandem.isCached('mlp-classifier') };

      interface PageTandem {
        load(id: string, options: Record<string, unknown>): Promise<unknown>;
        isCached(id: string): Promise<boolean>;
        clearCaches(): Promise<void>;
      }
    });
    expect(cleared).toEqual({ before: true, after: false });
  });
});
