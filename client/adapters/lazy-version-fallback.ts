/**
 * Runs of a version the origins lack (../version-fallback.ts), loaded on the first `model_not_found` an
 * origin answers: until then an origin run is the origin client's alone, and the stand-in search, its
 * keeping and its rules stay out of the main-thread SDK (client/bundle-size.test.ts), as the OIP codec is.
 */
import { TandemError } from '../../protocol/errors.ts';
import type { OriginClient } from '../origin-client.ts';
import type { StandInDeps } from '../stand-in-version.ts';
import { loadOnce } from '../core/load-once.ts';

/**
 * `origin`, with runs of a version the origins lack sent to its nearest stand-in once one was missing. A
 * chunk that fails to load leaves the origin's `model_not_found` as it was, and is tried again next time.
 * @example
 * const origin = lazyVersionFallback(createOriginClient(deps), { edge, fetch, headers, manifests, online, retry, timeoutMs }, now);
 */
export function lazyVersionFallback(origin: OriginClient, deps: StandInDeps, now: () => number): OriginClient {
  const fallback = loadOnce(() => import('../version-fallback.ts').then((m) => m.createVersionFallback(origin, deps, now)));
  let missed = false;
  return {
    async infer(...run) {
      if (missed) return (await fallback()).infer(...run);
      try {
        return await origin.infer(...run);
      } catch (err) {
        if (!(err instanceof TandemError) || err.code !== 'model_not_found') throw err;
        const client = await fallback().catch(() => Promise.reject(err));
        missed = true;
        return client.afterMissing(err, ...run);
      }
    },
  };
}
