/**
 * The main-thread SDK's size budget, checked on every `npm test`: what an app ships to the page for the
 * SDK, built as an app builds it (Vite, minified, comlink, idb-keyval and zod/mini bundled in, every
 * export kept), gzipped. onnxruntime-web is not counted: it lives in the Web Worker, its own chunk, which
 * the page does not wait for. Nor is the OIP codec of origin inference, with the origin's circuit breaker (client/origin-chunk.ts): a chunk
 * imported when a placement first includes the origin, which a page running its models on the device
 * never loads; its size is printed beside the budget, and the test checks it stays out of the page's code.
 * So is the update framework (client/trust.ts), which only apps that pin `rootKeys` load, and the search
 * for a version that stands in for one the origins lack (client/version-fallback.ts), loaded on the first
 * such answer, and the result cache (client/core/result-cache.ts), whose import starts with the SDK.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { build, type Rolldown } from 'vite';
import { afterAll, expect, it } from 'vitest';

/** The budget: 30 KiB gzip. */
const BUDGET_BYTES = 30 * 1024;

let app: string | undefined;
afterAll(async () => {
  if (app) await rm(app, { recursive: true, force: true });
});

it(`the main-thread SDK is at most ${BUDGET_BYTES / 1024} KiB gzip, onnxruntime-web excluded`, async () => {
  app = await mkdtemp(join(tmpdir(), 'tandem-bundle-size-'));
  await writeFile(join(app, 'index.html'), '<!doctype html><script type="module" src="./main.js"></script>\n');
  // Every export used: the most an app can ship of the SDK.
  await writeFile(join(app, 'main.js'), `import * as sdk from ${JSON.stringify(join(import.meta.dirname, 'index.ts'))};\nglobalThis.sdk = sdk;\n`);
  const result = await build({
    root: app,
    configFile: false,
    logLevel: 'silent',
    build: { write: false, minify: true, target: 'es2022', modulePreload: false },
    // The worker chunk is not the page's; leave its engine out so the measurement stays fast.
    worker: { format: 'es', rolldownOptions: { external: [/^onnxruntime-web/] } },
  });
  const outputs = (Array.isArray(result) ? result : [result]) as Rolldown.RolldownOutput[];
  const chunks = outputs.flatMap((o) => o.output).filter((o): o is Rolldown.OutputChunk => o.type === 'chunk');
  // The page's code: the entry and what it imports statically. The worker is an asset the page starts.
  const entry = chunks.find((c) => c.isEntry);
  expect(entry, 'the app build has an entry chunk').toBeDefined();
  const page = [entry!, ...entry!.imports.map((name) => chunks.find((c) => c.fileName === name)!)];
  const code = page.map((c) => c.code).join('\n');
  expect(code).not.toMatch(/onnxruntime-web|InferenceSession/);
  const lazy = entry!.dynamicImports.map((name) => chunks.find((c) => c.fileName === name)!);
  const lazyModules = lazy.flatMap((c) => Object.keys(c.modules));
  expect(
    lazyModules.some((id) => id.endsWith('/protocol/oip-codec.ts')),
    'the OIP codec is a lazy chunk',
  ).toBe(true);
  expect(
    page.flatMap((c) => Object.keys(c.modules)).some((id) => id.endsWith('/protocol/oip-codec.ts') || id.endsWith('/protocol/resilience/breaker.ts')),
  ).toBe(false);
  // The update framework, with its rollout record check, loads only for apps that pin rootKeys (adapters/lazy-trust.ts).
  expect(
    lazyModules.some((id) => id.endsWith('/protocol/trust/root.ts')),
    'the update framework is a lazy chunk',
  ).toBe(true);
  expect(
    page
      .flatMap((c) => Object.keys(c.modules))
      .some((id) => id.endsWith('/protocol/trust/root.ts') || id.endsWith('/client/trust.ts') || id.endsWith('/client/rollout-check.ts')),
  ).toBe(false);
  // A version the origins lack: its stand-in search loads on the first such answer (adapters/lazy-version-fallback.ts).
  expect(
    lazyModules.some((id) => id.endsWith('/client/stand-in-version.ts')),
    'the stand-in version search is a lazy chunk',
  ).toBe(true);
  expect(
    page.flatMap((c) => Object.keys(c.modules)).some((id) => id.endsWith('/client/version-fallback.ts') || id.endsWith('/client/stand-in-version.ts')),
  ).toBe(false);
  // The result cache: its import starts with the SDK, off the page's first parse (adapters/lazy-result-cache.ts).
  expect(
    lazyModules.some((id) => id.endsWith('/client/core/result-cache.ts')),
    'the result cache is a lazy chunk',
  ).toBe(true);
  expect(page.flatMap((c) => Object.keys(c.modules)).some((id) => id.endsWith('/client/core/result-cache.ts'))).toBe(false);
  const lazyGzip = lazy.reduce((n, c) => n + gzipSync(c.code).length, 0);
  const gzip = gzipSync(code).length;
  const modules = page.flatMap((c) => Object.keys(c.modules));
  // Not vacuous: the dependencies are really in it.
  for (const dependency of ['comlink', 'idb-keyval', 'zod'])
    expect(
      modules.some((id) => id.includes(`/node_modules/${dependency}/`)),
      dependency,
    ).toBe(true);
  console.log(
    `main-thread SDK: ${code.length} bytes minified, ${gzip} bytes gzip (${(gzip / 1024).toFixed(1)} KiB of a ${BUDGET_BYTES / 1024} KiB budget); lazy chunks (OIP codec, onnxruntime Tensor class, update framework, telemetry, version fallback, result cache): ${lazyGzip} bytes gzip`,
  );
  expect(gzip).toBeLessThanOrEqual(BUDGET_BYTES);
});
