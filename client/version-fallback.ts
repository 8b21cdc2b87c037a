/**
 * Origin runs of a version the origins no longer hold. A device that loaded 1.1.0 (cached, or a canary
 * since rolled back and dropped from the origins) and falls back to the origin would get
 * `model_not_found`; instead the nearest version the origins hold whose signature fits answers
 * (./stand-in-version.ts finds it), and the result says so (`versionFallback`). This module and that one
 * are a chunk of their own, imported on the first such answer (./adapters/lazy-version-fallback.ts), so
 * the main-thread SDK stays within its budget. The stand-in found, or that there is none, is kept per model version for
 * `VERSION_FALLBACK_TTL_MS`, so runs meanwhile go straight to it instead of asking again; past that the
 * requested version is tried first again (the origins may hold it again).
 */
import { TandemError } from '../protocol/errors.ts';
import type { Manifest } from '../protocol/manifest.ts';
import { untilAborted } from './core/abort.ts';
import type { OriginAnswer, OriginClient, VersionFallback } from './origin-client.ts';
import { findStandInVersion, type StandInDeps } from './stand-in-version.ts';

/** How long a stand-in (or that there is none) is kept per model version: 60 s. */
export const VERSION_FALLBACK_TTL_MS = 60_000;

/** At most this many model versions' stand-ins are kept (the oldest go first). */
const MAX_KEPT = 64;

export interface VersionFallbackDeps {
  /**
   * Finds the stand-in for `manifest` (`createVersionFallback`: ./stand-in-version.ts `findStandInVersion`).
   * @throws TandemError `missing`'s code, naming the candidates, when none can answer.
   */
  standIn: (manifest: Manifest, missing: TandemError) => Promise<Manifest>;
  /** A monotonic clock, ms. */
  now: () => number;
  /** Default `VERSION_FALLBACK_TTL_MS`. */
  ttlMs?: number;
}

const versionMissing = (err: unknown): err is TandemError => err instanceof TandemError && err.code === 'model_not_found';

/** An origin client that also takes over a run whose version the origin just answered `model_not_found` for. */
export interface VersionFallbackClient extends OriginClient {
  /** The run of `manifest` that got `missing`: on to the stand-in (searched for unless kept). */
  afterMissing(missing: TandemError, ...run: Parameters<OriginClient['infer']>): Promise<OriginAnswer>;
}

/**
 * `origin` with runs of a version the origins lack sent to its stand-in; each such answer carries
 * `versionFallback`.
 * @example
 * const origin = withVersionFallback(createOriginClient(deps), { standIn: (m, err) => findStandInVersion(standInDeps, m, err), now });
 */
export function withVersionFallback(origin: OriginClient, deps: VersionFallbackDeps): VersionFallbackClient {
  const ttl = deps.ttlMs ?? VERSION_FALLBACK_TTL_MS;
  const kept = new Map<string, { until: number; standIn: Promise<Manifest> }>();
  const fresh = (key: string) => {
    const entry = kept.get(key);
    if (entry && entry.until > deps.now()) return entry;
    kept.delete(key);
    return undefined;
  };
  const runOn = async (standIn: Manifest, ...[manifest, inputs, outputs, signal, traceparent]: Parameters<OriginClient['infer']>) => ({
    ...(await origin.infer(standIn, inputs, outputs, signal, traceparent)),
    versionFallback: { requested: manifest.version, served: standIn.version, reason: 'version_not_on_origin' } satisfies VersionFallback,
  });

  const client: VersionFallbackClient = {
    async infer(...run) {
      const [manifest, inputs, outputs, signal, traceparent] = run;
      // A stand-in found a moment ago answers at once; one the origins dropped meanwhile is forgotten.
      const key = `${manifest.id}@${manifest.version}`;
      const known = await fresh(key)?.standIn.catch(() => undefined);
      if (known) {
        try {
          return await runOn(known, ...run);
        } catch (err) {
          if (!versionMissing(err)) throw err;
          kept.delete(key);
        }
      }
      try {
        return await origin.infer(manifest, inputs, outputs, signal, traceparent);
      } catch (err) {
        if (!versionMissing(err)) throw err;
        return client.afterMissing(err, ...run);
      }
    },
    async afterMissing(missing, ...run) {
      const [manifest, , , signal] = run;
      const key = `${manifest.id}@${manifest.version}`;
      let entry = fresh(key);
      if (!entry) {
        // Shared by the runs meanwhile, so no one run's signal stops it; each run waits on its own.
        const standIn = deps.standIn(manifest, missing);
        standIn.catch(() => {});
        entry = { until: deps.now() + ttl, standIn };
        kept.set(key, entry);
        if (kept.size > MAX_KEPT) kept.delete(kept.keys().next().value!);
      }
      return runOn(await untilAborted(entry.standIn, signal), ...run);
    },
  };
  return client;
}

/**
 * `withVersionFallback` searching with ./stand-in-version.ts.
 * @example
 * const client = createVersionFallback(origin, { edge, fetch, headers, manifests, online, retry, timeoutMs }, performance.now.bind(performance));
 */
export function createVersionFallback(origin: OriginClient, standIn: StandInDeps, now: () => number): VersionFallbackClient {
  return withVersionFallback(origin, { now, standIn: (manifest, missing) => findStandInVersion(standIn, manifest, missing) });
}
