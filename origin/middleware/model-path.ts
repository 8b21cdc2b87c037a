/**
 * Checks a route's `{name}` and `{version}` path segments before anything else reads them: a name must be
 * a model id and a version a semantic version (the manifest's own rules), or the answer is 404
 * `model_not_found` without the segment. Path parameters arrive percent-decoded, so without this a NUL,
 * a line feed or `../` could travel on into lookups, file paths, logs and headers.
 */
import type { MiddlewareHandler } from 'hono';
import { TandemError } from '../../protocol/errors.ts';
import { MODEL_ID_PATTERN, VERSION_PATTERN } from '../../protocol/manifest.ts';
import type { OriginEnv } from '../context.ts';

/** Whether `name` could be a model id. */
export const isModelName = (name: string): boolean => MODEL_ID_PATTERN.test(name);
/** Whether `version` could be a model version. */
export const isModelVersion = (version: string): boolean => VERSION_PATTERN.test(version);

/**
 * @example
 * routes.get('/models/:name/versions/:version', modelPath(), handler);
 */
export function modelPath(): MiddlewareHandler<OriginEnv> {
  return async (c, next) => {
    const name = c.req.param('name');
    const version = c.req.param('version');
    if (name !== undefined && !isModelName(name)) throw new TandemError('model_not_found', 'no such model (model names are lowercase ids)');
    if (version !== undefined && !isModelVersion(version)) {
      throw new TandemError('model_not_found', 'no such version (versions are semantic versions such as 1.2.0)');
    }
    await next();
  };
}
