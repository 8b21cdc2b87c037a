/**
 * `GET /v1/artifacts/{sha256}`: model files by content hash, from R2 (`artifacts/<sha256>`). The bytes of
 * a hash never change, so responses are immutable, cached with the Cache API, and resumable with Range.
 * Content-Length is always exact, so clients can show progress.
 *
 * R2 holds whatever was uploaded under a name, so no byte goes out as a success before it is known to
 * hash to that name (storage/artifact-checks.ts): a whole download is hashed as it streams, its last
 * chunk held back until the digest matches (http/verifying-stream.ts), so bytes that fail end the
 * response short; only an upload whose bytes matched is put in the cache. A Range is
 * served only from an upload already hashed whole (by this isolate or, per its marker, another); else
 * the whole object is hashed first. A mismatch answers 422 `artifact_hash_mismatch` from then on, is
 * logged (`artifact_corrupt`) and shown on `/v1/edge/status`; re-uploaded bytes are checked afresh.
 * `If-None-Match` gets 304 only for an artifact that exists.
 */
import { Hono, type Context } from 'hono';
import { TandemError } from '../../protocol/errors.ts';
import { catalogKey } from './catalog.ts';
import type { EdgeEnv } from '../context.ts';
import { workersCache, type ResponseCache } from '../http/edge-cache.ts';
import { IMMUTABLE, notModified, strongEtag } from '../http/etag.ts';
import { contentRange, parseRange } from '../http/range.ts';
import { hashStream, verifyingStream } from '../http/verifying-stream.ts';
import { ArtifactChecks } from '../storage/artifact-checks.ts';
import { artifactObjectKey, SHA256_HEX } from '../storage/layout.ts';
import { refusals } from '../storage/refusals.ts';

/** This isolate's verdicts on stored artifacts. */
const checks = new ArtifactChecks();

export function artifactRoutes(cache: ResponseCache = workersCache()): Hono<EdgeEnv> {
  const routes = new Hono<EdgeEnv>();
  routes.get('/artifacts/:sha256', catalogKey, async (c) => {
    const sha256 = c.req.param('sha256').toLowerCase();
    if (!SHA256_HEX.test(sha256)) throw new TandemError('bad_request', 'an artifact is named by its hex SHA-256');
    const etag = strongEtag(sha256);
    if (notModified(c.req.header('if-none-match'), etag)) {
      if (!(await exists(c, sha256, cache))) throw new TandemError('not_found', `no artifact ${sha256}`);
      return c.body(null, 304, { etag, 'cache-control': IMMUTABLE });
    }
    if (c.req.method === 'HEAD') return serveHead(c, sha256);
    const rangeHeader = c.req.header('range');
    return rangeHeader ? servePartial(c, sha256, rangeHeader, cache) : serveWhole(c, sha256, cache);
  });
  return routes;
}

/** A conditional R2 read that got the object (its precondition held), not just its metadata. */
function hasBody(object: R2Object | R2ObjectBody | null): object is R2ObjectBody {
  return object !== null && 'body' in object;
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

/** Keyed by hash alone, so every route and host shares one entry per file. */
function cacheKeyFor(c: Context<EdgeEnv>, sha256: string): string {
  return new URL(`/v1/artifacts/${sha256}`, c.req.url).toString();
}

async function exists(c: Context<EdgeEnv>, sha256: string, cache: ResponseCache): Promise<boolean> {
  const hit = await cache.get(cacheKeyFor(c, sha256));
  if (hit) {
    await hit.body?.cancel();
    return true;
  }
  return (await c.env.MODELS.head(artifactObjectKey(sha256))) !== null;
}

function mismatch(sha256: string): TandemError {
  return new TandemError(
    'artifact_hash_mismatch',
    `the stored bytes of artifact ${sha256} do not hash to its name; they are not served (publish the file again)`,
  );
}

/** Records and logs stored bytes that fail their hash. */
function corrupt(c: Context<EdgeEnv>, sha256: string, version: string, actual: string): void {
  checks.corrupt(sha256, version, actual);
  const reason = `R2 upload ${version} hashes to ${actual}`;
  refusals.record({ key: artifactObjectKey(sha256), kind: 'artifact', sha256, code: 'artifact_hash_mismatch', reason }, Date.now());
  console.error(JSON.stringify({ event: 'artifact_corrupt', request_id: c.get('requestId'), sha256, r2_version: version, actual }));
}

function verified(c: Context<EdgeEnv>, sha256: string, version: string): void {
  refusals.clear(artifactObjectKey(sha256));
  waitUntil(c, checks.verified(c.env.MODELS, sha256, version, Date.now()));
}

function waitUntil(c: Context<EdgeEnv>, promise: Promise<unknown>): void {
  try {
    c.executionCtx.waitUntil(promise);
  } catch {
    // No execution context (a bare test call): the work just runs.
  }
}

async function serveHead(c: Context<EdgeEnv>, sha256: string): Promise<Response> {
  const head = await c.env.MODELS.head(artifactObjectKey(sha256));
  if (!head) throw new TandemError('not_found', `no artifact ${sha256}`);
  if (checks.known(sha256, head.version)?.kind === 'corrupt') throw mismatch(sha256);
  return c.body(null, 200, headersFor(sha256, head, head.size));
}

async function serveWhole(c: Context<EdgeEnv>, sha256: string, cache: ResponseCache): Promise<Response> {
  const cacheKey = cacheKeyFor(c, sha256);
  const hit = await cache.get(cacheKey);
  if (hit) {
    c.set('log', { ...c.get('log'), cache: 'hit' });
    return hit;
  }
  c.set('log', { ...c.get('log'), cache: 'miss' });
  const object = await c.env.MODELS.get(artifactObjectKey(sha256));
  if (!object) throw new TandemError('not_found', `no artifact ${sha256}`);
  if (checks.known(sha256, object.version)?.kind === 'corrupt') {
    await object.body.cancel();
    throw mismatch(sha256);
  }
  const checked = object.body.pipeThrough(
    verifyingStream(sha256, (actual) => {
      if (actual !== sha256) return corrupt(c, sha256, object.version, actual);
      verified(c, sha256, object.version);
      waitUntil(c, fillCache(c, sha256, object, cache));
    }),
  );
  // A stream of known length keeps Content-Length (progress), and a body that fails part way is cut
  // short of it, which every HTTP client reports as an error: a chunked body would just end early.
  const sized = new FixedLengthStream(object.size);
  checked.pipeTo(sized.writable).catch(() => undefined);
  return new Response(sized.readable, { status: 200, headers: headersFor(sha256, object, object.size) });
}

/**
 * Caches an upload once its bytes have hashed to their name: read again from R2 (the same upload, by
 * etag and version), since a cache may keep even a body that failed part way (Miniflare's does).
 */
async function fillCache(c: Context<EdgeEnv>, sha256: string, hashed: R2Object, cache: ResponseCache): Promise<void> {
  const object = await c.env.MODELS.get(artifactObjectKey(sha256), { onlyIf: { etagMatches: hashed.etag } });
  if (!hasBody(object)) return;
  if (object.version !== hashed.version) return object.body.cancel();
  await cache.put(cacheKeyFor(c, sha256), new Response(object.body, { status: 200, headers: headersFor(sha256, object, object.size) }));
}

async function servePartial(c: Context<EdgeEnv>, sha256: string, rangeHeader: string, cache: ResponseCache, tries = 2): Promise<Response> {
  const key = artifactObjectKey(sha256);
  const head = await c.env.MODELS.head(key);
  if (!head) throw new TandemError('not_found', `no artifact ${sha256}`);
  const range = parseRange(rangeHeader, head.size);
  if (range === 'unsatisfiable') {
    const error = new TandemError('range_not_satisfiable', `range ${rangeHeader} is outside the ${head.size}-byte artifact`);
    c.header('content-range', `bytes */${head.size}`);
    throw error;
  }
  if (range === null) return serveWhole(c, sha256, cache);
  const checked = await hashedWhole(c, sha256, head);
  const length = range.end - range.start + 1;
  const object = checked ? await c.env.MODELS.get(key, { range: { offset: range.start, length }, onlyIf: { etagMatches: head.etag } }) : null;
  if (!hasBody(object) || object.version !== head.version) {
    if (hasBody(object)) await object.body.cancel();
    // Replaced while we looked: look again, and in the end serve it whole (hashed as it streams).
    if ((await c.env.MODELS.head(key)) === null) throw new TandemError('not_found', `no artifact ${sha256}`);
    return tries > 1 ? servePartial(c, sha256, rangeHeader, cache, tries - 1) : serveWhole(c, sha256, cache);
  }
  return new Response(object.body, {
    status: 206,
    headers: { ...headersFor(sha256, object, length), 'content-range': contentRange(range, head.size) },
  });
}

/**
 * Whether the upload `head` names is known to hash to `sha256`, hashing it whole first if no verdict is
 * kept. False when it was replaced meanwhile.
 * @throws TandemError `artifact_hash_mismatch` when it does not.
 */
async function hashedWhole(c: Context<EdgeEnv>, sha256: string, head: R2Object): Promise<boolean> {
  const verdict = await checks.verdict(c.env.MODELS, sha256, head.version);
  if (verdict?.kind === 'corrupt') throw mismatch(sha256);
  if (verdict?.kind === 'verified') return true;
  const whole = await c.env.MODELS.get(artifactObjectKey(sha256), { onlyIf: { etagMatches: head.etag } });
  if (!hasBody(whole)) return false;
  if (whole.version !== head.version) {
    await whole.body.cancel();
    return false;
  }
  const actual = await hashStream(whole.body);
  if (actual !== sha256) {
    corrupt(c, sha256, head.version, actual);
    throw mismatch(sha256);
  }
  verified(c, sha256, head.version);
  return true;
}
