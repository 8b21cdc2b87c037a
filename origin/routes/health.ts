/**
 * `GET /v2/health/live` and `GET /v2/health/ready`: liveness, and readiness, which is false while draining
 * or with no model served, and lists the served versions and those refused at load with their reason
 * (paths shown relative to the repository).
 */
import { Hono } from 'hono';
import type { OriginDeps, OriginEnv } from '../context.ts';
import type { Access } from '../middleware/access.ts';
import { redactPaths } from '../redact-paths.ts';

/** Routes under `/v2`. */
export function healthRoutes(deps: Pick<OriginDeps, 'registry' | 'state' | 'config'>, access: Access): Hono<OriginEnv> {
  const { registry, state, config } = deps;
  const routes = new Hono<OriginEnv>();

  routes.get('/health/live', access.observability, (c) => c.json({ live: true }));

  routes.get('/health/ready', access.observability, (c) => {
    const models = registry.list().map((m) => ({ name: m.id, version: m.version, current: registry.currentVersion(m.id) === m.version }));
    // Public by default: a refusal's reason names files, but never where the repository is.
    const refused = registry.refused().map(({ id, version, code, reason }) => ({ name: id, version, code, reason: redactPaths(reason, config.repository) }));
    const ready = !state.draining && models.length > 0;
    return c.json({ ready, draining: state.draining, models, refused }, ready ? 200 : 503);
  });

  return routes;
}
