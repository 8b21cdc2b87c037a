/**
 * Triton's model-repository extension, for operators (admin token): `POST /v2/repository/index` lists
 * every version with its state, `.../models/{name}/load {"version"}` loads a version and makes it current
 * (hot swap; the previous current version is retired once its queue drains), `.../unload` stops serving one.
 * A load is recorded in the repository as the operator's choice (`<repository>/<name>/current`), so the
 * version stays current after a restart, a rollback to an older version included; when the record cannot
 * be written (a read-only repository) the answer says so (`saved: false`): the choice lasts until restart.
 *
 * A load names a version folder of the repository and nothing else: the name must be a model id, the
 * version a semantic version, and `<repository>/<name>/<version>` a folder holding a signed manifest,
 * or the answer is 404 `model_not_found` before anything is read or recorded.
 */
import { Hono, type Context } from 'hono';
import { TandemError } from '../../protocol/errors.ts';
import type { OriginDeps, OriginEnv } from '../context.ts';
import type { Access } from '../middleware/access.ts';
import { assertModelVersion, modelPath } from '../../protocol/hono/model-path.ts';
import { redactPaths } from '../redact-paths.ts';
import { listModelVersions } from '../repository.ts';

/** Routes under `/v2`. */
export function repositoryRoutes(deps: Pick<OriginDeps, 'registry' | 'config'>, access: Access): Hono<OriginEnv> {
  const { registry, config } = deps;
  const routes = new Hono<OriginEnv>();

  routes.post('/repository/index', access.admin, (c) =>
    c.json([
      ...registry.list().map((m) => ({ name: m.id, version: m.version, state: 'READY', current: registry.currentVersion(m.id) === m.version })),
      ...registry.refused().map((r) => ({
        name: r.id,
        version: r.version,
        state: 'UNAVAILABLE',
        reason: redactPaths(`${r.code}: ${r.reason}`, config.repository),
      })),
    ]),
  );

  routes.post('/repository/models/:name/load', access.admin, modelPath(), async (c) => {
    const name = c.req.param('name');
    const version = await versionFromBody(c);
    const stored = await listModelVersions(config.repository);
    if (!stored.some((entry) => entry.id === name && entry.version === version)) {
      throw new TandemError('model_not_found', `the repository has no version folder ${name}/${version}`);
    }
    const { previous, saved } = await registry.swap(name, version);
    const unsaved = {
      saved: false,
      warning: 'the choice could not be recorded in the repository (read-only?): a restart makes the newest version current again',
    };
    return c.json({ name, version, previous: previous ?? null, ...(saved ? {} : unsaved) });
  });

  routes.post('/repository/models/:name/unload', access.admin, modelPath(), async (c) => {
    const name = c.req.param('name');
    const version = await versionFromBody(c);
    await registry.unload(name, version);
    return c.json({ name, version, unloaded: true });
  });

  return routes;
}

/**
 * The version a load or unload names, in `version` (or Triton's `parameters.version`).
 * @throws TandemError `bad_request` without one, `model_not_found` (without echoing it) when it is not a
 * semantic version.
 */
async function versionFromBody(c: Context): Promise<string> {
  const body = (await c.req.json().catch(() => null)) as { version?: unknown; parameters?: { version?: unknown } } | null;
  const version = body?.version ?? body?.parameters?.version;
  if (typeof version !== 'string' || version === '') throw new TandemError('bad_request', 'the body must name a "version"');
  assertModelVersion(version);
  return version;
}
