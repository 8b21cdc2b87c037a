/**
 * The demo page: uses the SDK the way an app would (choose a model and a placement, give an input, see
 * the answer, where it ran, the latency and cache hits). The end-to-end tests drive it through the ids.
 * The edge and the pinned keys come from /demo-config.json, which the dev server serves from the dev keys
 * (a real app bundles its own instead): the root keys of the dev root of trust when the stack has one
 * (`tandem start` does), and then updates are verified as TUF does; else the manifest keys alone.
 * Query parameters: `edge=URL` overrides the edge, `key=` the API key, `resultTtlMs=` the result cache's TTL, `capabilities=JSON` overrides probed device capabilities (e.g. `{"memoryMiB":64}`).
 */
import { example, hasExamples, prepareExamples } from './examples.ts';
import { createTandem, type CacheMode, type DeviceCapabilities, type PlacementMode, type TandemModel, TandemError } from '../index.ts';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const params = new URLSearchParams(location.search);
const served = (await (await fetch('/demo-config.json')).json()) as { edge: string; publicKeys: unknown; rootKeys?: unknown };
const capabilities = parseCapabilities(params.get('capabilities'));
const tandem = createTandem({
  edge: params.get('edge') ?? served.edge,
  publicKeys: served.publicKeys,
  ...(served.rootKeys ? { rootKeys: served.rootKeys } : {}),
  apiKey: params.get('key') ?? 'dev-api-key',
  wasmPaths: new URL('/ort/', location.href).href,
  ...(capabilities ? { capabilities } : {}),
  ...(params.has('resultTtlMs') ? { resultTtlMs: Number(params.get('resultTtlMs')) } : {}),
});

let model: TandemModel | undefined;

function parseCapabilities(text: string | null): Partial<DeviceCapabilities> | undefined {
  if (!text) return undefined;
  try {
    return JSON.parse(text) as Partial<DeviceCapabilities>;
  } catch {
    $('error').textContent = `capabilities: not JSON: ${text}`;
    return undefined;
  }
}

function showError(err: unknown) {
  $('error').textContent = err instanceof TandemError ? `${err.code}: ${err.message}` : String(err);
  $('error').dataset.code = err instanceof TandemError ? err.code : 'unknown';
}

function clearError() {
  $('error').textContent = '';
  delete $('error').dataset.code;
}

async function refreshStats() {
  const stats = await tandem.stats();
  $('hits').textContent = `${stats.results.hits} fresh, ${stats.results.staleHits} stale, ${stats.results.misses} misses`;
  $('requests').textContent = `manifest ${stats.network.manifest}, artifact ${stats.network.artifact}, infer ${stats.network.infer}`;
}

function drawImage(data: Float32Array, size: number) {
  const canvas = $<HTMLCanvasElement>('input');
  const context = canvas.getContext('2d')!;
  const image = context.createImageData(size, size);
  for (let i = 0; i < size * size; i++) {
    const v = Math.max(0, Math.min(255, Math.round(data[i]! * 255)));
    image.data[i * 4] = image.data[i * 4 + 1] = image.data[i * 4 + 2] = v;
    image.data[i * 4 + 3] = 255;
  }
  context.putImageData(image, 0, 0);
}

/** An example of the chosen class where the model has examples, else seeded noise of the input's shape. */
async function demoInput(loaded: TandemModel, choice: number): Promise<{ name: string; data: Float32Array; dims: number[] }> {
  if (hasExamples(loaded.id)) return example(loaded.id, choice);
  const spec = loaded.placement.variant.inputs[0]!;
  const dims = spec.shape.map((d) => (typeof d === 'number' ? d : 1));
  let s = ((choice + 1) * 2654435761) >>> 0;
  const data = new Float32Array(dims.reduce((a, b) => a * b, 1)).map(() => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return ((s >>> 0) / 2 ** 32) * 2 - 1;
  });
  return { name: spec.name, data, dims };
}

/** The example options: the model's class labels, or numbered samples for a model without labels. */
function fillExamples(labels: readonly string[]) {
  const select = $<HTMLSelectElement>('example');
  const chosen = select.value;
  select.replaceChildren(...labels.map((label, i) => new Option(label, String(i))));
  if (chosen && Number(chosen) < labels.length) select.value = chosen;
}

void tandem.capabilities().then((caps) => {
  $('webgpu').textContent = caps.webgpu.available
    ? `adapter (max buffer ${((caps.webgpu.maxBufferSize ?? 0) / 2 ** 20).toFixed(0)} MiB)`
    : `none: ${caps.webgpu.reason}`;
  $('webgpu').dataset.available = String(caps.webgpu.available);
});

$('load').addEventListener('click', async () => {
  clearError();
  $<HTMLButtonElement>('run').disabled = true;
  const progress = $<HTMLProgressElement>('progress');
  progress.hidden = false;
  progress.value = 0;
  $('status').textContent = 'loading…';
  try {
    await model?.dispose();
    model = undefined;
    model = await tandem.load($<HTMLSelectElement>('model').value, {
      placement: $<HTMLSelectElement>('placement').value as PlacementMode,
      // Unchecked: under prefer-device the origin answers while the device variant downloads in the background.
      waitForDevice: $<HTMLInputElement>('wait-for-device').checked,
      onProgress: (p) => (progress.value = p.total ? p.loaded / p.total : 0),
    });
    $('placement-reason').textContent = `${model.placement.target} (${model.placement.variant.name}): ${model.placement.reason}`;
    $('placement-reason').dataset.target = model.placement.target;
    $('model-version').textContent = `${model.id} ${model.version} (manifest from ${model.manifestSource})`;
    $('attempts').textContent = model.device
      ? model.device.attempts.map((a) => (a.ok ? `${a.backend} ✓ ${a.ms.toFixed(0)} ms` : `${a.backend} ✗ ${a.reason}`)).join('; ') +
        (model.device.fromCache ? ' (bytes from the model cache)' : '')
      : '–';
    const labels = model.manifest.classLabels;
    const examples = labels && hasExamples(model.id);
    fillExamples(examples ? labels.map((label) => `an example of ${label}`) : Array.from({ length: 10 }, (_, i) => `random input #${i + 1}`));
    if (examples) prepareExamples(model.id, labels.length);
    $<HTMLButtonElement>('run').disabled = false;
    $('status').textContent = 'loaded';
  } catch (err) {
    showError(err);
    $('status').textContent = 'load failed';
  } finally {
    progress.hidden = true;
    await refreshStats();
  }
});

$('run').addEventListener('click', async () => {
  if (!model) return;
  clearError();
  $('status').textContent = 'running…';
  const canvas = $<HTMLCanvasElement>('input');
  try {
    const input = await demoInput(model, Number($<HTMLSelectElement>('example').value));
    canvas.hidden = input.dims.length !== 4;
    if (!canvas.hidden) drawImage(input.data, input.dims[3]!);
    const result = await model.run({ [input.name]: { data: input.data, dims: input.dims } }, { cache: $<HTMLSelectElement>('cache').value as CacheMode });
    const probabilities = result.outputs.probabilities!.data as Float32Array;
    const best = probabilities.indexOf(Math.max(...probabilities));
    const label = model.manifest.classLabels?.[best] ?? `class ${best}`;
    $('answer').textContent = `${label} (${(probabilities[best]! * 100).toFixed(1)} %)`;
    $('answer').dataset.top1 = String(best);
    $('answer').dataset.probabilities = JSON.stringify(Array.from(probabilities));
    $('ran-on').textContent = result.fallback ? `${result.ranOn} (after ${result.fallback.from}: ${result.fallback.code})` : result.ranOn;
    $('ran-on').dataset.ranOn = result.ranOn;
    $('backend').textContent = result.backend ?? '–';
    $('version').textContent = result.version;
    $('latency').textContent = `${result.timings.totalMs.toFixed(1)} ms`;
    $('stale').textContent = String(result.stale);
    $('status').textContent = 'done';
  } catch (err) {
    showError(err);
    $('status').textContent = 'run failed';
  } finally {
    await refreshStats();
  }
});

$('clear').addEventListener('click', async () => {
  await tandem.clearCaches();
  await refreshStats();
  $('status').textContent = 'caches cleared';
});

$('status').textContent = 'ready';
