/**
 * The app's one call for the offline app shell: registers the service worker that `tandemOffline()`
 * (./vite-plugin.ts) writes into the app's build. Kept out of the SDK's main entry (it is the
 * `@tandem-ml/client/offline` subpath), so an app without a service worker pays nothing for it.
 */

/** Options of {@link registerOfflineShell}; every field has a default. */
export interface OfflineShellOptions {
  /**
   * Where the service worker is served: the `swDest` of `tandemOffline()` under the app's base URL.
   * Default `'/sw.js'` (the plugin's default `swDest`, an app served from the root). An app under a path
   * passes `` `${import.meta.env.BASE_URL}sw.js` ``.
   */
  url?: string | URL;
  /** The pages the shell serves. Default: the folder of `url`, as the browser defaults it. */
  scope?: string;
}

/**
 * Registers the offline app shell's service worker, once the page has loaded (so precaching does not
 * compete with the page's own first requests). From then on the app's HTML, scripts, the SDK's Web Worker
 * and onnxruntime-web's files come from the precache, so a page opened with no network starts, and the
 * SDK loads the models it has cached in IndexedDB.
 *
 * @returns the registration, or `undefined` where the browser has no service workers (an insecure
 * origin, some private modes): the app then works online as before.
 * @throws whatever `navigator.serviceWorker.register` throws: a `TypeError` when the script is missing
 * (`vite` dev serves none: register in production builds only) or a `SecurityError` for another origin.
 *
 * @example
 * ```ts
 * import { registerOfflineShell } from '@tandem-ml/client/offline';
 * // Not awaited: it settles after the page's load event.
 * if (import.meta.env.PROD) registerOfflineShell().catch((err) => console.warn('no offline shell', err));
 * ```
 */
export async function registerOfflineShell(options: OfflineShellOptions = {}): Promise<ServiceWorkerRegistration | undefined> {
  const { url = '/sw.js', scope } = options;
  if (typeof navigator === 'undefined' || !('serviceWorker' in navigator)) return undefined;
  if (document.readyState !== 'complete') await new Promise((loaded) => window.addEventListener('load', loaded, { once: true }));
  // A classic script: Serwist is bundled into it, and every browser with service workers runs those.
  return navigator.serviceWorker.register(url, { ...(scope === undefined ? {} : { scope }), updateViaCache: 'none' });
}
