/**
 * The offline app shell's service worker, as the SDK ships it (built on its own into
 * `dist/offline/service-worker.js`, Serwist bundled in): everything an app needs to start with no network,
 * its HTML, scripts, the SDK's Web Worker and onnxruntime-web's `.wasm`/`.mjs`, precached by Serwist from
 * the list that `tandemOffline()` (./vite-plugin.ts) writes in at the app's build, in place of
 * `self.__SW_MANIFEST`. Caching, routing, revisions and the removal of what a new build no longer lists are
 * Serwist's; nothing here is hand-written caching.
 *
 * A new build is a new script (its list changed), so the browser installs it beside the old one; it
 * precaches the new revisions, takes over at once (`skipWaiting`, `clientsClaim`: the page's next requests
 * and its next load get the new build), and on activation Serwist deletes every entry the new list lacks.
 * Model bytes are not here: the SDK keeps them in IndexedDB, verified.
 */
import { Serwist, type PrecacheEntry } from 'serwist';

// Only the injection point is read; typed here so this file compiles under any lib (DOM for tsc -b).
declare const self: { __SW_MANIFEST: (PrecacheEntry | string)[] | undefined };

const entries = self.__SW_MANIFEST ?? [];
const hasIndex = entries.some((entry) => (typeof entry === 'string' ? entry : entry.url) === 'index.html');

const serwist = new Serwist({
  precacheEntries: entries,
  precacheOptions: {
    // Caches left by an older Serwist or Workbox on this origin are dropped.
    cleanupOutdatedCaches: true,
    // Any navigation in scope (a single-page app's routes) gets the precached page when it has one.
    ...(hasIndex ? { navigateFallback: 'index.html' } : {}),
  },
  skipWaiting: true,
  clientsClaim: true,
  disableDevLogs: true,
});
serwist.addEventListeners();
