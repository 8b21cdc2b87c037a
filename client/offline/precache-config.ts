/**
 * What the offline app shell precaches, decided from plain data: the options of `tandemOffline()`, checked
 * once with their defaults, turned into the options of Serwist's `injectManifest` for one build's output
 * folder. No file is read here (./vite-plugin.ts does that), so the rules are tested without a build.
 */
import type { InjectManifestOptions } from '@serwist/build';
import { TandemError } from '../../protocol/errors.ts';

/** Options of `tandemOffline()`; every field has a default. */
export interface TandemOfflineOptions {
  /**
   * The service worker's file name in the build's output folder, served at the app's base URL: what
   * `registerOfflineShell({ url })` registers. Default `'sw.js'`.
   */
  swDest?: string;
  /**
   * The files of the build to precache (globs relative to the output folder). Default: every page,
   * script, stylesheet, `.wasm` and `.mjs` (onnxruntime-web's runtime), JSON, web manifest, icon, image
   * and font: `['**\/*.{html,js,mjs,css,wasm,json,webmanifest,ico,svg,png,webp,woff2}']`.
   */
  globPatterns?: string[];
  /** Files of the build never precached (globs). Default: none besides source maps and the service worker itself. */
  globIgnores?: string[];
  /**
   * The largest file precached, in bytes; a larger one is left out with a build warning. Default
   * 64 MiB: onnxruntime-web's `.wasm` is about 28 MB (Serwist's own default, 2 MiB, would leave it out).
   */
  maximumFileSizeToCacheInBytes?: number;
}

/** The defaults of {@link TandemOfflineOptions}. */
export const OFFLINE_DEFAULTS = {
  swDest: 'sw.js',
  globPatterns: ['**/*.{html,js,mjs,css,wasm,json,webmanifest,ico,svg,png,webp,woff2}'],
  globIgnores: [] as string[],
  maximumFileSizeToCacheInBytes: 64 * 1024 * 1024,
} satisfies Required<TandemOfflineOptions>;

/**
 * The part of a file name that Vite's default `[name]-[hash]` naming adds (8 characters of base64url):
 * such a URL changes whenever the file does, so it is precached as it is, without a revision.
 */
export const HASHED_FILE = /-[\w-]{8}\.\w+$/;

/**
 * The options with their defaults, checked.
 * @throws TandemError `bad_request` naming the option.
 */
export function resolveOfflineOptions(options: TandemOfflineOptions = {}): Required<TandemOfflineOptions> {
  const bad = (message: string) => new TandemError('bad_request', `tandemOffline: ${message}`);
  const resolved = { ...OFFLINE_DEFAULTS, ...options };
  const { swDest, globPatterns, globIgnores, maximumFileSizeToCacheInBytes } = resolved;
  if (typeof swDest !== 'string' || !/^[\w.-]+\.js$/.test(swDest) || swDest.startsWith('.'))
    throw bad(`swDest must be a file name ending in .js in the output folder (served at the app's base URL), not ${JSON.stringify(swDest)}`);
  const globs = (name: string, value: unknown, nonEmpty: boolean) => {
    if (!Array.isArray(value) || (nonEmpty && value.length === 0) || !value.every((g) => typeof g === 'string' && g.length > 0))
      throw bad(`${name} must be an array of${nonEmpty ? ' at least one' : ''} non-empty glob string${nonEmpty ? '' : 's'}`);
  };
  globs('globPatterns', globPatterns, true);
  globs('globIgnores', globIgnores, false);
  if (!Number.isSafeInteger(maximumFileSizeToCacheInBytes) || maximumFileSizeToCacheInBytes <= 0)
    throw bad(`maximumFileSizeToCacheInBytes must be a positive integer, not ${maximumFileSizeToCacheInBytes}`);
  return resolved;
}

/**
 * Serwist's `injectManifest` options for a build written to `outDir`: the SDK's service worker `swSrc`
 * written as `outDir/swDest` with the precache list of `outDir` in place of `self.__SW_MANIFEST`.
 */
export function injectManifestOptions(outDir: string, swSrc: string, options: Required<TandemOfflineOptions>): InjectManifestOptions {
  return {
    swSrc,
    swDest: `${outDir}/${options.swDest}`,
    globDirectory: outDir,
    globPatterns: options.globPatterns,
    // Source maps are for developers, not for running offline; the worker script is excluded by Serwist.
    globIgnores: ['**/*.map', ...options.globIgnores],
    dontCacheBustURLsMatching: HASHED_FILE,
    maximumFileSizeToCacheInBytes: options.maximumFileSizeToCacheInBytes,
  };
}
