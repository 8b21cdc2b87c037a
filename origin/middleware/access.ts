/**
 * Who may call what, in one place: inference routes take the inference or the admin token, repository
 * routes only the admin token (the inference token gets 403), and observability (health, metrics) is open
 * unless `TANDEM_OPEN_OBSERVABILITY=false`, when it takes either token. The bearer check itself is
 * `../auth.ts`.
 */
import type { MiddlewareHandler } from 'hono';
import { bearerAuth } from '../auth.ts';
import type { AppConfig, OriginEnv } from '../context.ts';

export interface Access {
  inference: MiddlewareHandler<OriginEnv>;
  admin: MiddlewareHandler<OriginEnv>;
  observability: MiddlewareHandler<OriginEnv>;
}

/**
 * @example
 * const access = accessFor(config);
 * routes.post('/models/:name/infer', access.inference, infer);
 */
export function accessFor(config: Pick<AppConfig, 'inferenceToken' | 'adminToken' | 'openObservability'>): Access {
  const inference = bearerAuth({ tokens: [config.inferenceToken, config.adminToken] });
  const admin = bearerAuth({ tokens: [config.adminToken], forbidden: [config.inferenceToken] });
  const open: MiddlewareHandler<OriginEnv> = (_c, next) => next();
  return { inference, admin, observability: config.openObservability ? open : inference };
}
