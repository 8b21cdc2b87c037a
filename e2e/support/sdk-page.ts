/**
 * The client SDK itself in a Chromium page, for models the demo page knows nothing about: the page is the
 * demo's (its Vite dev server serves the SDK's source and onnxruntime-web's files at /ort/), and the
 * test imports `client/index.ts` into it and calls `createTandem`, `load` and `run` as an app would,
 * with any inputs and any outputs. Tensors cross the Playwright boundary as base64 of their bytes, so a
 * 100,000-element input or a 265,000-element output stays cheap and exact.
 */
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import type { Tensor } from '../../protocol/tensor.ts';

const CLIENT_ENTRY = `/@fs${join(import.meta.dirname, '..', '..', 'client', 'index.ts')}`;
/** An empty HTML page the demo's dev server serves (it serves any file of the repository under /@fs/). */
const BLANK_PAGE = `/@fs${join(import.meta.dirname, 'blank-page.html')}`;

/** A tensor as it crosses into and out of the page: dtype, dims and the base64 of its little-endian bytes. */
export interface WireTensor {
  dtype: 'float32' | 'int64';
  dims: number[];
  base64: string;
}

/** What a device load reports: where the SDK placed the model and what it opened. */
export interface SdkLoad {
  /** The version the SDK loaded (the edge's choice for this install). */
  version: string;
  target: string;
  variant: string;
  reason: string;
  backend: string | undefined;
  attempts: string;
}

export type SdkOutcome<T> = { ok: true; value: T } | { ok: false; code: string; message: string };

export interface SdkRun {
  outputs: Record<string, WireTensor>;
  ranOn: string;
  /** The version that computed the outputs. */
  version: string;
  backend: string | undefined;
}

/** Options of one `createTandem` in the page (each gets its own Web Worker). */
export interface SdkInstanceOptions {
  /** Capability overrides (`{ webgpu: { available: false } }` for WASM only, `{ wasm: false }` for WebGPU only). */
  capabilities?: Record<string, unknown>;
  /** The SDK's `telemetry` option (`{ maxBatch: 1 }`: each device run's record sent at once). */
  telemetry?: boolean | Record<string, number>;
}

export function toWire(t: Tensor): WireTensor {
  if (t.dtype !== 'float32' && t.dtype !== 'int64') throw new Error(`toWire: ${t.dtype} is not carried`);
  const data = t.data as Float32Array | BigInt64Array;
  return { dtype: t.dtype, dims: [...t.dims], base64: Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64') };
}

export function fromWire(t: WireTensor): Tensor {
  const bytes = Buffer.from(t.base64, 'base64');
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  return t.dtype === 'float32'
    ? { dtype: 'float32', dims: t.dims, data: new Float32Array(buffer) }
    : { dtype: 'int64', dims: t.dims, data: new BigInt64Array(buffer) };
}

/** The SDK in one page of the demo's dev server; instances by name, loaded models by `<instance>/<id>/<variant>`. */
export class SdkPage {
  private constructor(
    readonly page: Page,
    private readonly url: string,
  ) {}

  /**
   * Opens the demo page (its dev server has the SDK's source) and imports the SDK into it. With `blank`,
   * an empty page of the same dev server instead (./blank-page.html): the SDK without the demo's own
   * instance and scripts, for tests that open many pages.
   */
  static async open(context: BrowserContext, demoUrl: string, options: { blank?: boolean } = {}): Promise<SdkPage> {
    const page = await context.newPage();
    page.on('pageerror', (err) => console.error(`[page] ${err.message}`));
    const sdk = new SdkPage(page, options.blank ? new URL(BLANK_PAGE, demoUrl).href : demoUrl);
    await sdk.reload();
    return sdk;
  }

  /** (Re)loads the page, as a returning visit of the same install does, and imports the SDK again: no instance survives. */
  async reload(): Promise<void> {
    await this.page.goto(this.url);
    if (this.url.endsWith('.html')) await this.page.waitForLoadState('load');
    else await this.page.locator('#status', { hasText: /^ready$/ }).waitFor({ timeout: 60_000 });
    // A string, not a function: vitest rewrites `import()` in this file's functions for Node.
    await this.page.evaluate(`(async () => { window.byom = { sdk: await import(${JSON.stringify(CLIENT_ENTRY)}), tandems: {}, models: {} }; })()`);
  }

  /** `createTandem` against the demo's edge and pinned keys, results never cached (every run computes). */
  async createInstance(name: string, options: SdkInstanceOptions = {}): Promise<void> {
    await this.page.evaluate(
      async ({ name, options }) => {
        const byom = (window as unknown as { byom: ByomGlobals }).byom;
        const served = (await (await fetch('/demo-config.json')).json()) as { edge: string; publicKeys: unknown };
        byom.tandems[name] = byom.sdk.createTandem({
          edge: served.edge,
          publicKeys: served.publicKeys,
          apiKey: 'dev-api-key',
          wasmPaths: new URL('/ort/', location.href).href,
          resultTtlMs: 0,
          persistStorage: false,
          ...(options.capabilities ? { capabilities: options.capabilities } : {}),
          ...(options.telemetry === undefined ? {} : { telemetry: options.telemetry }),
        });
      },
      { name, options },
    );
  }

  /** The capabilities an instance probed (with its overrides). */
  async capabilities(instance: string): Promise<{ webgpu: { available: boolean; reason?: string; features?: string[] }; wasm: boolean }> {
    return this.page.evaluate((name) => (window as unknown as { byom: ByomGlobals }).byom.tandems[name]!.capabilities(), instance) as never;
  }

  /** `tandem.load(id, { placement, variant })`; the model is kept for `run` and `dispose` under its key. */
  async load(instance: string, id: string, variant: string, placement = 'device-only'): Promise<SdkOutcome<SdkLoad>> {
    return this.page.evaluate(
      async ({ instance, id, variant, placement }) => {
        const byom = (window as unknown as { byom: ByomGlobals }).byom;
        try {
          const model = await byom.tandems[instance]!.load(id, { placement, variant });
          byom.models[`${instance}/${id}/${variant}`] = model;
          const attempts = (model.device?.attempts ?? []).map((a) => `${a.backend} ${a.ok ? 'ok' : `failed: ${a.reason ?? ''}`}`).join('; ');
          return {
            ok: true as const,
            value: {
              version: model.version,
              target: model.placement.target,
              variant: model.placement.variant.name,
              reason: model.placement.reason,
              backend: model.device?.backend,
              attempts,
            },
          };
        } catch (err) {
          const e = err as { code?: string; message?: string };
          return { ok: false as const, code: e.code ?? 'unknown', message: e.message ?? String(err) };
        }
      },
      { instance, id, variant, placement },
    );
  }

  /** `model.run(inputs, { cache: 'no-store' })` on a model `load` kept. */
  async run(instance: string, id: string, variant: string, inputs: Record<string, WireTensor>): Promise<SdkOutcome<SdkRun>> {
    return this.page.evaluate(
      async ({ key, inputs }) => {
        const byom = (window as unknown as { byom: ByomGlobals }).byom;
        const decode = (t: WireTensorInPage) => {
          const raw = atob(t.base64);
          const bytes = new Uint8Array(raw.length);
          for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
          return { dtype: t.dtype, dims: t.dims, data: t.dtype === 'float32' ? new Float32Array(bytes.buffer) : new BigInt64Array(bytes.buffer) };
        };
        // Outputs are onnxruntime Tensors (`type`, `dims`, `data`).
        const encode = (t: { type: string; dims: readonly number[]; data: ArrayBufferView }) => {
          const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
          let raw = '';
          for (let i = 0; i < bytes.length; i += 0x8000) raw += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
          return { dtype: t.type, dims: [...t.dims], base64: btoa(raw) };
        };
        try {
          const model = byom.models[key]!;
          const result = await model.run(Object.fromEntries(Object.entries(inputs).map(([name, t]) => [name, decode(t)])), { cache: 'no-store' });
          const outputs = Object.fromEntries(Object.entries(result.outputs).map(([name, t]) => [name, encode(t)]));
          return { ok: true as const, value: { outputs, ranOn: result.ranOn, version: result.version, backend: result.backend } };
        } catch (err) {
          const e = err as { code?: string; message?: string };
          return { ok: false as const, code: e.code ?? 'unknown', message: e.message ?? String(err) };
        }
      },
      { key: `${instance}/${id}/${variant}`, inputs },
    ) as Promise<SdkOutcome<SdkRun>>;
  }

  async dispose(instance: string, id: string, variant: string): Promise<void> {
    await this.page.evaluate(async (key) => {
      const byom = (window as unknown as { byom: ByomGlobals }).byom;
      await byom.models[key]?.dispose();
      delete byom.models[key];
    }, `${instance}/${id}/${variant}`);
  }
}

/** The SDK as the page holds it (the few members used here, typed locally: e2e does not compile client/). */
interface ByomGlobals {
  sdk: { createTandem(config: Record<string, unknown>): PageTandem };
  tandems: Record<string, PageTandem>;
  models: Record<string, PageModel>;
}

interface PageTandem {
  load(id: string, options: { placement: string; variant: string }): Promise<PageModel>;
  capabilities(): Promise<unknown>;
}

interface PageModel {
  version: string;
  placement: { target: string; reason: string; variant: { name: string } };
  device: { backend: string; attempts: { backend: string; ok: boolean; reason?: string }[] } | undefined;
  run(
    inputs: Record<string, unknown>,
    options: { cache: string },
  ): Promise<{
    outputs: Record<string, { type: string; dims: readonly number[]; data: ArrayBufferView }>;
    ranOn: string;
    version: string;
    backend: string | undefined;
  }>;
  dispose(): Promise<void>;
}

interface WireTensorInPage {
  dtype: string;
  dims: number[];
  base64: string;
}
