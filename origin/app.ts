/**
 * The origin's HTTP surface: the Open Inference Protocol v2 REST routes (health, server and model
 * metadata, infer with JSON and binary tensors), Triton's model-repository extension for admin loads and
 * swaps, and Prometheus metrics. Errors from anywhere become `{ error: { code, message, request_id } }`
 * with the status of their code, in `onError` and nowhere else.
 */
import { Hono, type Context } from 'hono';
import {
  INFERENCE_HEADER_CONTENT_LENGTH,
  binaryOutputSelector,
  decodeInferRequest,
  encodeInferResponse,
  jsonCannotCarry,
  type NamedInferTensor,
} from '../protocol/oip-codec.ts';
import { DATATYPE_OF_DTYPE } from '../protocol/oip-datatype.ts';
import { TandemError, toTandemError } from '../protocol/errors.ts';
import type { TensorSpec } from '../protocol/manifest.ts';
import type { Tensor } from '../protocol/tensor.ts';
import { bearerAuth } from './auth.ts';
import { disconnectSignal, readBody } from './node-request.ts';
import type { OriginConfig } from './config.ts';
import type { OriginMetrics } from './metrics.ts';
import type { ModelRegistry, ServedModel } from './model-registry.ts';
import { validateInputs } from './validate-inputs.ts';

export const SERVER_NAME = 'tandem-origin';
export const SERVER_VERSION = '0.1.0';
/** Relative deadline for one request, in milliseconds; queued work past it is dropped (504). */
export const TIMEOUT_HEADER = 'x-request-timeout-ms';

export interface Logger {
  info(fields: Record<string, unknown>, message?: string): void;
  warn(fields: Record<string, unknown>, message?: string): void;
  error(fields: Record<string, unknown>, message?: string): void;
  /** Writes out buffered lines, then calls back (asynchronous loggers). */
  flush?(callback?: (err?: Error) => void): void;
}

export interface OriginState {
  /** Set on SIGTERM: readiness turns false and new inference is refused. */
  draining: boolean;
}

export interface OriginAppDeps {
  config: Pick<OriginConfig, 'inferenceToken' | 'adminToken' | 'openObservability' | 'maxBodyBytes' | 'maxElements' | 'nonFinite'>;
  registry: ModelRegistry;
  metrics: OriginMetrics;
  logger: Logger;
  state: OriginState;
}

type Env = { Variables: { requestId: string; log: Record<string, unknown> } };

export function createOriginApp(deps: OriginAppDeps): Hono<Env> {
  const { config, registry, metrics, logger, state } = deps;
  const app = new Hono<Env>();
  const inference = bearerAuth({ tokens: [config.inferenceToken, config.adminToken] });
  const admin = bearerAuth({ tokens: [config.adminToken], forbidden: [config.inferenceToken] });
  const observability = config.openObservability ? undefined : bearerAuth({ tokens: [config.inferenceToken, config.adminToken] });

  app.use('*', async (c, next) => {
    const given = c.req.header('x-request-id');
    const requestId = given && /^[\w.:-]{1,128}$/.test(given) ? given : crypto.randomUUID();
    c.set('requestId', requestId);
    c.set('log', {});
    const started = performance.now();
    await next();
    c.header('x-request-id', requestId);
    if (c.req.path.startsWith('/v2/models/') && c.req.method === 'POST') {
      logger.info({
        request_id: requestId,
        method: c.req.method,
        path: c.req.path,
        status: c.res.status,
        total_ms: round(performance.now() - started),
        ...c.get('log'),
      });
    }
  });

  app.onError((err, c) => {
    const error = toTandemError(err);
    error.requestId = c.get('requestId');
    if (error.retryAfterSeconds !== undefined) c.header('Retry-After', String(error.retryAfterSeconds));
    c.set('log', { ...c.get('log'), code: error.code });
    if (error.status >= 500 && error.code !== 'overloaded' && error.code !== 'shutting_down') {
      logger.error({ request_id: error.requestId, code: error.code, err: error.message }, 'request failed');
    }
    return c.json(error.toBody(), error.status as 400);
  });

  app.notFound(() => {
    throw new TandemError('not_found', 'no such route');
  });

  const guard = (c: Context, next: () => Promise<void>) => (observability ? observability(c, next) : next());

  app.get('/v2/health/live', guard, (c) => c.json({ live: true }));

  app.get('/v2/health/ready', guard, (c) => {
    const models = registry.list().map((m) => ({ name: m.id, version: m.version, current: registry.currentVersion(m.id) === m.version }));
    const refused = registry.refused().map(({ id, version, code, reason }) => ({ name: id, version, code, reason }));
    const ready = !state.draining && models.length > 0;
    return c.json({ ready, draining: state.draining, models, refused }, ready ? 200 : 503);
  });

  app.get('/metrics', guard, async (c) => {
    return c.text(await metrics.registry.metrics(), 200, { 'content-type': metrics.registry.contentType });
  });

  app.get('/v2', (c) =>
    c.json({ name: SERVER_NAME, version: SERVER_VERSION, extensions: ['binary_tensor_data', 'model_repository'] }),
  );

  const modelMetadata = (c: Context) => {
    const model = registry.resolve(c.req.param('name')!, c.req.param('version'));
    const versions = registry.list().filter((m) => m.id === model.id).map((m) => m.version);
    return c.json({
      name: model.id,
      versions,
      platform: 'onnxruntime_onnx',
      inputs: model.variant.inputs.map(describeSpec),
      outputs: model.variant.outputs.map(describeSpec),
    });
  };
  app.get('/v2/models/:name', modelMetadata);
  app.get('/v2/models/:name/versions/:version', modelMetadata);

  const modelReady = (c: Context) => {
    const model = registry.resolve(c.req.param('name')!, c.req.param('version'));
    const ready = !state.draining;
    return c.json({ name: model.id, version: model.version, ready }, ready ? 200 : 503);
  };
  app.get('/v2/models/:name/ready', modelReady);
  app.get('/v2/models/:name/versions/:version/ready', modelReady);

  const infer = async (c: Context<Env>) => {
    metrics.inFlight.inc();
    const started = performance.now();
    const log = c.get('log');
    let model: ServedModel | undefined;
    let outcome = { status: 200, code: 'ok' };
    try {
      if (state.draining) throw new TandemError('shutting_down', 'the server is shutting down', { retryAfterSeconds: 1 });
      const name = c.req.param('name')!;
      const version = c.req.param('version');
      registry.resolve(name, version); // An unknown model is refused before its body is read.
      const timeoutMs = parseTimeout(c.req.header(TIMEOUT_HEADER));
      const body = await readBody(c, config.maxBodyBytes);
      const request = decodeInferRequest(body, c.req.header(INFERENCE_HEADER_CONTENT_LENGTH), {
        maxElements: config.maxElements,
        maxTotalElements: config.maxElements,
      });
      const signal = disconnectSignal(c);
      // Resolved again after the body arrived, with no await until submit: a hot swap that landed meanwhile
      // sends this request to the new version instead of the old one's closing queue.
      model = registry.resolve(name, version);
      Object.assign(log, { model: model.id, version: model.version });
      const plan = validateInputs(request.inputs, model.variant.inputs, { nonFinite: config.nonFinite });
      const outputs = requestedOutputs(request.outputs?.map((o) => o.name), model.variant.outputs);
      const inputs: Record<string, Tensor> = {};
      for (const input of request.inputs) inputs[input.name] = input;
      const result = await model.batcher.submit(
        { inputs, outputs },
        {
          rows: plan.rows,
          key: plan.key === null ? null : `${plan.key}>${outputs.join(',')}`,
          ...(signal ? { signal } : {}),
          ...(timeoutMs === undefined ? {} : { deadline: performance.now() + timeoutMs }),
        },
      );
      Object.assign(log, { batch_size: result.batchSize, queue_ms: round(result.queueMs), compute_ms: round(result.computeMs) });
      const labels = { model: model.id, version: model.version };
      metrics.queueSeconds.observe(labels, result.queueMs / 1000);
      const asked = binaryOutputSelector(request);
      const encoded = encodeInferResponse(
        {
          modelName: model.id,
          modelVersion: model.version,
          ...(request.id === undefined ? {} : { id: request.id }),
          outputs: outputs.map((name): NamedInferTensor => ({ name, ...result.outputs[name]! })),
        },
        // NaN, ±Infinity or a huge int64 cannot be JSON: that output goes binary rather than failing the request.
        { binary: (name) => asked(name) || jsonCannotCarry(result.outputs[name]!) },
      );
      c.header('x-model-version', model.version);
      return c.body(encoded.body, 200, encoded.headers);
    } catch (err) {
      const error = toTandemError(err);
      outcome = { status: error.status, code: error.code };
      throw error;
    } finally {
      metrics.inFlight.dec();
      const labels = model ? { model: model.id, version: model.version } : { model: 'unknown', version: '' }; // Never a caller's string: labels must stay few.
      metrics.requests.inc({ ...labels, status: String(outcome.status), code: outcome.code });
      if (model && outcome.status === 200) metrics.requestSeconds.observe(labels, (performance.now() - started) / 1000);
    }
  };
  app.post('/v2/models/:name/infer', inference, infer);
  app.post('/v2/models/:name/versions/:version/infer', inference, infer);

  // Triton's model repository extension, for operators: list, load (and make current), unload.
  app.post('/v2/repository/index', admin, (c) =>
    c.json([
      ...registry.list().map((m) => ({ name: m.id, version: m.version, state: 'READY', current: registry.currentVersion(m.id) === m.version })),
      ...registry.refused().map((r) => ({ name: r.id, version: r.version, state: 'UNAVAILABLE', reason: `${r.code}: ${r.reason}` })),
    ]),
  );
  app.post('/v2/repository/models/:name/load', admin, async (c) => {
    const version = await versionFromBody(c);
    const { previous } = await registry.swap(c.req.param('name'), version);
    return c.json({ name: c.req.param('name'), version, previous: previous ?? null });
  });
  app.post('/v2/repository/models/:name/unload', admin, async (c) => {
    const version = await versionFromBody(c);
    await registry.unload(c.req.param('name'), version);
    return c.json({ name: c.req.param('name'), version, unloaded: true });
  });

  return app;
}

function describeSpec(spec: TensorSpec) {
  return { name: spec.name, datatype: DATATYPE_OF_DTYPE[spec.dtype], shape: spec.shape.map((d) => (typeof d === 'number' ? d : -1)) };
}

/** The outputs a request asked for, in its order, or every output. @throws TandemError `output_unknown` */
function requestedOutputs(asked: string[] | undefined, specs: readonly TensorSpec[]): string[] {
  if (!asked || asked.length === 0) return specs.map((s) => s.name);
  for (const name of asked) {
    if (!specs.some((s) => s.name === name)) {
      throw new TandemError('output_unknown', `unknown output "${name}"; the model returns ${specs.map((s) => `"${s.name}"`).join(', ')}`);
    }
  }
  return asked;
}

function parseTimeout(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = Number(value);
  if (!/^\d{1,9}$/.test(value.trim()) || ms <= 0) throw new TandemError('bad_request', `${TIMEOUT_HEADER} must be a positive integer of milliseconds`);
  return ms;
}

async function versionFromBody(c: Context): Promise<string> {
  const body = (await c.req.json().catch(() => null)) as { version?: unknown; parameters?: { version?: unknown } } | null;
  const version = body?.version ?? body?.parameters?.version;
  if (typeof version !== 'string' || version === '') throw new TandemError('bad_request', 'the body must name a "version"');
  return version;
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
