/**
 * `POST /v2/models/{name}[/versions/{v}]/infer`: OIP v2 inference, proxied to the origin pool.
 * Without a version in the path, the model's rollout (version-choice/rollout-weights.ts: the signed record, else
 * the `CANARY` fallback) picks one for this client and the path is
 * rewritten to `/versions/{chosen}`; the answer says which origin and version served it, and how many
 * origin attempts it took (`x-tandem-attempts`, also on `origin_unavailable`: the client does not retry
 * what the edge already retried). An origin's answer about the model (404, 503 `model_not_ready`, any
 * 4xx) comes back as the origin gave it. The model name and version are checked first
 * (protocol/hono/model-path.ts): an odd one is 404 `model_not_found`, never forwarded or echoed.
 * Each origin answer is counted for the version it served, for automatic rollback (version-choice/canary-watch.ts).
 */
import { Hono, type Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { TandemError } from '../../protocol/errors.ts';
import { requireKey } from '../auth/require-key.ts';
import { chooseVersion } from '../version-choice/canary.ts';
import { judgeRollout, recordOriginRun } from '../version-choice/canary-watch.ts';
import { rolloutView } from '../version-choice/rollout-weights.ts';
import { deviceTelemetry } from '../telemetry/aggregate.ts';
import { clientIdOf } from '../version-choice/client-id.ts';
import { modelPath } from '../../protocol/hono/model-path.ts';
import type { EdgeEnv } from '../context.ts';
import { readBody } from '../http/read-body.ts';
import { defaultProxyDeps, probeOpenBreakers, proxyInference, refreshReadiness } from '../origin-pool/proxy.ts';
import { rateLimit } from '../rate-limit/middleware.ts';
import { formatTraceparent } from '../../protocol/traceparent.ts';

export const inferenceRoutes = new Hono<EdgeEnv>();

/** Origin response headers relayed to the client. */
const RELAYED = ['content-type', 'inference-header-content-length', 'x-model-version', 'x-tandem-error-code'];

for (const path of ['/models/:name/infer', '/models/:name/versions/:version/infer']) {
  inferenceRoutes.post(path, modelPath(), requireKey({ scope: 'infer', modelParam: 'name' }), rateLimit(), infer);
}

async function infer(c: Context<EdgeEnv>): Promise<Response> {
  const { config, pool } = { config: c.get('config'), pool: c.get('pool') };
  // The request's deadline counts from its arrival, so it bounds the body's upload too.
  const deadline = Date.now() + config.tuning.deadlineMs;
  const body = await readBody(c.req.raw, { maxBytes: config.tuning.maxBodyBytes, deadline });
  const name = c.req.param('name') ?? '';
  const view = c.req.param('version') === undefined ? await rolloutView(c, name) : undefined;
  const version =
    c.req.param('version') ?? chooseVersion(view?.effective ? { [name]: view.effective } : {}, name, clientIdOf(c.req.raw.headers, c.get('apiKey')));
  const path =
    version === undefined
      ? `/v2/models/${encodeURIComponent(name)}/infer`
      : `/v2/models/${encodeURIComponent(name)}/versions/${encodeURIComponent(version)}/infer`;

  const readiness = refreshReadiness(pool, config.tuning, config.originToken);
  if (readiness) c.executionCtx.waitUntil(readiness);
  // An origin that went down is watched closely while its breaker is open, so a short restart costs
  // about the restart, not the breaker's cooldown.
  const probes = probeOpenBreakers(pool, config.tuning, config.originToken);
  if (probes) c.executionCtx.waitUntil(probes);

  const started = performance.now();
  const log = c.get('log');
  log.model = name;
  if (version !== undefined) log.version = version;
  try {
    const result = await proxyInference(
      pool,
      {
        path,
        headers: c.req.raw.headers,
        body,
        requestId: c.get('requestId'),
        traceparent: formatTraceparent(c.get('trace')),
        deadline,
      },
      config.tuning,
      config.originToken,
      { ...defaultProxyDeps, fetch: countingRuns(name, version) },
    );
    log.origin = result.origin;
    log.attempts = result.attempts;
    if (result.failures.length > 0) log.failures = result.failures;
    const headers: Record<string, string> = {};
    for (const name of RELAYED) {
      const value = result.headers.get(name);
      if (value !== null) headers[name] = value;
    }
    if (headers['x-model-version'] === undefined && version !== undefined) headers['x-model-version'] = version;
    log.version = headers['x-model-version'] ?? log.version;
    headers['x-tandem-origin'] = result.origin;
    headers['x-tandem-attempts'] = String(result.attempts);
    // Made by c.body, so the headers the middlewares set on the way in (x-ratelimit-remaining) are on it.
    return c.body(result.body, result.status as ContentfulStatusCode, headers);
  } catch (err) {
    // The caller's message names no origin; the log keeps which origin failed how (proxy.ts).
    if (err instanceof TandemError && Array.isArray(err.cause)) log.failures = err.cause;
    throw err;
  } finally {
    // Automatic rollback: judged when the edge chose the version (it holds the record then).
    if (view?.record) judgeRollout(view.record, deviceTelemetry.snapshot());
    log.upstream_ms = Math.round((performance.now() - started) * 100) / 100;
  }
}

/**
 * The pool's fetch, counting each origin's answer for the version it ran (version-choice/canary-watch.ts):
 * every attempt, so a canary that fails on one origin and is retried on another still counts its failure.
 */
function countingRuns(model: string, version: string | undefined): typeof defaultProxyDeps.fetch {
  return async (url, init) => {
    const res = await defaultProxyDeps.fetch(url, init);
    const ran = version ?? res.headers.get('x-model-version');
    if (ran) recordOriginRun(model, ran, res.status, res.headers.get('x-tandem-error-code'));
    return res;
  };
}
