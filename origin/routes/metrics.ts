/** `GET /metrics`: the origin's Prometheus metrics as text (see `../metrics.ts`). */
import { Hono } from 'hono';
import type { OriginDeps, OriginEnv } from '../context.ts';
import type { Access } from '../middleware/access.ts';

/** Routes at the root. */
export function metricsRoutes(deps: Pick<OriginDeps, 'metrics'>, access: Access): Hono<OriginEnv> {
  const { metrics } = deps;
  const routes = new Hono<OriginEnv>();
  routes.get('/metrics', access.observability, async (c) => c.text(await metrics.registry.metrics(), 200, { 'content-type': metrics.registry.contentType }));
  return routes;
}
