/**
 * `GET /v1/artifacts/{sha256}`: model files by content hash, from R2 (`artifacts/<sha256>`). The bytes of
 * a hash never change, so responses are immutable, cached with the Cache API, and resumable with Range.
 * Content-Length is always exact, so clients can show progress.
 */
import { Hono, type Context } from 'hono';
import { TandemError } from '../../protocol/errors.ts';
import { catalogKey } from './catalog.ts';
import type { EdgeEnv } from '../context.ts';
import { workersCache, type ResponseCache } from '../http/edge-cache.ts';
import { IMMUTABLE, notModified, strongEtag } from '../http/etag.ts';
import { contentRange, parseRange } from '../http/range.ts';
import { artifactObjectKey, SHA256_HEX } from '../storage/layout.ts';

export function artifactRoutes(cache: ResponseCache = workersCache()): Hono<EdgeEnv> {
  const routes = new Hono<EdgeEnv>();
  routes.get('/artifacts/:sha256', catalogKey, async (c) => {
    const sha256 = c.req.param('sha256').toLowerCase();
    if (!SHA256_HEX.test(sha256)) throw new TandemError('bad_request', 'an artifact is named by its hex SHA-256');
    const etag = strongEtag(sha256);
    if (notModified(c.req.header('if-none-match'), etag)) return c.body(null, 304, { etag, 'cache-control': IMMUTABLE });
    const rangeHeader = c.req.header('range');
    return rangeHeader ? servePartial(c, sha256, rangeHeader) : serveWhole(c, sha256, cache);
  });
  return routes;
}

function headersFor(sha256: string, object: R2Object, length: number): Record<string, string> {
  return {
    etag: strongEtag(sha256),
    'cache-control': IMMUTABLE,
    'accept-ranges': 'bytes',
    'content-type': object.httpMetadata?.contentType ?? 'application/octet-stream',
    'content-length': String(length),
  };
}

async function serveWhole(c: Context<EdgeEnv>, sha256: string, cache: ResponseCache): Promise<Response> {
  // Keyed by hash alone, so every route and host shares one entry per file.
  const cacheKey = new URL(`/v1/artifacts/${sha256}`, c.req.url).toString();
  const hit = await cache.get(cacheKey);
  if (hit) {
    c.set('log', { ...c.get('log'), cache: 'hit' });
    return hit;
  }
  c.set('log', { ...c.get('log'), cache: 'miss' });
  const object = await c.env.MODELS.get(artifactObjectKey(sha256));
  if (!object) throw new TandemError('not_found', `no artifact ${sha256}`);
  const response = new Response(object.body, { status: 200, headers: headersFor(sha256, object, object.size) });
  if (c.req.method === 'GET') c.executionCtx.waitUntil(cache.put(cacheKey, response.clone()));
  return response;
}

async function servePartial(c: Context<EdgeEnv>, sha256: string, rangeHeader: string): Promise<Response> {
  const key = artifactObjectKey(sha256);
  const head = await c.env.MODELS.head(key);
  if (!head) throw new TandemError('not_found', `no artifact ${sha256}`);
  const range = parseRange(rangeHeader, head.size);
  if (range === 'unsatisfiable') {
    const error = new TandemError('range_not_satisfiable', `range ${rangeHeader} is outside the ${head.size}-byte artifact`);
    c.header('content-range', `bytes */${head.size}`);
    throw error;
  }
  if (range === null) {
    const object = await c.env.MODELS.get(key);
    if (!object) throw new TandemError('not_found', `no artifact ${sha256}`);
    return new Response(object.body, { status: 200, headers: headersFor(sha256, object, object.size) });
  }
  const length = range.end - range.start + 1;
  const object = await c.env.MODELS.get(key, { range: { offset: range.start, length } });
  if (!object) throw new TandemError('not_found', `no artifact ${sha256}`);
  return new Response(object.body, {
    status: 206,
    headers: { ...headersFor(sha256, object, length), 'content-range': contentRange(range, head.size) },
  });
}
