/**
 * Debian's Chromium under playwright-core (no browser download: this network has no internet), and the
 * demo page as the tests see it: its controls by id, and every request the page and its Web Worker make.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

interface TraceEvent {
  name: string;
  ph: string;
  pid: number;
  tid: number;
  /** Start, µs. */
  ts: number;
  dur?: number;
  /** Thread (CPU) time of the event, µs: what the thread itself spent, whatever else the machine ran. */
  tdur?: number;
  args?: { name?: string; chrome_mojo_event_info?: { mojo_interface_tag?: string } };
}

export const CHROMIUM = process.env.TANDEM_CHROMIUM ?? '/usr/bin/chromium';
export const ARTIFACTS = join(import.meta.dirname, '..', 'artifacts');

/** No sandbox (containers), and nothing that phones home. */
const BASE_FLAGS = ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
/**
 * WebGPU on Linux without a GPU: Debian's Chromium then offers its software adapter (SwiftShader). More
 * flags (Vulkan, ANGLE on SwiftShader) are not needed, and with them page screenshots hang.
 */
export const WEBGPU_FLAGS = ['--enable-unsafe-webgpu'];

export async function launchChromium(options: { webgpu?: boolean } = {}): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: [...BASE_FLAGS, ...(options.webgpu ? WEBGPU_FLAGS : [])] });
}

/** A capability override that keeps the SDK off WebGPU, so the backend is WASM whatever the browser has. */
export const WASM_ONLY = { webgpu: { available: false, reason: 'test: WASM only' } };

export interface DemoResult {
  top1: number;
  probabilities: number[];
  ranOn: string;
  ranOnText: string;
  backend: string;
  version: string;
  stale: boolean;
}

export interface OpenOptions {
  capabilities?: Record<string, unknown>;
  resultTtlMs?: number;
}

/**
 * The durations (ms) of every task the page's renderer main thread ran while `work` ran, from a
 * Chromium trace: what the Long Tasks API reports, which headless Chromium does not. Task time, not
 * wall time between tasks, so a busy machine does not make a free main thread look blocked; and the
 * task's thread (CPU) time where the trace has it, so a task the OS descheduled on a loaded machine is
 * not counted as the page's own work.
 *
 * `withoutHarness` leaves out the tasks that carried a DevTools protocol message: Playwright's own
 * queries and evaluations, which a user's page never runs (its clicks arrive as input events, in tasks of
 * their own, and stay counted). Work the test starts with `page.evaluate` runs in such a task, so a test
 * that leaves them out must start the page's work some other way.
 */
export async function mainThreadTasks(
  browser: Browser,
  page: Page,
  work: () => Promise<unknown>,
  options: { withoutHarness?: boolean } = {},
): Promise<number[]> {
  await browser.startTracing(page, { categories: ['toplevel', 'disabled-by-default-devtools.timeline'] });
  let trace: Buffer;
  try {
    await work();
  } finally {
    trace = await browser.stopTracing();
  }
  const { traceEvents } = JSON.parse(trace.toString('utf8')) as { traceEvents: TraceEvent[] };
  const mainThreads = new Set(traceEvents.filter((e) => e.name === 'thread_name' && e.args?.name === 'CrRendererMain').map((e) => `${e.pid}:${e.tid}`));
  const onMainThread = (e: TraceEvent) => mainThreads.has(`${e.pid}:${e.tid}`);
  const devtoolsMessages = traceEvents
    .filter((e) => e.name === 'Receive mojo message' && e.args?.chrome_mojo_event_info?.mojo_interface_tag === 'blink.mojom.DevToolsSession' && onMainThread(e))
    .map((e) => e.ts);
  const carriesDevtools = (task: TraceEvent) => devtoolsMessages.some((ts) => ts >= task.ts && ts <= task.ts + (task.dur ?? 0));
  return traceEvents
    .filter((e) => e.ph === 'X' && (e.name === 'RunTask' || e.name === 'ThreadControllerImpl::RunTask') && onMainThread(e))
    .filter((e) => !options.withoutHarness || !carriesDevtools(e))
    .map((e) => (e.tdur ?? e.dur ?? 0) / 1000);
}

/** The demo page in one tab, with the requests of the page and its worker recorded. */
export class DemoPage {
  readonly requests: string[] = [];

  private constructor(
    readonly page: Page,
    readonly url: string,
  ) {
    // Context-wide, so the Web Worker's requests (the model download) are seen too.
    page.context().on('request', (request) => this.requests.push(request.url()));
  }

  static async open(context: BrowserContext, demoUrl: string, options: OpenOptions = {}): Promise<DemoPage> {
    const url = new URL(demoUrl);
    if (options.capabilities) url.searchParams.set('capabilities', JSON.stringify(options.capabilities));
    if (options.resultTtlMs !== undefined) url.searchParams.set('resultTtlMs', String(options.resultTtlMs));
    const page = await context.newPage();
    page.on('pageerror', (err) => console.error(`[page] ${err.message}`));
    const demo = new DemoPage(page, url.href);
    await demo.reload();
    return demo;
  }

  /** (Re)loads the page and waits for the SDK to be ready. */
  async reload(): Promise<void> {
    await this.page.goto(this.url);
    await this.page.locator('#status', { hasText: /^ready$/ }).waitFor({ timeout: 30_000 });
  }

  /** Loads a model; resolves with the error code when the load fails. */
  async load(model: string, placement = 'prefer-device'): Promise<{ ok: true } | { ok: false; code: string; message: string }> {
    const select = this.page.locator('#model');
    if ((await select.locator('option', { hasText: new RegExp(`^${model}$`) }).count()) === 0) {
      // A model the demo does not list (the tests' tampered ones): add it as an app with a catalog would.
      await select.evaluate((el, id) => (el as HTMLSelectElement).add(new Option(id, id)), model);
    }
    await select.selectOption(model);
    await this.page.locator('#placement').selectOption(placement);
    await this.page.locator('#load').click();
    const status = await this.settled(/^(loaded|load failed)$/, 120_000);
    return status === 'loaded' ? { ok: true } : { ok: false, ...(await this.error()) };
  }

  /** Runs the example of class `example` (or the n-th random input for models without examples). */
  async run(example = 0, cache = 'default'): Promise<{ ok: true; result: DemoResult } | { ok: false; code: string; message: string }> {
    await this.page.locator('#example').selectOption(String(example));
    await this.page.locator('#cache').selectOption(cache);
    await this.page.locator('#run').click();
    const status = await this.settled(/^(done|run failed)$/, 60_000);
    if (status !== 'done') return { ok: false, ...(await this.error()) };
    const answer = this.page.locator('#answer');
    return {
      ok: true,
      result: {
        top1: Number(await answer.getAttribute('data-top1')),
        probabilities: JSON.parse((await answer.getAttribute('data-probabilities')) ?? '[]') as number[],
        ranOn: (await this.page.locator('#ran-on').getAttribute('data-ran-on')) ?? '',
        ranOnText: await this.text('ran-on'),
        backend: await this.text('backend'),
        version: await this.text('version'),
        stale: (await this.text('stale')) === 'true',
      },
    };
  }

  async runOk(example = 0, cache = 'default'): Promise<DemoResult> {
    const outcome = await this.run(example, cache);
    if (!outcome.ok) throw new Error(`run failed: ${outcome.code}: ${outcome.message}`);
    return outcome.result;
  }

  async loadOk(model: string, placement = 'prefer-device'): Promise<void> {
    const outcome = await this.load(model, placement);
    if (!outcome.ok) throw new Error(`load of ${model} failed: ${outcome.code}: ${outcome.message}`);
  }

  text(id: string): Promise<string> {
    return this.page.locator(`#${id}`).innerText();
  }

  /** The SDK's own request counters, as the page shows them. */
  async counters(): Promise<{ manifest: number; artifact: number; infer: number }> {
    const [, manifest, artifact, infer] = /manifest (\d+), artifact (\d+), infer (\d+)/.exec(await this.text('requests')) ?? [];
    return { manifest: Number(manifest), artifact: Number(artifact), infer: Number(infer) };
  }

  async cacheHits(): Promise<{ fresh: number; stale: number; misses: number }> {
    const [, fresh, stale, misses] = /(\d+) fresh, (\d+) stale, (\d+) misses/.exec(await this.text('hits')) ?? [];
    return { fresh: Number(fresh), stale: Number(stale), misses: Number(misses) };
  }

  requestsTo(path: string, since = 0): string[] {
    return this.requests.slice(since).filter((url) => new URL(url).pathname.startsWith(path));
  }

  async screenshot(name: string): Promise<string> {
    await mkdir(ARTIFACTS, { recursive: true });
    const path = join(ARTIFACTS, `${name}.png`);
    await this.page.screenshot({ path, fullPage: true });
    return path;
  }

  private async settled(done: RegExp, timeout: number): Promise<string> {
    const status = this.page.locator('#status', { hasText: done });
    await status.waitFor({ timeout });
    return status.innerText();
  }

  private async error(): Promise<{ code: string; message: string }> {
    const error = this.page.locator('#error');
    return { code: (await error.getAttribute('data-code')) ?? '', message: await error.innerText() };
  }
}
