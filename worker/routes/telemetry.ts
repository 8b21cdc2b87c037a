/**
 * Device-run telemetry from the SDKs, and its metrics:
 *
 * - `POST /v1/telemetry`: a batch of device-run records (protocol/device-telemetry.ts), sent by the SDK with
 *   keepalive `fetch`. The same API key as inference (`infer` scope, and the key's `models`, per record),
 *   rate-limited with the key's bucket (one token per batch), at most `TELEMETRY_LIMITS.maxBodyBytes` of
 *   JSON arriving within the request deadline, read strictly (400 `bad_request` naming the field; 413;
 *   415). Records of versions the edge serves (a manifest in R2: telemetry/served-versions.ts) are counted
 *   in this isolate (telemetry/aggregate.ts) and written to Analytics Engine when bound
 *   (telemetry/analytics-engine.ts); the others only in the `unknown` count. 204, no body, unknown records or not: the SDK never retries, and a device still
 *   running a version withdrawn from R2 is no client error. Then the canary of each served model in the
 *   batch is judged (version-choice/canary-watch.ts).
 * - `GET /v1/edge/metrics` (the `admin` scope): this isolate's counts as Prometheus text, with
 *   `tandem_edge_rollout_rollbacks_total` (automatic rollbacks, per model and version).
 */
import { Hono } from 'hono';
import { TELEMETRY_LIMITS, type TelemetryBatch } from '../../protocol/device-telemetry.ts';
import { TandemError } from '../../protocol/errors.ts';
import { parseTelemetryBatch } from '../../protocol/telemetry-batch-reader.ts';
import { authorize } from '../auth/api-keys.ts';
import { requireKey } from '../auth/require-key.ts';
import type { EdgeEnv } from '../context.ts';
import { readBody } from '../http/read-body.ts';
import { rateLimit } from '../rate-limit/middleware.ts';
import { listStoredVersions } from '../storage/manifests.ts';
import { deviceTelemetry } from '../telemetry/aggregate.ts';
import { servedVersions } from '../telemetry/served-versions.ts';
import { judgeRollout, rollbackMetricsText } from '../version-choice/canary-watch.ts';
import { rolloutView } from '../version-choice/rollout-weights.ts';
import { writeDataPoints, type TelemetryBindings } from '../telemetry/analytics-engine.ts';
import { PROMETHEUS_CONTENT_TYPE, prometheusText } from '../telemetry/prometheus-text.ts';

export const telemetryRoutes = new Hono<EdgeEnv>();

telemetryRoutes.post('/telemetry', requireKey({ scope: 'infer' }), rateLimit(), async (c) => {
  if (!/^application\/json\s*(;|$)/i.test(c.req.header('content-type') ?? '')) {
    throw new TandemError('unsupported_media_type', 'a telemetry batch is application/json');
  }
  // Within the request deadline too, as inference reads its body (http/read-body.ts).
  const bytes = await readBody(c.req.raw, { maxBytes: TELEMETRY_LIMITS.maxBodyBytes, deadline: Date.now() + c.get('config').tuning.deadlineMs });
  let body: unknown;
  try {
    body = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw new TandemError('bad_request', 'telemetry: the body is not JSON');
  }
  const batch = parseTelemetryBatch(body);
  const key = c.get('apiKey')!;
  for (const model of new Set(batch.records.map((r) => r.model))) authorize(key, 'infer', model);
  // Names nobody serves take no series (nor a rollout lookup in R2): public keys must not fill the bounds.
  const serves = await servedVersions.lookup(() => listStoredVersions(c.env.MODELS), c.get('config').tuning.trustTtlMs, Date.now());
  const served: TelemetryBatch = { records: batch.records.filter((r) => serves(r.model, r.version)), dropped: batch.dropped };
  const unknown = batch.records.length - served.records.length;
  const counted = deviceTelemetry.add(served, unknown);
  writeDataPoints(c.env as TelemetryBindings, served);
  Object.assign(c.get('log'), { records: batch.records.length, counted, unknown, dropped: batch.dropped });
  // Automatic rollback: each model's canary is judged on the runs just counted (version-choice/canary-watch.ts).
  const snapshot = deviceTelemetry.snapshot();
  for (const model of new Set(served.records.map((r) => r.model))) {
    try {
      const { record } = await rolloutView(c, model);
      if (record) judgeRollout(record, snapshot);
    } catch (err) {
      // Judging must never cost the SDK its batch: the next batch or proxied answer judges again.
      console.log(JSON.stringify({ event: 'canary_judge_failed', model, reason: String(err) }));
    }
  }
  return c.body(null, 204);
});

telemetryRoutes.get('/edge/metrics', requireKey({ scope: 'admin' }), (c) =>
  c.text(prometheusText(deviceTelemetry.snapshot()) + rollbackMetricsText(), 200, { 'content-type': PROMETHEUS_CONTENT_TYPE, 'cache-control': 'no-store' }),
);
