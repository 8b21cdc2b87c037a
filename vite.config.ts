/**
 * Vite for the client: `vite build` (npm run build:client) builds the SDK in library mode (ESM: index.js,
 * and the Web Worker as worker.js, which index.js starts with `new Worker(new URL('./worker.js',
 * import.meta.url), { type: 'module' })`); `vite` serves the demo page in client/demo/. Either way
 * onnxruntime-web's .wasm/.mjs files are served by the app at /ort/ from node_modules/onnxruntime-web/dist
 * (and copied to dist/client/ort/ in a build): never a CDN.
 */
import { createReadStream, existsSync, readFileSync } from 'node:fs';
import { copyFile, mkdir, readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { defaultClientConditions, defineConfig, type Plugin } from 'vite';

const ORT_DIST = resolve(import.meta.dirname, 'node_modules/onnxruntime-web/dist');
const OUT_DIR = resolve(import.meta.dirname, 'dist/client');
// The build of onnxruntime-web that the SDK bundles (`ort.min.mjs`: WebGPU and WASM) loads exactly these two
// files from `wasmPaths`; the plain, JSPI and asyncify builds (55 MB more) belong to its other entries.
const ORT_FILE = /^ort-wasm-simd-threaded\.jsep\.(wasm|mjs)$/;

/** Serves onnxruntime-web's runtime files at /ort/ in dev, and copies them next to the build. */
function serveOrtFiles(): Plugin {
  return {
    name: 'tandem-ort-files',
    configureServer(server) {
      server.middlewares.use((req, res, next) => {
        const url = new URL(req.url ?? '/', 'http://x');
        if (url.pathname === '/demo-config.json') {
          // The demo's edge and pinned keys: the dev key's public half (an app would bundle its release keys),
          // and the dev root keys (an app pins its root keys; the release keys then come from the root).
          const file = process.env.TANDEM_TRUSTED_KEYS_FILE ?? resolve(import.meta.dirname, '.tandem/keys/trusted-keys.json');
          const publicKeys: unknown = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : [];
          const rootFile = process.env.TANDEM_ROOT_KEYS_FILE ?? resolve(import.meta.dirname, '.tandem/keys/root-keys.json');
          const rootKeys: unknown = rootFile !== '' && existsSync(rootFile) ? JSON.parse(readFileSync(rootFile, 'utf8')) : null;
          res.setHeader('content-type', 'application/json');
          res.setHeader('cache-control', 'no-store');
          res.end(JSON.stringify({ edge: process.env.TANDEM_DEMO_EDGE ?? 'http://127.0.0.1:8787', publicKeys, rootKeys }));
          return;
        }
        const name = url.pathname.startsWith('/ort/') ? url.pathname.slice(5) : '';
        if (!ORT_FILE.test(name)) return next();
        res.setHeader('content-type', name.endsWith('.wasm') ? 'application/wasm' : 'text/javascript');
        createReadStream(join(ORT_DIST, name)).pipe(res);
      });
    },
    async writeBundle() {
      await mkdir(join(OUT_DIR, 'ort'), { recursive: true });
      for (const name of await readdir(ORT_DIST)) if (ORT_FILE.test(name)) await copyFile(join(ORT_DIST, name), join(OUT_DIR, 'ort', name));
    },
  };
}

/**
 * The SDK's Web Worker as its own file, dist/client/worker.js, which index.js starts with the literal
 * `new Worker(new URL('./worker.js', import.meta.url), …)`: the form app bundlers (Vite, webpack,
 * Parcel) recognise, so the app's build bundles the worker and serves it beside the app's own code.
 * Left to Vite, a library build rewrites that form to `new URL("/assets/worker-….js", '' +
 * import.meta.url)`: a path on the app's server where nothing is, in a form no app bundler recognises.
 */
function workerBesideSdk(): Plugin {
  const runtime = resolve(import.meta.dirname, 'client/adapters/worker-runtime.ts');
  const source = "new URL('../runtime/worker.ts', import.meta.url)";
  const placeholder = '__TANDEM_WORKER_URL__';
  return {
    name: 'tandem-worker-beside-sdk',
    apply: 'build',
    enforce: 'pre',
    buildStart() {
      this.emitFile({ type: 'chunk', id: resolve(import.meta.dirname, 'client/runtime/worker.ts'), fileName: 'worker.js' });
    },
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

export default defineConfig(({ command }) => ({
  root: command === 'serve' ? resolve(import.meta.dirname, 'client/demo') : import.meta.dirname,
  plugins: [serveOrtFiles(), workerBesideSdk()],
  // onnxruntime-web's default entry inlines its 20+ MB wasm into the bundle; this condition selects the
  // build that fetches it from `env.wasm.wasmPaths` (the /ort/ files above) instead.
  resolve: { conditions: ['onnxruntime-web-use-extern-wasm', ...defaultClientConditions] },
  // onnxruntime-web loads its wasm glue by URL at run time; pre-bundling it would break that.
  optimizeDeps: { exclude: ['onnxruntime-web'] },
  server: { host: '127.0.0.1', port: 5173, fs: { allow: [import.meta.dirname] } },
  worker: { format: 'es' },
  build: {
    outDir: OUT_DIR,
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: true,
    lib: { entry: resolve(import.meta.dirname, 'client/index.ts'), formats: ['es'], fileName: 'index' },
    rollupOptions: { external: [] },
  },
}));
