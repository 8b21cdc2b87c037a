/**
 * 405 `method_not_allowed` with `Allow` for a known path asked with another method, instead of a 404 that
 * says the path does not exist, for the origin and the edge alike. Built from the routes the app already
 * has, so it cannot drift from them; add it after the last route.
 */
import type { Env, Hono } from 'hono';
import { TandemError } from '../errors.ts';

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
 * app.route('/v2', routes);
 * answerMethodNotAllowed(app);
 */
export function answerMethodNotAllowed<E extends Env>(app: Hono<E>): void {
  for (const [path, methods] of allowedMethods(app.routes)) {
    const allow = methods.join(', ');
    app.all(path, (c) => {
      c.header('Allow', allow);
      throw new TandemError('method_not_allowed', `${c.req.method} is not allowed here; use ${allow}`);
    });
  }
}
