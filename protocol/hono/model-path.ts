/**
 * Checks the model and version a request names before anything reads them, for the origin and the edge
 * alike: the model path segment must be a model id, a `{version}` segment (or, when asked, a `?version=`
 * query) a semantic version (the manifest's own rules), or the answer is 404 `model_not_found` without the
 * value. Parameters arrive percent-decoded, so without this a NUL, a line feed or `../` would travel on into
 * lookups, file paths, R2 keys, logs and the `x-model-version` header, and any other string be echoed back.
 */
import type { MiddlewareHandler } from 'hono';
import { TandemError } from '../errors.ts';
import { MODEL_ID_PATTERN, VERSION_PATTERN } from '../manifest.ts';

/** Whether `id` could be a model id. */
export const isModelId = (id: string): boolean => MODEL_ID_PATTERN.test(id);
/** Whether `version` could be a model version. */
export const isModelVersion = (version: string): boolean => VERSION_PATTERN.test(version);

/** @throws TandemError `model_not_found`, without echoing the value, unless `version` is a semantic version. */
export function assertModelVersion(version: string): void {
  if (!isModelVersion(version)) throw new TandemError('model_not_found', 'no such version (versions are semantic versions such as 1.2.0)');
}

export interface ModelPathOptions {
  /** The route parameter naming the model. Default `'name'` (OIP's `{name}`). */
  idParam?: string;
  /** Also check the `version` query parameter. Default false. */
  versionQuery?: boolean;
}

/**
 * @example
 * routes.post('/models/:name/versions/:version/infer', modelPath(), handler);
 */
export function modelPath(options: ModelPathOptions = {}): MiddlewareHandler {
  const { idParam = 'name', versionQuery = false } = options;
  return async (c, next) => {
    const id = c.req.param(idParam);
    if (id !== undefined && !isModelId(id)) throw new TandemError('model_not_found', 'no such model (model ids are lowercase ids such as mlp-classifier)');
    for (const version of [c.req.param('version'), ...(versionQuery ? (c.req.queries('version') ?? []) : [])]) {
      if (version !== undefined) assertModelVersion(version);
    }
    await next();
  };
}
