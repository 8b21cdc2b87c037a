/**
 * The SDK's library build (`npm run build` here, `npm run build:client` at the root): ESM in client/dist/,
 * `index.js` (the main thread) and `worker.js` (the Web Worker), which index.js starts with the literal
 * `new Worker(new URL('./worker.js', import.meta.url), { type: 'module' })`. Every dependency stays a bare
 * import (comlink, idb-keyval, zod, onnxruntime-web): the app's bundler resolves them, dedupes them with
 * the app's own, and emits onnxruntime-web's `.wasm` itself from onnxruntime-web's
 * `new URL('ort-wasm-simd-threaded.jsep.wasm', import.meta.url)`. The declarations are tsc's
 * (tsconfig.build.json), run after this by the build script.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { defineConfig, type Plugin } from 'vite';

const HERE = import.meta.dirname;
const pkg = JSON.parse(readFileSync(resolve(HERE, 'package.json'), 'utf8')) as {
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
};
const dependencies = Object.keys({ ...pkg.dependencies, ...pkg.peerDependencies });
/** A dependency or one of its subpaths (`zod/mini`). */
const isDependency = (id: string) => dependencies.some((name) => id === name || id.startsWith(`${name}/`));

/**
 * Keeps the worker's URL in the form app bundlers (Vite, webpack, Parcel) recognise: `new Worker(new
 * URL('./worker.js', import.meta.url), …)`, so the app's build bundles the worker and serves it beside the
 * app's own code. Left to Vite, a library build rewrites that form to `new URL("/assets/worker-….js", '' +
 * import.meta.url)`: a path on the app's server where nothing is, in a form no app bundler recognises.
 */
function workerBesideSdk(): Plugin {
  const runtime = resolve(HERE, 'adapters/worker-runtime.ts');
  const source = "new URL('../runtime/worker.ts', import.meta.url)";
  const placeholder = '__TANDEM_WORKER_URL__';
  return {
    name: 'tandem-worker-beside-sdk',
    apply: 'build',
    enforce: 'pre',
    // Hidden from Vite's worker plugin (it only rewrites a string literal), restored after bundling.
    transform(code, id) {
      if (id !== runtime) return null;
      if (!code.includes(source)) this.error(`${id} no longer starts its worker with ${source}`);
      return { code: code.replace(source, `new URL(${placeholder}, import.meta.url)`), map: null };
    },
    renderChunk(code) {
      return code.includes(placeholder) ? { code: code.replace(placeholder, "'./worker.js'"), map: null } : null;
    },
  };
}

export default defineConfig({
  root: HERE,
  plugins: [workerBesideSdk()],
  // The library is a plain build: no public/ folder to copy, no .env to read.
  publicDir: false,
  envDir: false,
  logLevel: 'warn',
  build: {
    outDir: resolve(HERE, 'dist'),
    emptyOutDir: true,
    target: 'es2022',
    // Left readable: the app's bundler minifies, and tree-shakes better what it can read.
    minify: false,
    sourcemap: true,
    // A library build inlines every asset as base64; there are none (onnxruntime-web's stay external).
    assetsInlineLimit: 0,
    lib: {
      // The offline app shell (dist/offline/) is built on its own: offline/vite.config.ts.
      entry: { index: resolve(HERE, 'index.ts'), worker: resolve(HERE, 'runtime/worker.ts') },
      formats: ['es'],
      fileName: (_format, name) => `${name}.js`,
    },
    rolldownOptions: {
      external: isDependency,
      output: { chunkFileNames: 'chunks/shared-[hash].js' },
    },
  },
});
