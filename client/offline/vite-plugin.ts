/**
 * `tandemOffline()`, the Vite plugin of the offline app shell (`@tandem-ml/client/offline/vite`): after
 * `vite build` has written the app, it writes the SDK's service worker (./service-worker.ts, shipped
 * built) beside it, with the list of the build's files to precache injected by Serwist's build tool
 * (`@serwist/build`'s `injectManifest`: each file with its revision, a content hash, or none when its name
 * is hashed). It only runs for builds: `vite` (dev) serves no service worker.
 */
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { injectManifest } from '@serwist/build';
import type { Plugin } from 'vite';
import { injectManifestOptions, resolveOfflineOptions, type TandemOfflineOptions } from './precache-config.ts';

export type { TandemOfflineOptions } from './precache-config.ts';

/**
 * The SDK's built service worker. Built, this module is `dist/offline/vite.js` and the worker
 * `dist/offline/service-worker.js` beside it. (Not `new URL(…, import.meta.url)`: the SDK's own build
 * would take that for an asset to bundle.)
 */
const SERVICE_WORKER = join(dirname(fileURLToPath(import.meta.url)), 'service-worker.js');

/**
 * The Vite plugin that makes an app start offline: writes `sw.js` (see `swDest`) into the build, a
 * service worker that precaches the app's pages and scripts, the SDK's Web Worker and onnxruntime-web's
 * `.wasm`/`.mjs`. The app registers it with `registerOfflineShell()` from `@tandem-ml/client/offline`.
 * Options are checked when the plugin is created.
 *
 * @throws TandemError `bad_request` for a bad option.
 * @example
 * ```ts
 * // vite.config.ts
 * import { defineConfig } from 'vite';
 * import { tandemOffline } from '@tandem-ml/client/offline/vite';
 * export default defineConfig({ plugins: [tandemOffline()] });
 * ```
 */
export function tandemOffline(options: TandemOfflineOptions = {}): Plugin {
  const resolved = resolveOfflineOptions(options);
  let outDir = '';
  return {
    name: 'tandem-offline',
    apply: 'build',
    configResolved(config) {
      outDir = resolve(config.root, config.build.outDir);
    },
    async writeBundle() {
      // The browser's build only (an SSR build writes no app shell).
      if (this.environment && this.environment.name !== 'client') return;
      const { count, size, warnings } = await injectManifest(injectManifestOptions(outDir, SERVICE_WORKER, resolved));
      for (const warning of warnings) this.warn(warning);
      this.info?.(`${resolved.swDest}: ${count} files precached, ${(size / 1024 / 1024).toFixed(1)} MiB`);
    },
  };
}
