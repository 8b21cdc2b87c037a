/**
 * The demo page's dev server (`vite` here; `npm start` runs it through stack/stack.ts): client/demo/
 * against the SDK's source, with onnxruntime-web's .wasm/.mjs files served at /ort/ from
 * node_modules/onnxruntime-web/dist, never a CDN, and the demo's edge and pinned keys at
 * /demo-config.json. The SDK's own build is client/vite.config.ts (`npm run build:client`).
 */
import { createReadStream, existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { defaultClientConditions, defineConfig, type Plugin } from 'vite';

const ORT_DIST = resolve(import.meta.dirname, 'node_modules/onnxruntime-web/dist');
// The build of onnxruntime-web the demo's worker imports (`ort.min.mjs`: WebGPU and WASM) loads exactly these
// two files from `wasmPaths`; the plain, JSPI and asyncify builds belong to its other entries.
const ORT_FILE = /^ort-wasm-simd-threaded\.jsep\.(wasm|mjs)$/;

/** Serves onnxruntime-web's runtime files at /ort/, and the demo's configuration. */
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
  };
}

export default defineConfig({
  root: resolve(import.meta.dirname, 'client/demo'),
  plugins: [serveOrtFiles()],
  // onnxruntime-web's default entry fetches its .wasm from beside itself (what an app's bundler serves);
  // this condition selects the build that fetches both files from `env.wasm.wasmPaths` (the /ort/ above),
  // which the demo sets, so the SDK's `wasmPaths` option stays exercised.
  resolve: { conditions: ['onnxruntime-web-use-extern-wasm', ...defaultClientConditions] },
  // onnxruntime-web loads its wasm glue by URL at run time; pre-bundling it would break that.
  optimizeDeps: { exclude: ['onnxruntime-web'] },
  server: { host: '127.0.0.1', port: 5173, fs: { allow: [import.meta.dirname] } },
  worker: { format: 'es' },
});
