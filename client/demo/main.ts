/**
 * The demo page: uses the SDK the way an app would (choose a model and a placement, give an input, see
 * the answer, where it ran, the latency and cache hits). The end-to-end tests drive it through the ids.
 * The edge is `?edge=` (default http://127.0.0.1:8787); the pinned keys come from /trusted-keys.json,
 * which the dev server serves from the dev key (a real app bundles its release keys instead).
 */
import { createTandem, type PlacementMode, type CacheMode, type TandemModel, TandemError } from '../index.ts';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const params = new URLSearchParams(location.search);
const edge = params.get('edge') ?? 'http://127.0.0.1:8787';
const publicKeys: unknown = await (await fetch('/trusted-keys.json')).json();
const tandem = createTandem({ edge, publicKeys, apiKey: params.get('key') ?? 'dev-api-key', wasmPaths: new URL('/ort/', location.href).href });

const INPUT_SHAPES: Record<string, { name: string; dims: number[] }> = {
  'mlp-classifier': { name: 'x', dims: [1, 256] },
  'shapes-cnn': { name: 'image', dims: [1, 1, 28, 28] },
};
for (let i = 1; i <= 10; i++) $<HTMLSelectElement>('seed').append(new Option(`#${i}`, String(i)));

let model: TandemModel | undefined;

function sample(seed: number, size: number): Float32Array {
  let s = seed * 2654435761 >>> 0 || 1;
  return new Float32Array(size).map(() => {
    s ^= s << 13; s ^= s >>> 17; s ^= s << 5;
    return ((s >>> 0) / 2 ** 32) * 2 - 1;
  });
}

function showError(err: unknown) {
  $('error').textContent = err instanceof TandemError ? `${err.code}: ${err.message}` : String(err);
}

async function refreshStats() {
  const stats = await tandem.stats();
  $('hits').textContent = `${stats.results.hits} fresh, ${stats.results.staleHits} stale, ${stats.results.misses} misses`;
  $('requests').textContent = `manifest ${stats.network.manifest}, artifact ${stats.network.artifact}, infer ${stats.network.infer}`;
}

$('load').addEventListener('click', async () => {
  $('error').textContent = '';
  $<HTMLButtonElement>('run').disabled = true;
  const progress = $<HTMLProgressElement>('progress');
  progress.hidden = false;
  progress.value = 0;
  try {
    await model?.dispose();
    model = await tandem.load($<HTMLSelectElement>('model').value, {
      placement: $<HTMLSelectElement>('placement').value as PlacementMode,
      onProgress: (p) => (progress.value = p.total ? p.loaded / p.total : 0),
    });
    $('placement-reason').textContent = `${model.placement.target} (${model.placement.variant.name}): ${model.placement.reason}`;
    $<HTMLButtonElement>('run').disabled = false;
  } catch (err) {
    showError(err);
  } finally {
    progress.hidden = true;
    await refreshStats();
  }
});

$('run').addEventListener('click', async () => {
  if (!model) return;
  $('error').textContent = '';
  const shape = INPUT_SHAPES[model.id]!;
  const data = sample(Number($<HTMLSelectElement>('seed').value), shape.dims.reduce((a, b) => a * b, 1));
  try {
    const result = await model.run({ [shape.name]: { data, dims: shape.dims } }, { cache: $<HTMLSelectElement>('cache').value as CacheMode });
    const probabilities = result.outputs.probabilities!.data as Float32Array;
    const best = probabilities.indexOf(Math.max(...probabilities));
    const label = model.manifest.classLabels?.[best] ?? `class ${best}`;
    $('answer').textContent = `${label} (${(probabilities[best]! * 100).toFixed(1)} %)`;
    $('ran-on').textContent = result.fallback ? `${result.ranOn} (after ${result.fallback.from}: ${result.fallback.code})` : result.ranOn;
    $('backend').textContent = result.backend ?? '–';
    $('version').textContent = result.version;
    $('latency').textContent = `${result.timings.totalMs.toFixed(1)} ms`;
    $('stale').textContent = String(result.stale);
  } catch (err) {
    showError(err);
  } finally {
    await refreshStats();
  }
});
