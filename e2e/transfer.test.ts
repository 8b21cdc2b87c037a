/**
 * Issue 15: a tensor over 64 KiB crosses the page → Web Worker and Web Worker → page boundaries by
 * transfer, never by structured-clone copy. `postMessage` is wrapped on both sides of the SDK's real
 * worker (Worker.prototype and MessagePort.prototype in the page before any script runs, the worker's
 * global and MessagePort.prototype once it started: comlink posts through the worker, runs through a
 * channel of their own) to record, for every ArrayBuffer over 64 KiB a message carries, whether it
 * was in the transfer list and whether it was detached on the sending side afterwards (a transferred
 * buffer is; a copied one keeps its bytes). A control posts a large buffer without transfer to show the
 * recorder tells a copy apart. The int8 MLP at batch 2048: 2 MiB of input, 80 KiB of output.
 */
import type { Worker as PlaywrightWorker } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { WASM_ONLY } from './support/browser.ts';
import { useE2eSession } from './support/hooks.ts';
import { SdkPage } from './support/sdk-page.ts';

const ROWS = 2048;
const FEATURES = 256;
const CLASSES = 10;
const LARGE = 64 * 1024;

/** One large ArrayBuffer a message carried. */
interface Crossing {
  bytes: number;
  /** It was in the message's transfer list. */
  listed: boolean;
  /** Its byteLength was 0 on the sending side right after postMessage: it moved. */
  detached: boolean;
}

/**
 * Wraps each target's `postMessage` (a prototype or a global) and returns where it records, per call, the
 * ArrayBuffers over 64 KiB the message holds. Runs in the browser (as source text: it is serialized).
 */
const RECORDER = `(targets, limit) => {
  const records = [];
  for (const target of targets) {
  const original = target.postMessage;
  const collect = (value, found, seen, depth) => {
    if (value === null || typeof value !== 'object' || depth > 12 || seen.has(value)) return;
    seen.add(value);
    if (value instanceof ArrayBuffer) { if (value.byteLength > limit) found.add(value); return; }
    if (ArrayBuffer.isView(value)) { if (value.buffer instanceof ArrayBuffer && value.buffer.byteLength > limit) found.add(value.buffer); return; }
    for (const v of Array.isArray(value) ? value : Object.values(value)) collect(v, found, seen, depth + 1);
  };
  target.postMessage = function (message, transferOrOptions) {
    const transfer = Array.isArray(transferOrOptions) ? transferOrOptions : (transferOrOptions && transferOrOptions.transfer) || [];
    const found = new Set();
    collect(message, found, new Set(), 0);
    const before = [...found].map((buffer) => ({ buffer, bytes: buffer.byteLength, listed: transfer.includes(buffer) }));
    const result = original.apply(this, arguments);
    records.push(before.map(({ buffer, bytes, listed }) => ({ bytes, listed, detached: buffer.byteLength === 0 })));
    return result;
  };
  }
  return records;
}`;

/** The loaded model as the page holds it (the members used here). */
interface PageModel {
  run(inputs: unknown, options: { cache: string }): Promise<{ ranOn: string; outputs: Record<string, { dims: readonly number[]; data: Float32Array }> }>;
}

const session = useE2eSession();

describe('tensors over 64 KiB cross the Web Worker boundary by transfer', () => {
  it('page → worker (the SDK’s copy of the input) and worker → page (the output), never copied', async () => {
    await session.context.addInitScript(`window.__tandemPosts = (${RECORDER})([Worker.prototype, MessagePort.prototype], ${LARGE});`);
    const sdk = await SdkPage.open(session.context, session.env.stack.demoUrl);
    const page = sdk.page;

    // Control: the recorder sees a large buffer posted without transfer as copied (listed and detached false).
    const control = await page.evaluate(() => {
      const posts = (window as unknown as { __tandemPosts: Crossing[][] }).__tandemPosts;
      const worker = new Worker(URL.createObjectURL(new Blob(['onmessage = () => {};'], { type: 'text/javascript' })));
      const from = posts.length;
      worker.postMessage({ data: new Float32Array(32 * 1024) });
      worker.terminate();
      return posts.slice(from);
    });
    expect(control).toEqual([[{ bytes: 128 * 1024, listed: false, detached: false }]]);

    const before = new Set(page.workers());
    await sdk.createInstance('t', { capabilities: WASM_ONLY });
    const loaded = await sdk.load('t', 'mlp-classifier', 'int8', 'device-only');
    expect(loaded).toMatchObject({ ok: true, value: { target: 'device', backend: 'wasm' } });
    const started = page.workers().filter((w) => !before.has(w));
    expect(started, 'the SDK started one Web Worker for the instance').toHaveLength(1);
    const worker: PlaywrightWorker = started[0]!;
    await worker.evaluate(`self.__tandemPosts = (${RECORDER})([self, MessagePort.prototype], ${LARGE}); true`);

    const pageFrom = await page.evaluate(() => (window as unknown as { __tandemPosts: unknown[] }).__tandemPosts.length);
    const run = await page.evaluate(
      async ({ rows, features }) => {
        const byom = (window as unknown as { byom: { models: Record<string, PageModel> } }).byom;
        const x = Float32Array.from({ length: rows * features }, (_, i) => Math.sin(i));
        const sum = x.reduce((a, v) => a + v, 0);
        const result = await byom.models['t/mlp-classifier/int8']!.run({ x: { data: x, dims: [rows, features] } }, { cache: 'no-store' });
        const [name] = Object.keys(result.outputs);
        const out = result.outputs[name!]!;
        return {
          ranOn: result.ranOn,
          dims: [...out.dims],
          outBytes: out.data.byteLength,
          // The caller's array is untouched: the SDK transferred its own copy.
          callerBytes: x.byteLength,
          callerSumKept: x.reduce((a, v) => a + v, 0) === sum,
        };
      },
      { rows: ROWS, features: FEATURES },
    );
    expect(run).toEqual({ ranOn: 'device', dims: [ROWS, CLASSES], outBytes: ROWS * CLASSES * 4, callerBytes: ROWS * FEATURES * 4, callerSumKept: true });

    const toWorker = (await page.evaluate((from) => (window as unknown as { __tandemPosts: Crossing[][] }).__tandemPosts.slice(from), pageFrom)).flat();
    const toPage = ((await worker.evaluate('self.__tandemPosts')) as Crossing[][]).flat();
    console.log(`page → worker: ${JSON.stringify(toWorker)}; worker → page: ${JSON.stringify(toPage)}`);

    // The input's 2 MiB went over, moved; so did the 80 KiB output on the way back; nothing large was copied.
    expect(toWorker.map((c) => c.bytes)).toContain(ROWS * FEATURES * 4);
    expect(toPage.map((c) => c.bytes)).toContain(ROWS * CLASSES * 4);
    for (const crossing of [...toWorker, ...toPage]) expect(crossing).toMatchObject({ listed: true, detached: true });
  });
});
