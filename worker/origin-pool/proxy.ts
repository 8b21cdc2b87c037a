/**
 * Sends one inference request to the origin pool: an origin the breakers admit, a per-attempt timeout,
 * and on a network error, a timeout or an answer that says the origin is unwell, another origin after an
 * exponential backoff with jitter (protocol/resilience/backoff.ts), all within the request's deadline.
 * Inference is idempotent, so retrying a failed attempt is safe; the answer is read in full inside the
 * attempt, so an origin that dies mid-body is retried too, never half-relayed.
 *
 * The edge owns the retries of an inference: at most `maxAttempts` origin attempts per request, and the
 * count goes back to the caller (`attempts`, the `x-tandem-attempts` header), so a client does not retry
 * what the edge already retried (protocol/errors.ts `isRetryable`).
 */
import { TandemError, isServerFailure, parseErrorBody } from '../../protocol/errors.ts';
import { REQUEST_ID_HEADER } from '../../protocol/request-id.ts';
import { backoffDelay, delayWithinDeadline } from '../../protocol/resilience/backoff.ts';
import type { Tuning } from '../config.ts';
import type { OriginHealth, OriginPool } from './pool.ts';

/** What an origin's answer means for the request and for the origin's breaker. */
export type Verdict = 'success' | 'retry' | 'final';

/**
 * By the error table (protocol/errors.ts): 2xx is success. An answer that says the origin is unwell
 * (`isServerFailure`: `overloaded`, `shutting_down`, `deadline_exceeded`, or a 5xx without our error
 * body, from whatever stands in front of it) is tried elsewhere and counts against the origin. Any other
 * answer is about this request or this model (4xx, `model_not_found`, `model_not_ready`,
 * `inference_failed`): relayed to the client as it is, and the origin counts as up, so one client asking
 * for a refused or unknown version changes nothing for the others.
 * @param body the origin's answer (its error body, when not 2xx).
 */
export function verdictFor(status: number, body?: ArrayBuffer | string): Verdict {
  if (status >= 200 && status < 300) return 'success';
  return isServerFailure(originError(status, body)) ? 'retry' : 'final';
}

/** An origin's error answer read back into a TandemError (its code, or its status's meaning). */
export function originError(status: number, body?: ArrayBuffer | string): TandemError {
  let json: unknown = null;
  try {
    if (body !== undefined) json = JSON.parse(typeof body === 'string' ? body : new TextDecoder().decode(body));
  } catch {
    // Not our body: the status speaks.
  }
  return parseErrorBody(status, json);
}

export interface ProxyRequest {
  /** Path and query to send, e.g. `/v2/models/m/versions/1.0.0/infer`. */
  path: string;
  headers: Headers;
  body: ArrayBuffer;
  requestId: string;
  /** The edge's span of the request's trace (a `traceparent` value), sent on to the origin. */
  traceparent?: string;
  /** Absolute deadline (ms since epoch). */
  deadline: number;
}

export interface ProxyResult {
  status: number;
  headers: Headers;
  body: ArrayBuffer;
  origin: string;
  /** Origin attempts made, this one included. */
  attempts: number;
  /** What each failed attempt ran into, for the log. */
  failures: string[];
}

export interface ProxyDeps {
  fetch: (url: string, init: RequestInit) => Promise<Response>;
  now: () => number;
  sleep: (ms: number) => Promise<void>;
  random: () => number;
}

export const defaultProxyDeps: ProxyDeps = {
  fetch: (url, init) => fetch(url, init),
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  random: Math.random,
};

/** Request headers relayed to the origin; the rest (cookies, the client's API key) stay at the edge. */
const FORWARDED = ['content-type', 'inference-header-content-length', 'accept'];

/**
 * @throws TandemError `overloaded` (503, the longest `Retry-After` the origins gave) when every origin
 * tried shed the request: they are up, and the honest answer is "later", not a gateway failure;
 * `origin_unavailable` when no origin answered within the attempts and deadline, immediately when every
 * breaker is open. Its `attempts` says how many origin attempts were made.
 */
export async function proxyInference(
  pool: OriginPool,
  req: ProxyRequest,
  tuning: Tuning,
  token: string,
  deps: ProxyDeps = defaultProxyDeps,
): Promise<ProxyResult> {
  const tried = new Set<string>();
  const failures: string[] = [];
  // What the caller is told: each failure without the origin's URL or the runtime's own words (which can
  // carry it), the origin named by its place in the pool (the admin status route lists them in order).
  const told: string[] = [];
  let made = 0;
  let shed = 0;
  let retryAfterSeconds = 1;
  for (let attempt = 0; attempt < tuning.maxAttempts; attempt++) {
    if (attempt > 0) {
      const backoff = backoffDelay({ baseMs: tuning.backoffBaseMs, capMs: tuning.backoffCapMs }, attempt - 1, deps.random());
      const delay = delayWithinDeadline(backoff, deps.now(), req.deadline);
      if (delay < 0) break;
      if (delay > 0) await deps.sleep(delay);
    }
    const now = deps.now();
    if (now >= req.deadline) break;
    const origin = pool.pick(now, tried);
    if (!origin) break;
    tried.add(origin.url);
    pool.begin(origin, now);
    made++;
    const outcome = await attemptOnce(origin, req, Math.min(tuning.attemptTimeoutMs, req.deadline - now), token, deps);
    if (outcome.kind === 'response' && verdictFor(outcome.status, outcome.body) !== 'retry') {
      pool.succeed(origin);
      if (outcome.status === 401 || outcome.status === 403) {
        throw new TandemError('origin_unavailable', `${originName(pool, origin)} refused the edge's token (HTTP ${outcome.status})`, {
          attempts: made,
          cause: [`${origin.url}: HTTP ${outcome.status}`],
        });
      }
      return { status: outcome.status, headers: outcome.headers, body: outcome.body, origin: origin.url, attempts: made, failures };
    }
    pool.fail(origin, deps.now());
    const code = outcome.kind === 'response' ? originError(outcome.status, outcome.body).code : undefined;
    if (outcome.kind === 'response' && code === 'overloaded') {
      shed++;
      retryAfterSeconds = Math.max(retryAfterSeconds, retryAfterOf(outcome.headers));
    }
    const what = outcome.kind === 'response' ? `HTTP ${outcome.status} ${code}` : outcome.reason;
    failures.push(`${origin.url}: ${what}`);
    told.push(`${originName(pool, origin)}: ${outcome.kind === 'error' && !outcome.timedOut ? 'network error' : what}`);
  }
  const reason = told.length === 0 ? 'every origin is marked down' : told.join('; ');
  // The full failures are the error's cause, for the request log.
  if (made > 0 && shed === made) {
    throw new TandemError('overloaded', `every origin tried is overloaded: ${reason}`, { retryAfterSeconds, attempts: made, cause: failures });
  }
  throw new TandemError('origin_unavailable', `no origin could answer: ${reason}`, { retryAfterSeconds: 1, attempts: made, cause: failures });
}

/** An origin as callers may see it: its place in the pool, never its URL (which may carry credentials or internal names). */
function originName(pool: OriginPool, origin: OriginHealth): string {
  return `origin ${pool.urls().indexOf(origin.url) + 1}`;
}

/** An origin's `Retry-After` in whole seconds (1 when absent or not a number), capped at a minute. */
function retryAfterOf(headers: Headers): number {
  const seconds = Number(headers.get('retry-after'));
  return Number.isFinite(seconds) && seconds >= 1 ? Math.min(60, Math.ceil(seconds)) : 1;
}

type AttemptOutcome = { kind: 'response'; status: number; headers: Headers; body: ArrayBuffer } | { kind: 'error'; reason: string; timedOut: boolean };

async function attemptOnce(origin: OriginHealth, req: ProxyRequest, timeoutMs: number, token: string, deps: ProxyDeps): Promise<AttemptOutcome> {
  const headers = new Headers();
  for (const name of FORWARDED) {
    const value = req.headers.get(name);
    if (value !== null) headers.set(name, value);
  }
  headers.set('authorization', `Bearer ${token}`);
  headers.set(REQUEST_ID_HEADER, req.requestId);
  if (req.traceparent) headers.set('traceparent', req.traceparent);
  // The origin drops queued work past this, so a request the edge gave up on doesn't use the origin's time.
  headers.set('x-request-timeout-ms', String(Math.max(1, Math.floor(timeoutMs))));
  const signal = timeoutSignal(timeoutMs);
  try {
    const res = await deps.fetch(`${origin.url}${req.path}`, { method: 'POST', headers, body: req.body, signal });
    const body = await res.arrayBuffer();
    return { kind: 'response', status: res.status, headers: res.headers, body };
  } catch (err) {
    const reason = signal.aborted ? `timed out after ${Math.round(timeoutMs)} ms` : err instanceof Error ? err.message : String(err);
    return { kind: 'error', reason, timedOut: signal.aborted };
  }
}

/**
 * A signal that aborts after `ms`: the runtime's own timer (`AbortSignal.timeout`), not an AbortController
 * with a JavaScript timer to set and clear, which cost the edge some 8 % of its isolate's time per request.
 */
function timeoutSignal(ms: number): AbortSignal {
  return AbortSignal.timeout(Math.max(1, Math.ceil(ms)));
}

/** `GET /v2/health/ready` on one origin within the readiness timeout: whether it answered 2xx. */
async function checkReady(origin: OriginHealth, tuning: Tuning, token: string, deps: ProxyDeps): Promise<boolean> {
  try {
    const res = await deps.fetch(`${origin.url}/v2/health/ready`, {
      method: 'GET',
      headers: { authorization: `Bearer ${token}` },
      signal: timeoutSignal(tuning.readinessTimeoutMs),
    });
    await res.body?.cancel();
    return res.ok;
  } catch {
    return false;
  }
}

/**
 * Starts readiness checks (`GET /v2/health/ready`) of origins whose last check is older than the TTL;
 * the returned promise is for `ctx.waitUntil`, so no request waits on it.
 */
export function refreshReadiness(pool: OriginPool, tuning: Tuning, token: string, deps: ProxyDeps = defaultProxyDeps): Promise<void> | undefined {
  const stale = pool.staleReadiness(deps.now(), tuning.readinessTtlMs);
  if (stale.length === 0) return undefined;
  return Promise.all(
    stale.map(async (origin) => {
      origin.checking = true;
      try {
        origin.ready = await checkReady(origin, tuning, token, deps);
      } finally {
        origin.checking = false;
        origin.checkedAt = deps.now();
      }
    }),
  ).then(() => undefined);
}

/**
 * Probes the readiness of origins whose breaker admits no request, each at most once per
 * `breakerProbeIntervalMs`, and lets a request through to one that answers ready at once (pool.ts
 * `readyAgain`) instead of after the breaker's cooldown. Started from the request path; the returned
 * promise is for `ctx.waitUntil`.
 */
export function probeOpenBreakers(pool: OriginPool, tuning: Tuning, token: string, deps: ProxyDeps = defaultProxyDeps): Promise<void> | undefined {
  const blocked = pool.closedToTraffic(deps.now(), tuning.breakerProbeIntervalMs);
  if (blocked.length === 0) return undefined;
  return Promise.all(
    blocked.map(async (origin) => {
      origin.breakerProbing = true;
      origin.breakerProbedAt = deps.now();
      try {
        if (await checkReady(origin, tuning, token, deps)) pool.readyAgain(origin, deps.now());
      } finally {
        origin.breakerProbing = false;
      }
    }),
  ).then(() => undefined);
}
