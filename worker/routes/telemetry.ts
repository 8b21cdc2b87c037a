/**
 * Device-run telemetry from the SDKs, and its metrics:
 *
 * - `POST /v1/telemetry`: a batch of device-run records (protocol/device-telemetry.ts), sent by the SDK with
 *   keepalive `fetch`. The same API key as inference (`infer` scope, and the key's `models`, per record),
 *   rate-limited with the key's bucket (one token per batch), at most `TELEMETRY_LIMITS.maxBodyBytes` of
 *   JSON, read strictly (400 `bad_request` naming the field; 413; 415). Counted in this isolate
 *   (telemetry/aggregate.ts) and written to Analytics Engine when bound (telemetry/analytics-engine.ts).
 *   204, no body.
 * - `GET /v1/edge/metrics` (the `admin` scope): this isolate's counts as Prometheus text.
 */
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { TELEMETRY_LIMITS } from '../../protocol/device-telemetry.ts';
import { TandemError } from '../../protocol/errors.ts';
import { parseTelemetryBatch } from '../../protocol/telemetry-batch-reader.ts';
import { authorize } from '../auth/api-keys.ts';
import { requireKey } from '../auth/require-key.ts';
import type { EdgeEnv } from '../context.ts';
import { rateLimit } from '../rate-limit/middleware.ts';
import { deviceTelemetry } from '../telemetry/aggregate.ts';
import { writeDataPoints, type TelemetryBindings } from '../telemetry/analytics-engine.ts';
import { PROMETHEUS_CONTENT_TYPE, prometheusText } from '../telemetry/prometheus-text.ts';

export const telemetryRoutes = new Hono<EdgeEnv>();

const limitBody = bodyLimit({
  maxSize: TELEMETRY_LIMITS.maxBodyBytes,
  onError: () => {
    throw new TandemError('payload_too_large', `a telemetry batch is at most ${TELEMETRY_LIMITS.maxBodyBytes} bytes`);
  },
});

telemetryRoutes.post('/telemetry', requireKey({ scope: 'infer' }), rateLimit(), limitBody, async (c) => {
  if (!/^application\/json\s*(;|$)/i.test(c.req.header('content-type') ?? '')) {
    throw new TandemError('unsupported_media_type', 'a telemetry batch is application/json');
  }
  let body: unknown;
  try {
    body = JSON.parse(await c.req.text());
  } catch {
    throw new TandemError('bad_request', 'telemetry: the body is not JSON');
  }
  const batch = parseTelemetryBatch(body);
  const key = c.get('apiKey')!;
  for (const model of new Set(batch.records.map((r) => r.model))) authorize(key, 'infer', model);
  const counted = deviceTelemetry.add(batch);
  writeDataPoints(c.env as TelemetryBindings, batch);
  Object.assign(c.get('log'), { records: batch.records.length, counted, dropped: batch.dropped });
  return c.body(null, 204);
});

telemetryRoutes.get('/edge/metrics', requireKey({ scope: 'admin' }), (c) =>
  c.text(prometheusText(deviceTelemetry.snapshot()), 200, { 'content-type': PROMETHEUS_CONTENT_TYPE, 'cache-control': 'no-store' }),
);
