/**
 * The edge as one hono app: request ids and logs, CORS, config, then the routes: Tandem's own under `/v1`
 * (catalog, artifacts, admin, trust, rollout), the Open Inference Protocol's under `/v2` (inference, then health and
 * metadata); a known path asked with another method gets 405 with `Allow`. Errors of every route leave
 * through `onError`, in the body their route speaks (middleware/errors.ts).
 */
import { Hono } from 'hono';
import { adminRoutes } from './routes/admin.ts';
import { artifactRoutes } from './routes/artifacts.ts';
import { catalogRoutes } from './routes/catalog.ts';
import { inferenceRoutes } from './routes/inference.ts';
import { oipRoutes } from './routes/oip.ts';
import { rolloutRoutes } from './routes/rollout.ts';
import { trustRoutes } from './routes/trust.ts';
import { telemetryRoutes } from './routes/telemetry.ts';
import type { EdgeEnv } from './context.ts';
import { corsForBrowsers } from './middleware/cors.ts';
import { withEdgeState } from './middleware/edge-state.ts';
import { notFound, onError } from './middleware/errors.ts';
import { answerMethodNotAllowed } from '../protocol/hono/method-not-allowed.ts';
import { requestLog, type RequestLogOptions } from './middleware/request-log.ts';
import type { ResponseCache } from './http/edge-cache.ts';

export interface AppOptions {
  log?: RequestLogOptions;
  artifactCache?: ResponseCache;
}

export function createApp(options: AppOptions = {}): Hono<EdgeEnv> {
  // A trailing slash is ignored: the OIP's OpenAPI text writes the server metadata path `/v2/`, its prose `v2`.
  const app = new Hono<EdgeEnv>({ strict: false });
  app.use('*', requestLog(options.log));
  app.use('*', corsForBrowsers());
  app.use('*', withEdgeState());
  app.route('/v1', catalogRoutes);
  app.route('/v1', artifactRoutes(options.artifactCache));
  app.route('/v1', adminRoutes);
  app.route('/v1', trustRoutes);
  app.route('/v1', telemetryRoutes);
  app.route('/v1', rolloutRoutes);
  app.route('/v2', inferenceRoutes);
  app.route('/v2', oipRoutes);
  // After the last route: it reads them.
  answerMethodNotAllowed(app);
  app.onError(onError);
  app.notFound(notFound);
  return app;
}
