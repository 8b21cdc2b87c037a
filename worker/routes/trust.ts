/**
 * The update framework's metadata for clients, no key needed (it is public and signed):
 *
 * - `GET /v1/trust/root/{n}.json`: root version n as stored, once the edge has verified the chain up to
 *   it from its pinned `ROOT_KEYS`; immutable (a root version never changes). A client walks n+1, n+2, …
 *   until 404.
 * - `GET /v1/trust/timestamp.json`: the timestamp record in force, as stored, cached briefly (the
 *   catalog's max-age, never past the record's expiry).
 *
 * When the edge has no unexpired, verified record to give (expired: freeze; older than one it saw:
 * rollback; too large, too slow, badly signed) it answers 503 with the code of why in the body, and
 * `no-store`: it serves the last good record while that is unexpired, and never one it refused. An edge
 * without `ROOT_KEYS` answers 404.
 */
import { Hono, type Context } from 'hono';
import { ERROR_CODE_HEADER, errorBody, TandemError, toTandemError } from '../../protocol/errors.ts';
import { sha256Hex } from '../../protocol/sha256.ts';
import type { EdgeEnv } from '../context.ts';
import { IMMUTABLE, notModified, strongEtag } from '../http/etag.ts';
import { timestampInForce, trustView, type TrustView } from '../storage/trust-metadata.ts';

export const trustRoutes = new Hono<EdgeEnv>();

const JSON_TYPE = 'application/json';

trustRoutes.get('/trust/root/:file', async (c) => {
  const version = /^([1-9]\d{0,8})\.json$/.exec(c.req.param('file'))?.[1];
  if (version === undefined) throw new TandemError('not_found', 'root versions are /v1/trust/root/<n>.json, n from 1');
  return withTrust(c, async (view) => {
    const text = view.roots.get(Number(version));
    if (text === undefined) throw new TandemError('not_found', `no root version ${version} (the newest verified is ${view.root.document.version})`);
    return send(c, text, IMMUTABLE);
  });
});

trustRoutes.get('/trust/timestamp.json', (c) =>
  withTrust(c, async (view) => {
    const now = Date.now();
    const { text, record } = timestampInForce(view, now);
    const untilExpiry = Math.floor((Date.parse(record.expires) - now) / 1000);
    const maxAge = Math.max(0, Math.min(c.get('config').tuning.manifestMaxAgeSeconds, untilExpiry));
    c.set('log', { ...c.get('log'), version: String(record.version) });
    return send(c, text, `public, max-age=${maxAge}`);
  }),
);

/** Runs `serve` with this isolate's verified metadata; a failure to have any is a 503 naming why. */
async function withTrust(c: Context<EdgeEnv>, serve: (view: TrustView) => Promise<Response>): Promise<Response> {
  const { rootKeys, tuning } = c.get('config');
  if (rootKeys.keys.size === 0) throw new TandemError('not_found', 'this edge has no root of trust (ROOT_KEYS is empty)');
  try {
    return await serve(await trustView(c.env.MODELS, rootKeys, tuning, Date.now()));
  } catch (err) {
    const error = toTandemError(err);
    if (error.code === 'not_found' || error.code === 'internal') throw error;
    // The edge cannot give good metadata now: a server condition, whatever the document's fault.
    c.error = error;
    return c.json(errorBody(error.code, error.message, c.get('requestId')), 503, {
      [ERROR_CODE_HEADER]: error.code,
      'cache-control': 'no-store',
      'retry-after': '30',
    });
  }
}

async function send(c: Context<EdgeEnv>, text: string, cacheControl: string): Promise<Response> {
  const etag = strongEtag(await sha256Hex(new TextEncoder().encode(text)));
  const headers = { etag, 'cache-control': cacheControl };
  if (notModified(c.req.header('if-none-match'), etag)) return c.body(null, 304, headers);
  return c.body(text, 200, { ...headers, 'content-type': JSON_TYPE });
}
