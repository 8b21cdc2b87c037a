/**
 * Checks the model id and version a request names before anything reads them: the `{id}`/`{name}` path
 * segment must be a model id, a `{version}` segment or a `?version=` query a semantic version (the
 * manifest's own rules, protocol/manifest.ts), or the answer is 404 `model_not_found` without the value.
 * Parameters arrive percent-decoded, so without this a NUL or a line feed travels on into R2 keys, logs
 * and the `x-model-version` header (where workerd throws on it), and any other string is echoed back.
 */
import type { MiddlewareHandler } from 'hono';
import { TandemError } from '../../protocol/errors.ts';
import { MODEL_ID_PATTERN, VERSION_PATTERN } from '../../protocol/manifest.ts';
import type { EdgeEnv } from '../context.ts';

/** Whether `id` could be a model id. */
export const isModelId = (id: string): boolean => MODEL_ID_PATTERN.test(id);
/** Whether `version` could be a model version. */
export const isModelVersion = (version: string): boolean => VERSION_PATTERN.test(version);

export interface ModelPathOptions {
  /** The route parameter naming the model. Default `'id'`. */
  idParam?: string;
  /** Also check the `version` query parameter. Default false. */
  versionQuery?: boolean;
}

/**
 * @example
 * routes.post('/models/:name/versions/:version/infer', modelPath({ idParam: 'name' }), handler);
 */
export function modelPath(options: ModelPathOptions = {}): MiddlewareHandler<EdgeEnv> {
  const { idParam = 'id', versionQuery = false } = options;
  return async (c, next) => {
    const id = c.req.param(idParam);
    if (id !== undefined && !isModelId(id)) throw new TandemError('model_not_found', 'no such model (model ids are lowercase ids such as mlp-classifier)');
    const versions = [c.req.param('version'), ...(versionQuery ? (c.req.queries('version') ?? []) : [])];
    if (versions.some((v) => v !== undefined && !isModelVersion(v))) {
      throw new TandemError('model_not_found', 'no such version (versions are semantic versions such as 1.2.0)');
    }
    await next();
  };
}
