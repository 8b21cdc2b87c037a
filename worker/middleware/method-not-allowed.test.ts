/** A wrong method on a known edge route (issue 18, item 10): 405 with `Allow` and the documented body. */
import { beforeAll, describe, expect, it } from 'vitest';
import { parseErrorBody } from '../../protocol/errors.ts';
import { createApp } from '../app.ts';
import { apiKeysVar, fetchApp, testEnv } from '../test-support.ts';
import { allowedMethods } from '../../protocol/hono/method-not-allowed.ts';

const app = createApp({ log: { write: () => undefined } });
let vars: Env;

beforeAll(async () => {
  vars = testEnv({ API_KEYS: await apiKeysVar() });
});

describe('method not allowed', () => {
  it('answers 405 method_not_allowed with Allow on every known path', async () => {
    const cases: [string, string, string][] = [
      ['POST', '/v1/models', 'GET, HEAD'],
      ['DELETE', '/v1/models/m/manifest', 'GET, HEAD'],
      ['PUT', `/v1/artifacts/${'a'.repeat(64)}`, 'GET, HEAD'],
      ['GET', '/v2/models/m/infer', 'POST'],
      ['PATCH', '/v2/models/m/versions/1.0.0/infer', 'POST'],
      ['POST', '/v1/edge/status', 'GET, HEAD'],
      ['PATCH', '/v1/edge/origins', 'DELETE, GET, HEAD, PUT'],
    ];
    for (const [method, path, allow] of cases) {
      const res = await fetchApp(app, path, { method }, vars);
      const error = parseErrorBody(res.status, await res.json(), res.headers);
      expect([res.status, error.code, res.headers.get('allow')], `${method} ${path}`).toEqual([405, 'method_not_allowed', allow]);
      expect(error.requestId).toBe(res.headers.get('x-request-id'));
    }
  });

  it('still answers 404 for paths that do not exist', async () => {
    expect((await fetchApp(app, '/v1/nothing', { method: 'POST' }, vars)).status).toBe(404);
  });

  it('reads the methods of each path from the routes', () => {
    const allowed = allowedMethods([
      { method: 'ALL', path: '*' },
      { method: 'GET', path: '/a' },
      { method: 'PUT', path: '/a' },
      { method: 'POST', path: '/b' },
    ]);
    expect(Object.fromEntries(allowed)).toEqual({ '/a': ['GET', 'HEAD', 'PUT'], '/b': ['POST'] });
  });
});
