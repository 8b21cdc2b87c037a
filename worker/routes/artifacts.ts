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
 *
 * Preconditions (http/preconditions.ts) weigh only on an artifact that exists and is not known to be
 * corrupt (RFC 9110 §13.2.1): else HEAD, `If-Match` and `If-None-Match` get the 404 or 422 a GET gets.
 * `If-Match` without the hash is 412 `precondition_failed`; `If-Range` without it serves the whole file.
 * HEAD and 304 promise immutability only for an upload already hashed (see `cacheControl`).
 */
import { Hono, type Context } from 'hono';
import { TandemError } from '../../protocol/errors.ts';
import { catalogKey } from './catalog.ts';
import type { EdgeEnv } from '../context.ts';
import { workersCache, type ResponseCache } from '../http/edge-cache.ts';
import { IMMUTABLE, strongEtag } from '../http/etag.ts';
import { evaluatePreconditions, hasPreconditions, rangeApplies, type Preconditions } from '../http/preconditions.ts';
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
    const conditions: Preconditions = { ifMatch: c.req.header('if-match'), ifNoneMatch: c.req.header('if-none-match') };
    if (c.req.method === 'HEAD' || hasPreconditions(conditions)) {
      // RFC 9110 §13.2.1: preconditions weigh only on what would succeed; a missing or corrupt artifact's 404 or 422 stands.
      const { head, verified } = await standing(c, sha256);
      const outcome = evaluatePreconditions(conditions, etag);
      if (outcome === 'precondition_failed') {
        throw new TandemError('precondition_failed', `If-Match does not name artifact ${sha256}'s entity-tag, ${etag}`);
      }
      if (outcome === 'not_modified') return c.body(null, 304, { etag, 'cache-control': cacheControl(verified) });
      if (c.req.method === 'HEAD') return c.body(null, 200, { ...headersFor(sha256, head, head.size), 'cache-control': cacheControl(verified) });
    }
    const rangeHeader = c.req.header('range');
    return rangeHeader && rangeApplies(c.req.header('if-range'), etag) ? servePartial(c, sha256, rangeHeader, cache) : serveWhole(c, sha256, cache);
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

/**
 * What a plain GET would answer, short of reading the bytes: 404 or 422, thrown; else the upload in R2 and
 * whether it is known to hash to its name (this isolate's verdict or another's marker). Asks R2, not the
 * cache, so a mismatch recorded for the upload there is never answered with a success.
 */
async function standing(c: Context<EdgeEnv>, sha256: string): Promise<{ head: R2Object; verified: boolean }> {
  const head = await c.env.MODELS.head(artifactObjectKey(sha256));
  if (!head) throw new TandemError('not_found', `no artifact ${sha256}`);
  const verdict = await checks.verdict(c.env.MODELS, sha256, head.version);
  if (verdict?.kind === 'corrupt') throw mismatch(sha256);
  return { head, verified: verdict?.kind === 'verified' };
}

/**
 * The caching of an answer without the bytes (HEAD, 304). Only an upload already hashed is immutable. A
 * HEAD does not hash an unchecked one to find out: that is a read of the whole file (100 MB for a large
 * model) for an answer meant to be cheap, repeated by every HEAD until a GET hashes it. So it answers 200
 * with `no-cache`: true of what R2 holds, promising nothing for a year; the first GET settles the verdict
 * (cut short and 422 from then on if the bytes fail), and answers after it are immutable.
 */
function cacheControl(verified: boolean): string {
  return verified ? IMMUTABLE : 'no-cache';
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
