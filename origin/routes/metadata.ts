/**
 * OIP v2 metadata: `GET /v2` (server), `GET /v2/models/{name}[/versions/{v}]` (a model's signature and
 * served versions) and `.../ready` (whether that model answers now). Metadata is observability: open
 * unless `TANDEM_OPEN_OBSERVABILITY=false`, when it takes a token like the rest.
 */
import { Hono, type Context } from 'hono';
import { modelMetadata as describeModel } from '../../protocol/oip-metadata.ts';
import type { OriginDeps, OriginEnv } from '../context.ts';
import type { Access } from '../middleware/access.ts';
import { modelPath } from '../../protocol/hono/model-path.ts';

export const SERVER_NAME = 'tandem-origin';
export const SERVER_VERSION = '0.1.0';

/** Routes under `/v2`. */
export function metadataRoutes(deps: Pick<OriginDeps, 'registry' | 'state'>, access: Access): Hono<OriginEnv> {
  const { registry, state } = deps;
  const routes = new Hono<OriginEnv>();
  const guard = [access.observability, modelPath()] as const;

  routes.get('/', access.observability, (c) =>
    c.json({ name: SERVER_NAME, version: SERVER_VERSION, extensions: ['binary_tensor_data', 'classification', 'model_repository'] }),
  );

  const modelMetadata = (c: Context<OriginEnv>) => {
    const model = registry.resolve(c.req.param('name')!, c.req.param('version'));
    const versions = registry
      .list()
      .filter((m) => m.id === model.id)
      .map((m) => m.version);
    return c.json(describeModel(model.id, versions, model.variant));
  };
  routes.get('/models/:name', ...guard, modelMetadata);
  routes.get('/models/:name/versions/:version', ...guard, modelMetadata);

  const modelReady = (c: Context<OriginEnv>) => {
    const model = registry.resolve(c.req.param('name')!, c.req.param('version'));
    const ready = !state.draining;
    return c.json({ name: model.id, version: model.version, ready }, ready ? 200 : 503);
  };
  routes.get('/models/:name/ready', ...guard, modelReady);
  routes.get('/models/:name/versions/:version/ready', ...guard, modelReady);

  return routes;
}
