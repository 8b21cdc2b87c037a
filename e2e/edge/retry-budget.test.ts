/**
 * The retry budget end to end: the client's origin path (its retry loop and error mapping, as
 * `createTandem` runs them) against the real edge (`wrangler dev`) in front of two origins that are always
 * overloaded. One client call may cause at most the edge's `maxAttempts` origin attempts (3), not client
 * attempts × edge attempts (3 × 3 = 9): the edge owns the retries and says how many it made
 * (`x-tandem-attempts`); the client retries only what no origin attempt stands behind.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorFromFetchFailure, errorFromResponse } from '../../client/core/error-mapping.ts';
import { DEFAULT_RETRY, retry } from '../../client/core/retry.ts';
import { INFER_TOKEN, signedRepository, type TestRepository } from '../../origin/test-support.ts';
import { startEdge, type RunningEdge } from '../../stack/edge-process.ts';
import { inferBody } from './support.ts';

const KEY = 'budget-infer';
const MODEL = 'mlp-classifier';

/** An origin that is up (ready) and always overloaded, counting the inference attempts it gets. */
async function overloadedOrigin(): Promise<{ url: string; attempts: () => number; close: () => Promise<void> }> {
  let attempts = 0;
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (req.url?.endsWith('/infer')) {
        attempts++;
        res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '1' });
        res.end(JSON.stringify({ error: { code: 'overloaded', message: 'the queue is full' } }));
      } else {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"ready":true}');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, attempts: () => attempts, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

let repo: TestRepository;
let origins: Awaited<ReturnType<typeof overloadedOrigin>>[];
let edge: RunningEdge;

beforeAll(async () => {
  repo = await signedRepository([MODEL]);
  origins = await Promise.all([overloadedOrigin(), overloadedOrigin()]);
  edge = await startEdge({
    origins: origins.map((o) => o.url),
    repository: repo.repository,
    trustedKeys: repo.trustedKeys,
    originToken: INFER_TOKEN,
    apiKeys: [{ name: 'infer', key: KEY, scopes: ['infer'], ratePerSecond: 10_000, burst: 10_000 }],
    // Default maxAttempts (3); a breaker opens after 2 consecutive failures and stays open for the test
    // (these origins answer ready, so the readiness probes of open breakers must wait as long).
    tuning: { breakerFailureThreshold: 2, breakerCooldownMs: 600_000, breakerProbeIntervalMs: 600_000, backoffBaseMs: 5, backoffCapMs: 20 },
  });
});

afterAll(async () => {
  await edge?.stop();
  await Promise.all((origins ?? []).map((o) => o.close()));
  await repo?.cleanup();
});

/** One client call, as the SDK makes it: retried by the client's policy and error table. */
async function clientCall(): Promise<{ error: unknown; edgeRequests: number }> {
  let edgeRequests = 0;
  const error = await retry(
    async () => {
      edgeRequests++;
      let res: Response;
      try {
        res = await fetch(`${edge.url}/v2/models/${MODEL}/versions/1.0.0/infer`, {
          method: 'POST',
          body: inferBody(),
          headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
        });
      } catch (err) {
        throw errorFromFetchFailure(err, true, 'infer on the origin');
      }
      if (!res.ok) throw await errorFromResponse(res);
      return res;
    },
    DEFAULT_RETRY,
    {},
    { sleep: async () => {} },
  ).then(
    () => undefined,
    (err: unknown) => err,
  );
  return { error, edgeRequests };
}

const originAttempts = () => origins.reduce((n, o) => n + o.attempts(), 0);

describe('retry budget', () => {
  it('one client call causes at most maxAttempts (3) origin attempts, through the real edge', async () => {
    // Call 1: a, b, a again (a's breaker opens): 3 attempts, reported; the client does not retry them.
    let before = originAttempts();
    const first = await clientCall();
    // Every attempt was shed: the edge says overloaded (503), with the attempts it made.
    expect(first.error).toMatchObject({ code: 'overloaded', attempts: 3 });
    expect([originAttempts() - before, first.edgeRequests]).toEqual([3, 1]);

    // Call 2: only b is admitted; it fails and opens: 1 attempt, reported, not retried.
    before = originAttempts();
    const second = await clientCall();
    expect(second.error).toMatchObject({ code: 'overloaded', attempts: 1 });
    expect([originAttempts() - before, second.edgeRequests]).toEqual([1, 1]);

    // Call 3: every breaker open, no origin tried (x-tandem-attempts: 0): the client may retry, at no
    // cost to the origins.
    before = originAttempts();
    const third = await clientCall();
    expect(third.error).toMatchObject({ code: 'origin_unavailable', attempts: 0 });
    expect([originAttempts() - before, third.edgeRequests]).toEqual([0, DEFAULT_RETRY.attempts]);
  });
});
