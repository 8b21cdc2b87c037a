/**
 * The build of the offline app shell's service worker (`npm run build` runs it after the SDK's own, see
 * ../vite.config.ts): `dist/offline/service-worker.js`, one classic script with Serwist bundled in and
 * minified, as the browser will run it; an app's build copies it with its precache list injected
 * (./vite-plugin.ts), so the app's bundler never processes it.
 */
import { resolve } from 'node:path';
import { defineConfig } from 'vite';

const HERE = import.meta.dirname;

export default defineConfig({
  root: HERE,
  publicDir: false,
  envDir: false,
  logLevel: 'warn',
  // Serwist logs at length unless built for production; a library build leaves the check to the app.
  define: { 'process.env.NODE_ENV': JSON.stringify('production') },
  build: {
    outDir: resolve(HERE, '..', 'dist', 'offline'),
    // The SDK's build has just written dist/; this adds to it.
    emptyOutDir: false,
    target: 'es2022',
    minify: true,
    // No source map: Serwist's injectManifest would have to rewrite it, and nothing here is ours to debug.
    sourcemap: false,
    lib: { entry: resolve(HERE, 'service-worker.ts'), formats: ['iife'], name: 'tandemOfflineShell', fileName: () => 'service-worker.js' },
  },
});
