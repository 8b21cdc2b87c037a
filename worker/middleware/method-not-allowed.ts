/**
 * 405 `method_not_allowed` with `Allow` for a known path asked with another method, instead of a 404
 * that says the path does not exist (the origin answers the same: origin/middleware/method-not-allowed.ts).
 * Built from the routes the app already has, so it cannot drift from them: add it after the last route.
 */
import type { Hono } from 'hono';
import { TandemError } from '../../protocol/errors.ts';
import type { EdgeEnv } from '../context.ts';

/** `Allow` values by route path, from an app's routes (`GET` implies `HEAD`, which hono answers). */
export function allowedMethods(routes: readonly { method: string; path: string }[]): Map<string, string[]> {
  const allowed = new Map<string, Set<string>>();
  for (const { method, path } of routes) {
    if (method === 'ALL') continue; // Middleware.
    const methods = allowed.get(path) ?? new Set<string>();
    methods.add(method);
    if (method === 'GET') methods.add('HEAD');
    allowed.set(path, methods);
  }
  return new Map([...allowed].map(([path, methods]) => [path, [...methods].sort()]));
}

/**
 * @example
 * app.route('/v1', catalogRoutes);
 * answerMethodNotAllowed(app);
 */
export function answerMethodNotAllowed(app: Hono<EdgeEnv>): void {
  for (const [path, methods] of allowedMethods(app.routes)) {
    const allow = methods.join(', ');
    app.all(path, (c) => {
      c.header('Allow', allow);
      throw new TandemError('method_not_allowed', `${c.req.method} is not allowed here; use ${allow}`);
    });
  }
}
