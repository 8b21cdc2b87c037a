/**
 * The stack changing under a page: the origin dies (and comes back), and a new model version is
 * published. Its own file, so the tests that need a steady stack (device.test.ts) never see this.
 */
import { describe, expect, it } from 'vitest';
import { DemoPage, WASM_ONLY } from './support/browser.ts';
import { indexedDbKeys } from './support/indexeddb.ts';
import { useE2eSession } from './support/hooks.ts';

const RESULT_TTL_MS = 3_000;

const session = useE2eSession();

describe('the origin killed', () => {
  it('keeps device models working, fails an origin-only model fast or answers it stale from the cache, and recovers', async () => {
    const onDevice = await DemoPage.open(session.context, session.env.stack.demoUrl, { capabilities: WASM_ONLY });
    await onDevice.loadOk('mlp-classifier');
    // large-classifier has no device variant: every run goes to the origin.
    const originOnly = await DemoPage.open(session.context, session.env.stack.demoUrl, { resultTtlMs: RESULT_TTL_MS });
    await originOnly.loadOk('large-classifier');
    expect(await originOnly.page.locator('#placement-reason').getAttribute('data-target')).toBe('origin');
    const answered = await originOnly.runOk(1);
    expect(answered.ranOn).toBe('origin');
    const cachedAt = Date.now();

    await session.env.stack.origin.stop('SIGKILL');

    expect(await onDevice.runOk(6)).toMatchObject({ ranOn: 'device', backend: 'wasm', top1: 6 });

    const started = Date.now();
    const failed = await originOnly.run(2);
    const failedInMs = Date.now() - started;
    console.log(`origin-only run with the origin down failed in ${failedInMs} ms: ${JSON.stringify(failed)}`);
    expect(failed).toMatchObject({ ok: false, code: 'origin_unavailable' });
    // Fast: the edge's retries and the SDK's, not the SDK's 30 s request timeout.
    expect(failedInMs).toBeLessThan(15_000);
    await originOnly.screenshot('11-origin-down-error');

    // The answer cached before the crash, now past its TTL: returned, marked stale, with the reason.
    await new Promise((r) => setTimeout(r, Math.max(0, cachedAt + RESULT_TTL_MS + 200 - Date.now())));
    const stale = await originOnly.runOk(1);
    expect(stale).toMatchObject({ ranOn: 'cache', stale: true, top1: answered.top1 });
    expect(stale.ranOnText).toContain('origin_unavailable');
    await originOnly.screenshot('12-origin-down-stale-answer');

    // And back: the origin restarts on its port; the edge and the SDK take it back without a reload.
    await session.env.stack.restartOrigin();
    let recovered: Awaited<ReturnType<DemoPage['run']>> | undefined;
    for (const deadline = Date.now() + 60_000; Date.now() < deadline; ) {
      recovered = await originOnly.run(3, 'no-store');
      if (recovered.ok) break;
      await new Promise((r) => setTimeout(r, 1_000));
    }
    expect(recovered).toMatchObject({ ok: true, result: { ranOn: 'origin' } });
  });
});

describe('a new model version', () => {
  it('is picked up on the next load and invalidates the result cache of the old one; the unchanged bytes stay cached', async () => {
    const page = await DemoPage.open(session.context, session.env.stack.demoUrl, { capabilities: WASM_ONLY });
    await page.loadOk('mlp-classifier');
    const first = await page.runOk(8);
    expect(first).toMatchObject({ ranOn: 'device', version: '1.0.0' });
    expect(await page.runOk(8)).toMatchObject({ ranOn: 'cache', version: '1.0.0' });

    await session.env.publishVersion('mlp-classifier', '1.1.0');
    await page.reload();
    const mark = page.requests.length;
    await page.loadOk('mlp-classifier');
    expect(await page.text('model-version')).toContain('mlp-classifier 1.1.0');
    const after = await page.runOk(8);
    expect(after).toMatchObject({ ranOn: 'device', version: '1.1.0', stale: false, top1: first.top1 });
    expect(await page.cacheHits()).toEqual({ fresh: 0, stale: 0, misses: 1 });
    const keys = await indexedDbKeys(page.page, 'tandem-results', 'results');
    expect(keys.length).toBeGreaterThan(0);
    expect(keys.filter((k) => k.startsWith('result:mlp-classifier@1.0.0:'))).toEqual([]);
    // Same weights re-signed: the bytes are content-addressed, so no download.
    expect(page.requestsTo('/v1/artifacts/', mark)).toEqual([]);
    await page.screenshot('13-new-version');
  });
});
