/**
 * Triton's model-repository extension, for operators (admin token): `POST /v2/repository/index` lists
 * every version with its state, `.../models/{name}/load {"version"}` loads a version and makes it current
 * (hot swap; the previous current version is retired once its queue drains), `.../unload` stops serving one.
 */
import { Hono, type Context } from 'hono';
import { TandemError } from '../../protocol/errors.ts';
import type { OriginDeps, OriginEnv } from '../context.ts';
import type { Access } from '../middleware/access.ts';

/** Routes under `/v2`. */
export function repositoryRoutes(deps: Pick<OriginDeps, 'registry'>, access: Access): Hono<OriginEnv> {
  const { registry } = deps;
  const routes = new Hono<OriginEnv>();

  routes.post('/repository/index', access.admin, (c) =>
    c.json([
      ...registry.list().map((m) => ({ name: m.id, version: m.version, state: 'READY', current: registry.currentVersion(m.id) === m.version })),
      ...registry.refused().map((r) => ({ name: r.id, version: r.version, state: 'UNAVAILABLE', reason: `${r.code}: ${r.reason}` })),
    ]),
  );

  routes.post('/repository/models/:name/load', access.admin, async (c) => {
    const version = await versionFromBody(c);
    const { previous } = await registry.swap(c.req.param('name'), version);
    return c.json({ name: c.req.param('name'), version, previous: previous ?? null });
  });

  routes.post('/repository/models/:name/unload', access.admin, async (c) => {
    const version = await versionFromBody(c);
    await registry.unload(c.req.param('name'), version);
    return c.json({ name: c.req.param('name'), version, unloaded: true });
  });

  return routes;
}

async function versionFromBody(c: Context): Promise<string> {
  const body = (await c.req.json().catch(() => null)) as { version?: unknown; parameters?: { version?: unknown } } | null;
  const version = body?.version ?? body?.parameters?.version;
  if (typeof version !== 'string' || version === '') throw new TandemError('bad_request', 'the body must name a "version"');
  return version;
}
