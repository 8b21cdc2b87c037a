/**
 * Whether an origin holds a model version and answers for it now: OIP's model-version readiness,
 * `GET /v2/models/<id>/versions/<v>/ready` (200: ready; 404 `model_not_found`: not held; 503: loading or
 * draining). One owner for the rule the CLI (`tandem rollout set` refuses a version an origin lacks) and
 * the edge (a version gets weight only while every origin is ready for it) both apply. `fetch` is passed
 * in, so this stays pure.
 */

/** The path of a model version's readiness on an origin. */
export function versionReadyPath(model: string, version: string): string {
  return `/v2/models/${encodeURIComponent(model)}/versions/${encodeURIComponent(version)}/ready`;
}

export interface VersionReadiness {
  origin: string;
  ready: boolean;
  /** Why not, when not: the origin's status and error code, or the network failure. */
  reason?: string;
}

export type FetchLike = (url: string, init: { method: string; headers: Record<string, string>; signal: AbortSignal }) => Promise<Response>;

export interface ReadinessProbe {
  fetch: FetchLike;
  /** Bearer token for origins that guard their metadata. */
  token?: string | undefined;
  /** Each probe's deadline. */
  timeoutMs: number;
}

/**
 * Asks one origin whether it is ready for `model@version`. Never throws: an origin that cannot be asked
 * is not ready, and the reason says why.
 * @example
 * const { ready, reason } = await probeVersionReady('http://127.0.0.1:8000', 'm', '1.1.0', { fetch, timeoutMs: 2000 });
 */
export async function probeVersionReady(origin: string, model: string, version: string, probe: ReadinessProbe): Promise<VersionReadiness> {
  const controller = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  // Raced as well as aborted: a fetch that ignores its signal must not hold the caller past the deadline.
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(new Error('deadline'));
    }, probe.timeoutMs);
  });
  try {
    const headers: Record<string, string> = probe.token ? { authorization: `Bearer ${probe.token}` } : {};
    const url = `${origin.replace(/\/+$/, '')}${versionReadyPath(model, version)}`;
    const res = await Promise.race([probe.fetch(url, { method: 'GET', headers, signal: controller.signal }), deadline]);
    if (res.ok) {
      await res.body?.cancel();
      return { origin, ready: true };
    }
    const code = res.headers.get('x-tandem-error-code');
    await res.body?.cancel();
    return { origin, ready: false, reason: `${res.status}${code ? ` ${code}` : ''}` };
  } catch (err) {
    const reason = controller.signal.aborted ? `no answer within ${probe.timeoutMs} ms` : err instanceof Error ? err.message : String(err);
    return { origin, ready: false, reason };
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}

/** Every origin's readiness for `model@version`, asked at once. */
export function probeVersionOnOrigins(origins: readonly string[], model: string, version: string, probe: ReadinessProbe): Promise<VersionReadiness[]> {
  return Promise.all(origins.map((origin) => probeVersionReady(origin, model, version, probe)));
}
