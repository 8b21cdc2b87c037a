/**
 * The offline app shell, as client/README.md's "## Offline" section promises it: its `vite.config.ts` and
 * `src/main.ts`, copied from the README as they stand, in a Vite app that installs the SDK from its `npm
 * pack` tarball (as e2e/consumer-app.test.ts does). Built, served from 127.0.0.1 (a secure context) and
 * visited once in Chromium: the model loads and runs on the device and the service worker precaches the
 * app shell. Then every page closed, the app's server stopped and the browser offline, a new page starts
 * from the precache, loads the model from IndexedDB and runs it on the device. And an update (new app
 * code, and a new onnxruntime-web `.wasm`) replaces the precache: the new build is served, and the cache
 * holds exactly the new build's list, nothing of the old one.
 */
import { appendFile, cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { build, createLogger, preview, type PreviewServer } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installPackedSdk, packSdk, run, type PackResult } from '../client/test-support/packed-sdk.ts';
import { useE2eSession } from './support/hooks.ts';
import type { E2eStack } from './support/stack.ts';

const ROOT = join(import.meta.dirname, '..');
const FIXTURE = join(import.meta.dirname, 'support', 'offline-app');
/** onnxruntime-web's runtime, as the app installs it (the file its worker loads and Vite emits). */
const ORT_WASM = join('node_modules', 'onnxruntime-web', 'dist', 'ort-wasm-simd-threaded.jsep.wasm');

/** Appended to the README's `src/main.ts` (same module): the test's hooks and the build's name. */
const hooks = (build: string) => `
// Test hooks, not in the README.
Object.assign(window, { tandem, model });
document.body.dataset.build = '${build}';
document.body.dataset.snippet = 'done';
`;

/** The ```ts blocks of client/README.md's "## Offline" section, verbatim, by the file each names first. */
async function readmeFiles(): Promise<Map<string, string>> {
  const readme = await readFile(join(ROOT, 'client', 'README.md'), 'utf8');
  const section = /^## Offline\n([\s\S]*?)(?=^## |^License)/m.exec(readme)?.[1];
  if (!section) throw new Error('client/README.md has no "## Offline" section');
  const files = new Map<string, string>();
  for (const [, code = ''] of section.matchAll(/^```ts\n([\s\S]*?)^```$/gm)) {
    const file = /^\/\/ ([\w./-]+)/.exec(code)?.[1];
    if (!file) throw new Error(`a \`\`\`ts block of the "## Offline" section does not start with the file it is:\n${code}`);
    files.set(file, code);
  }
  for (const needed of ['vite.config.ts', 'src/main.ts']) if (!files.has(needed)) throw new Error(`the "## Offline" section has no block for ${needed}`);
  return files;
}

/** Writes the README's files into the app, `src/main.ts` with the hooks naming `build`. */
async function writeReadmeFiles(build: string): Promise<void> {
  for (const [file, code] of await readmeFiles()) {
    await mkdir(dirname(join(app, file)), { recursive: true });
    await writeFile(join(app, file), file === 'src/main.ts' ? code + hooks(build) : code);
  }
}

/** The app as the README has the developer make it, in a temporary folder. */
async function createApp(env: E2eStack, sdk: PackResult): Promise<string> {
  const dir = join(work, 'app');
  await cp(FIXTURE, dir, { recursive: true });
  await installPackedSdk(dir, sdk);
  // Vite is the app's own dev dependency: this repository's, linked (the test reaches no registry).
  await symlink(join(ROOT, 'node_modules', 'vite'), join(dir, 'node_modules', 'vite'), 'dir');
  await mkdir(join(dir, 'src'), { recursive: true });
  await writeFile(join(dir, 'src', 'trusted-keys.json'), env.repo.trustedKeys);
  await writeFile(join(dir, '.env'), `VITE_TANDEM_EDGE=${env.stack.edge.url}\n`);
  return dir;
}

/** `vite build` of the app with its own vite.config.ts (the README's); Vite's warnings, collected. */
async function buildApp(): Promise<string[]> {
  const warnings: string[] = [];
  const logger = createLogger('warn');
  const record = (msg: string) => void (msg.includes('[PLUGIN_TIMINGS]') || warnings.push(msg));
  // As `vite build` in a shell: vitest's NODE_ENV=test would make Vite build with import.meta.env.PROD false.
  const nodeEnv = process.env.NODE_ENV;
  process.env.NODE_ENV = 'production';
  try {
    await build({ root: app, customLogger: { ...logger, warn: record, warnOnce: record, error: record } });
  } finally {
    process.env.NODE_ENV = nodeEnv;
  }
  return warnings;
}

interface ManifestEntry {
  url: string;
  revision: string | null;
}

/** The precache list that the build injected into `dist/sw.js`. */
async function builtPrecacheList(): Promise<ManifestEntry[]> {
  const sw = await readFile(join(app, 'dist', 'sw.js'), 'utf8');
  expect(sw).not.toContain('self.__SW_MANIFEST');
  const entries = [...sw.matchAll(/\{"(?:revision|url)":[^{}]*\}/g)].map(([json]) => JSON.parse(json) as ManifestEntry);
  expect(entries.length).toBeGreaterThan(0);
  return entries;
}

/** The cache keys Serwist keeps for a list: a revision as `__WB_REVISION__`, a hashed name as it is. */
const cacheKeysOf = (origin: string, entries: ManifestEntry[]) =>
  entries.map((e) => (e.revision ? `${origin}/${e.url}?__WB_REVISION__=${e.revision}` : `${origin}/${e.url}`)).sort();

/** Serves the built app on 127.0.0.1 (`port` 0: any free port). */
async function serve(port: number): Promise<PreviewServer> {
  return preview({ root: app, logLevel: 'warn', preview: { host: '127.0.0.1', port, strictPort: port !== 0 } });
}

/** Every Cache Storage entry of the app's origin, by cache name. */
function cacheContents(page: Page): Promise<Record<string, string[]>> {
  return page.evaluate(async () => {
    const out: Record<string, string[]> = {};
    for (const name of await caches.keys()) out[name] = (await (await caches.open(name)).keys()).map((r) => r.url).sort();
    return out;
  });
}

/** A page, recording its errors and every response of the page and its worker (with where it came from). */
async function openPage(context: BrowserContext) {
  const errors: string[] = [];
  const responses: { url: string; fromServiceWorker: boolean; status: number }[] = [];
  const page = await context.newPage();
  page.on('pageerror', (err) => errors.push(err.message));
  context.on('console', (message) => {
    if (message.page() === null) console.log(`[service worker ${message.type()}] ${message.text()}`);
  });
  page.on('console', (message) => {
    if (message.type() === 'warning' || message.type() === 'error') console.log(`[page ${message.type()}] ${message.text()}`);
  });
  context.on('response', (response) => responses.push({ url: response.url(), fromServiceWorker: response.fromServiceWorker(), status: response.status() }));
  return { page, errors, responses };
}

/** Opens the app and waits for the snippet (and the hooks) to finish; resolves with what it shows. */
async function visit(page: Page, errors: string[], url: string): Promise<{ shown: string; build: string | undefined }> {
  await page.goto(url);
  try {
    await page.locator('body[data-snippet="done"]').waitFor({ timeout: 90_000 });
  } catch (err) {
    throw new Error(`the snippet did not finish; page errors: ${JSON.stringify(errors)}`, { cause: err });
  }
  return {
    shown: await page.locator('#app').innerText(),
    build: await page
      .locator('body')
      .getAttribute('data-build')
      .then((b) => b ?? undefined),
  };
}

/** The keys of the one precache (Serwist's cache names it so), or none. */
async function precacheKeys(page: Page): Promise<string[]> {
  const cached = await cacheContents(page);
  return Object.entries(cached).find(([name]) => name.includes('precache'))?.[1] ?? [];
}

/** Waits until the service worker is active and controls the page (it claims its clients); its scope. */
async function controlled(page: Page): Promise<string> {
  const state = () =>
    page.evaluate(async () => {
      const registration = await navigator.serviceWorker.getRegistration();
      return {
        readyState: document.readyState,
        scope: registration?.scope,
        installing: registration?.installing?.state,
        waiting: registration?.waiting?.state,
        active: registration?.active?.state,
        controlled: navigator.serviceWorker.controller !== null,
      };
    });
  try {
    await expect.poll(async () => (await state()).controlled, { timeout: 90_000, interval: 250 }).toBe(true);
  } catch (err) {
    throw new Error(`the service worker does not control the page: ${JSON.stringify(await state())}`, { cause: err });
  }
  return (await state()).scope!;
}

/** The snippet's model: where its manifest came from, its device state, and a run on a new input. */
function modelState(page: Page, fill: number) {
  return page.evaluate(async (fill) => {
    const { model } = window as unknown as {
      model: {
        manifestSource: string;
        device: { backend: string; fromCache: boolean } | undefined;
        run(inputs: Record<string, { type: string; dims: number[]; data: Float32Array }>): Promise<{ ranOn: string; backend: string | undefined }>;
      };
    };
    const { ranOn, backend } = await model.run({ x: { type: 'float32', dims: [1, 256], data: new Float32Array(256).fill(fill) } });
    return { manifestSource: model.manifestSource, device: model.device, ranOn, backend };
  }, fill);
}

/** Closes every page of the context: nothing of the app is left running. */
async function closeAllPages(context: BrowserContext): Promise<void> {
  for (const page of context.pages()) await page.close();
  expect(context.pages()).toEqual([]);
}

/**
 * Appends a WebAssembly custom section (which engines skip) to onnxruntime-web's `.wasm` in the app's
 * node_modules: new bytes that run as before, as a new onnxruntime-web release would bring.
 */
async function updateOrtWasm(): Promise<void> {
  const name = new TextEncoder().encode('tandem-e2e');
  const payload = new TextEncoder().encode('update');
  const size = 1 + name.length + payload.length;
  await appendFile(join(app, ORT_WASM), new Uint8Array([0, size, name.length, ...name, ...payload]));
}

const wasmOf = (entries: ManifestEntry[]) => entries.filter((e) => e.url.endsWith('.wasm')).map((e) => e.url);

let work: string;
let sdkPack: Promise<PackResult>;
let app: string;
let server: PreviewServer | undefined;
let port = 0;
let url = '';
let origin = '';
/** One browser profile for the whole file: the service worker, its caches and IndexedDB live on in it. */
let shell: BrowserContext;
let v1: ManifestEntry[] = [];

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'tandem-offline-app-'));
  sdkPack = packSdk(join(work, 'pack'));
  sdkPack.catch(() => {});
});
const session = useE2eSession();
beforeAll(async () => {
  app = await createApp(session.env, await sdkPack);
  shell = await session.browser.newContext();
});
afterAll(async () => {
  await shell?.close();
  await server?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('the offline app shell (client/README.md "## Offline") in a Vite app', () => {
  it('type-checks, and `vite build` writes sw.js precaching the page, its scripts, the SDK worker and the onnxruntime .wasm', async () => {
    await writeReadmeFiles('v1');
    await run(join(ROOT, 'node_modules', '.bin', 'tsc'), ['-p', app], app);
    expect(await buildApp()).toEqual([]);
    v1 = await builtPrecacheList();
    const urls = v1.map((e) => e.url);
    console.log(`sw.js precaches ${urls.length} files: ${urls.join(', ')}`);
    expect(urls).toContain('index.html');
    expect(urls.some((u) => /^assets\/index-[\w-]+\.js$/.test(u))).toBe(true);
    expect(urls.some((u) => /^assets\/worker-[\w-]+\.js$/.test(u))).toBe(true);
    expect(wasmOf(v1)).toEqual([expect.stringMatching(/^assets\/ort-wasm-simd-threaded\.jsep-[\w-]+\.wasm$/)]);
    // Hashed names are their own revision; only index.html carries one.
    expect(v1.filter((e) => e.revision !== null).map((e) => e.url)).toEqual(['index.html']);
    expect(urls).not.toContain('sw.js');
    server = await serve(0);
    url = server.resolvedUrls!.local[0]!;
    origin = new URL(url).origin;
    port = Number(new URL(url).port);
  });

  it('first visit: the model loads and runs on the device, and the service worker precaches the app shell', async () => {
    const { page, errors } = await openPage(shell);
    const { shown, build } = await visit(page, errors, url);
    expect(build).toBe('v1');
    expect(shown).toMatch(/ran on device \(wasm\)/);
    const scope = await controlled(page);
    expect(scope).toBe(`${origin}/`);
    const cached = await cacheContents(page);
    const precaches = Object.keys(cached).filter((name) => name.includes('precache'));
    expect(precaches).toHaveLength(1);
    expect(cached[precaches[0]!]).toEqual(cacheKeysOf(origin, v1));
    expect(errors).toEqual([]);
  });

  it('offline, every page closed and the server stopped: a new page starts from the precache, loads the model from IndexedDB, runs it on the device', async () => {
    await closeAllPages(shell);
    await server!.close();
    server = undefined;
    await shell.setOffline(true);
    try {
      const { page, errors, responses } = await openPage(shell);
      const { shown, build } = await visit(page, errors, url);
      expect(build).toBe('v1');
      // The snippet's input was run online: its answer may come from the result cache.
      expect(shown).toMatch(/ran on (device|cache) \(wasm\)/);
      // A new input runs on the device, on the model from IndexedDB.
      expect(await modelState(page, 0.25)).toEqual({
        manifestSource: 'cache',
        device: expect.objectContaining({ backend: 'wasm', fromCache: true }),
        ranOn: 'device',
        backend: 'wasm',
      });
      const app = responses.filter((r) => r.url.startsWith(`${origin}/`));
      // The page, its script, the SDK worker and the .wasm came from the service worker (nothing serves them now).
      for (const pattern of [/\/$/, /\/assets\/index-[\w-]+\.js$/, /\/assets\/worker-[\w-]+\.js$/, /\.wasm$/])
        expect(
          app.some((r) => pattern.test(r.url) && r.fromServiceWorker && r.status === 200),
          `${pattern} from the service worker`,
        ).toBe(true);
      expect(app.filter((r) => !r.fromServiceWorker)).toEqual([]);
      expect(errors).toEqual([]);
    } finally {
      await shell.setOffline(false);
    }
  });

  it('an update of the app and of the onnxruntime .wasm replaces the precache: the new build is served, the old entries are gone', async () => {
    await closeAllPages(shell);
    await writeReadmeFiles('v2');
    await updateOrtWasm();
    expect(await buildApp()).toEqual([]);
    const v2 = await builtPrecacheList();
    const [oldWasm] = wasmOf(v1);
    const [newWasm] = wasmOf(v2);
    expect(newWasm).toBeDefined();
    expect(newWasm).not.toBe(oldWasm);
    const oldIndex = v1.find((e) => e.url === 'index.html')!.revision;
    expect(v2.find((e) => e.url === 'index.html')!.revision).not.toBe(oldIndex);
    server = await serve(port);

    const { page, errors } = await openPage(shell);
    // The open page was started by the old shell; the browser finds the new sw.js at this navigation.
    await visit(page, errors, url);
    const expected = cacheKeysOf(origin, v2);
    // The new service worker installs (precaching what changed), takes over and cleans up.
    await expect.poll(() => precacheKeys(page), { timeout: 120_000, interval: 500 }).toEqual(expected);
    const cached = await cacheContents(page);
    // One precache, holding exactly the new list: the old script, page revision and .wasm are gone.
    expect(Object.keys(cached).filter((name) => name.includes('precache'))).toHaveLength(1);
    const keys = Object.values(cached).flat();
    for (const gone of v1.filter((e) => !v2.some((n) => n.url === e.url && n.revision === e.revision)))
      expect(keys, gone.url).not.toContain(cacheKeysOf(origin, [gone])[0]);
    expect(keys).toContain(`${origin}/${newWasm}`);

    // The new build, served with no network again, runs the model on the device on the new .wasm.
    await closeAllPages(shell);
    await server.close();
    server = undefined;
    await shell.setOffline(true);
    try {
      const next = await openPage(shell);
      const { build, shown } = await visit(next.page, next.errors, url);
      expect(build).toBe('v2');
      expect(shown).toMatch(/ran on (device|cache) \(wasm\)/);
      expect(await modelState(next.page, 0.75)).toEqual({
        manifestSource: 'cache',
        device: expect.objectContaining({ backend: 'wasm', fromCache: true }),
        ranOn: 'device',
        backend: 'wasm',
      });
      expect(next.responses.some((r) => r.url === `${origin}/${newWasm}` && r.fromServiceWorker)).toBe(true);
      expect(next.responses.filter((r) => r.url.startsWith(`${origin}/`) && !r.fromServiceWorker)).toEqual([]);
      expect(next.errors).toEqual([]);
    } finally {
      await shell.setOffline(false);
    }
  });
});
