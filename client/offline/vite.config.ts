/**
 * The offline app shell's builds, run by `npm run build` after the SDK's own (../vite.config.ts), into
 * dist/offline/, and kept out of the SDK's build so its chunks stay as they are:
 * - `vite build -c offline/vite.config.ts`: `index.js` (registerOfflineShell, the page's) and `vite.js`
 *   (the Vite plugin, run by Node), ESM with their dependencies left as bare imports;
 * - `… --mode service-worker`: `service-worker.js`, one classic script with Serwist bundled in and
 *   minified, as the browser will run it. An app's build copies it with its precache list injected
 *   (./vite-plugin.ts), so the app's bundler never processes it.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { defineConfig, type UserConfig } from 'vite';

const HERE = import.meta.dirname;
const OUT = resolve(HERE, '..', 'dist', 'offline');
const pkg = JSON.parse(readFileSync(resolve(HERE, '..', 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
const dependencies = Object.keys(pkg.dependencies ?? {});
/** A dependency (or a subpath of one), or one of Node's own modules: left as imports. */
const isExternal = (id: string) => id.startsWith('node:') || dependencies.some((name) => id === name || id.startsWith(`${name}/`));

const common: UserConfig = {
  root: HERE,
  publicDir: false,
  envDir: false,
  logLevel: 'warn',
};

export default defineConfig(({ mode }) =>
  mode === 'service-worker'
    ? {
        ...common,
        // Serwist logs at length unless built for production; a library build leaves that check to the app.
        define: { 'process.env.NODE_ENV': JSON.stringify('production') },
        build: {
          outDir: OUT,
          emptyOutDir: false,
          target: 'es2022',
          minify: true,
          // No source map: Serwist's injectManifest would have to rewrite it.
          sourcemap: false,
          lib: { entry: resolve(HERE, 'service-worker.ts'), formats: ['iife'], name: 'tandemOfflineShell', fileName: () => 'service-worker.js' },
        },
      }
    : {
        ...common,
        build: {
          outDir: OUT,
          // The SDK's build has just emptied dist/.
          emptyOutDir: false,
          target: 'es2022',
          minify: false,
          sourcemap: true,
          lib: {
            entry: { index: resolve(HERE, 'index.ts'), vite: resolve(HERE, 'vite-plugin.ts') },
            formats: ['es'],
            fileName: (_format, name) => `${name}.js`,
          },
          rolldownOptions: { external: isExternal, output: { chunkFileNames: 'chunks/offline-[hash].js' } },
        },
      },
);
