/**
 * The origin's HTTP surface as one hono app: request ids, `Connection: close` while draining and the
 * request log, then the route groups: health, Prometheus metrics, OIP v2 metadata and inference (JSON and
 * binary tensors), and Triton's model-repository extension for admin loads and swaps; a known path asked
 * with another method gets 405. Errors from anywhere become OIP's error body
 * `{ error: "<message>", code, request_id }` with the status of their code, in `onError` and nowhere else.
 */
import { Hono } from 'hono';
import type { OriginDeps, OriginEnv } from './context.ts';
import { accessFor } from './middleware/access.ts';
import { closeWhileDraining } from './middleware/draining.ts';
import { notFound, onError } from './middleware/errors.ts';
import { answerMethodNotAllowed } from '../protocol/hono/method-not-allowed.ts';
import { requestId } from './middleware/request-id.ts';
import { requestLog } from './middleware/request-log.ts';
import { healthRoutes } from './routes/health.ts';
import { inferRoutes } from './routes/infer.ts';
import { metadataRoutes } from './routes/metadata.ts';
import { metricsRoutes } from './routes/metrics.ts';
import { repositoryRoutes } from './routes/repository.ts';

export type { Logger, OriginDeps, OriginState } from './context.ts';
export { SERVER_NAME, SERVER_VERSION } from './routes/metadata.ts';
export { TIMEOUT_HEADER } from './routes/infer.ts';

/**
 * @example
 * const app = createOriginApp({ config, registry, metrics, logger, state: { draining: false } });
 * serve({ fetch: app.fetch, port: 8000 });
 */
export function createOriginApp(deps: OriginDeps): Hono<OriginEnv> {
  // A trailing slash is ignored: the OIP's OpenAPI text writes the server metadata path `/v2/`, its prose `v2`.
  const app = new Hono<OriginEnv>({ strict: false });
  const access = accessFor(deps.config);
  app.use('*', requestId());
  app.use('*', closeWhileDraining(deps.state));
  app.use('*', requestLog({ logger: deps.logger }));
  app.route('/v2', healthRoutes(deps, access));
  app.route('/', metricsRoutes(deps, access));
  app.route('/v2', metadataRoutes(deps, access));
  app.route('/v2', inferRoutes(deps, access));
  app.route('/v2', repositoryRoutes(deps, access));
  answerMethodNotAllowed(app);
  app.onError(onError({ logger: deps.logger, repository: deps.config.repository }));
  app.notFound(notFound);
  return app;
}
