/**
 * `POST /v2/models/{name}[/versions/{v}]/infer`: OIP v2 inference with JSON or binary tensors. The body is
 * read with its size limit, decoded with element limits, checked against the model's signature, queued on
 * the model's batcher, and the answer encoded as the caller asked (binary outputs or JSON; an output's
 * `classification` parameter answers its top classes, protocol/oip-classification.ts), with the serving
 * version in `x-model-version`.
 */
import { Hono, type Context } from 'hono';
import {
  INFERENCE_HEADER_CONTENT_LENGTH,
  binaryOutputSelector,
  jsonCannotCarry,
  decodeInferRequest,
  encodeInferResponse,
  type NamedInferTensor,
} from '../../protocol/oip-codec.ts';
import { TandemError, toTandemError } from '../../protocol/errors.ts';
import { classificationCounts, classify } from '../../protocol/oip-classification.ts';
import type { TensorSpec } from '../../protocol/manifest.ts';
import { tensorsByName, type Tensor } from '../../protocol/tensor.ts';
import type { OriginDeps, OriginEnv } from '../context.ts';
import type { Access } from '../middleware/access.ts';
import { modelPath } from '../../protocol/hono/model-path.ts';
import { roundMs } from '../middleware/request-log.ts';
import type { ServedModel } from '../model-registry.ts';
import { disconnectSignal, readBody } from '../node-request.ts';
import { requestedOutputs, validateInputs } from '../../protocol/validate-inputs.ts';

/** Relative deadline for one request, in milliseconds; queued work past it is dropped (504). */
export const TIMEOUT_HEADER = 'x-request-timeout-ms';

/** Routes under `/v2`. */
export function inferRoutes(deps: OriginDeps, access: Access): Hono<OriginEnv> {
  const { config, registry, metrics, state } = deps;
  const routes = new Hono<OriginEnv>();

  const infer = async (c: Context<OriginEnv>) => {
    metrics.inFlight.inc();
    const started = performance.now();
    const log = c.get('log');
    let model: ServedModel | undefined;
    let outcome = { status: 200, code: 'ok' };
    try {
      if (state.draining) throw new TandemError('shutting_down', 'the server is shutting down', { retryAfterSeconds: 1 });
      const name = c.req.param('name')!;
      const version = c.req.param('version');
      // An unknown model is refused before its body is read, and so is a request that would be shed even
      // with a single row: the caller hears at once, not after uploading into a full queue.
      model = registry.resolve(name, version);
      const timeoutMs = parseTimeout(c.req.header(TIMEOUT_HEADER));
      const deadline = timeoutMs === undefined ? undefined : performance.now() + timeoutMs;
      const early = model.batcher.refusal(1, deadline);
      if (early?.code === 'overloaded') throw early;
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
      const plan = validateInputs(request.inputs, model.variant, { nonFinite: config.nonFinite });
      const outputs = requestedOutputs(
        request.outputs?.map((o) => o.name),
        model.variant.outputs,
      );
      const classification = classificationCounts(request.outputs, model.variant.outputs);
      // Only what onnxruntime needs goes on: a tensor's parameters are the caller's free-form JSON.
      const inputs = tensorsByName();
      for (const { name: inputName, dtype, dims, data } of request.inputs) inputs[inputName] = { dtype, dims, data } as Tensor;
      const result = await model.batcher.submit(
        { inputs, outputs },
        {
          rows: plan.rows,
          key: plan.key === null ? null : `${plan.key}>${outputs.join(',')}`,
          ...(signal ? { signal } : {}),
          ...(deadline === undefined ? {} : { deadline }),
        },
      );
      Object.assign(log, { batch_size: result.batchSize, queue_ms: roundMs(result.queueMs), compute_ms: roundMs(result.computeMs) });
      metrics.served(model).queueSeconds.observe(result.queueMs / 1000);
      const asked = binaryOutputSelector(request);
      const labels = model.manifest.classLabels;
      const answered = outputs.map((name): NamedInferTensor => {
        const k = classification.get(name);
        const tensor = result.outputs[name]!;
        return { name, ...(k === undefined ? tensor : classify(tensor, k, labels)) };
      });
      const byName = new Map(answered.map((t) => [t.name, t]));
      const encoded = encodeInferResponse(
        {
          modelName: model.id,
          modelVersion: model.version,
          ...(request.id === undefined ? {} : { id: request.id }),
          outputs: answered,
        },
        // NaN, ±Infinity or a huge int64 cannot be JSON: that output goes binary rather than failing the request.
        { binary: (name) => asked(name) || jsonCannotCarry(byName.get(name)!) },
      );
      c.header('x-model-version', model.version);
      return c.body(encoded.body, 200, encoded.headers);
    } catch (err) {
      const error = toTandemError(err);
      outcome = { status: error.status, code: error.code };
      throw error;
    } finally {
      metrics.inFlight.dec();
      if (model && outcome.status === 200) {
        const series = metrics.served(model);
        series.ok.inc();
        series.requestSeconds.observe((performance.now() - started) / 1000);
      } else {
        const labels = model ? metrics.served(model).labels : { model: 'unknown', version: '', variant: '' }; // Never a caller's string: labels must stay few.
        metrics.requests.inc({ ...labels, status: String(outcome.status), code: outcome.code });
      }
    }
  };
  routes.post('/models/:name/infer', access.inference, modelPath(), infer);
  routes.post('/models/:name/versions/:version/infer', access.inference, modelPath(), infer);

  return routes;
}

/** The `x-request-timeout-ms` header in milliseconds, or undefined. @throws TandemError `bad_request` */
export function parseTimeout(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = Number(value);
  if (!/^\d{1,9}$/.test(value.trim()) || ms <= 0) throw new TandemError('bad_request', `${TIMEOUT_HEADER} must be a positive integer of milliseconds`);
  return ms;
}
