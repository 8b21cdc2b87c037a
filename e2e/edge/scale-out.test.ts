/**
 * Horizontal scale, locally: the real edge (`wrangler dev`) in front of three origin processes on
 * loopback, under continuous load. A fourth origin is added through the admin route (no redeploy), then
 * one origin is drained the way Kubernetes does it (SIGTERM while it is still listed: readiness turns
 * false, new requests get 503 `shutting_down`, in-flight ones finish) and taken off the list. No client
 * request may fail, and the added origin must take a share of the load.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INFER_TOKEN, signedRepository, type TestRepository } from '../../origin/test-support.ts';
import { startEdge, type RunningEdge } from '../../stack/edge-process.ts';
import { inferBody, spawnOrigin, type ChildOrigin } from './support.ts';

const KEYS = { infer: 'scale-infer', admin: 'scale-admin' };
const MODEL = 'mlp-classifier';
const LOOPS = 4;

let repo: TestRepository;
let origins: ChildOrigin[] = [];
let edge: RunningEdge;
/** Attempt failures the edge logged (and retried on another origin): `<origin>: HTTP 503` and the like. */
const retried: string[] = [];

beforeAll(async () => {
  repo = await signedRepository([MODEL]);
  origins = await Promise.all([spawnOrigin(repo), spawnOrigin(repo), spawnOrigin(repo)]);
  edge = await startEdge({
    origins: origins.map((o) => o.url),
    repository: repo.repository,
    trustedKeys: repo.trustedKeys,
    originToken: INFER_TOKEN,
    apiKeys: [
      { name: 'infer', key: KEYS.infer, scopes: ['infer'], ratePerSecond: 100_000, burst: 100_000 },
      { name: 'ops', key: KEYS.admin, scopes: ['admin'] },
    ],
    tuning: { readinessTtlMs: 250, originListTtlMs: 250, breakerFailureThreshold: 2, breakerCooldownMs: 2000, backoffBaseMs: 5, backoffCapMs: 50 },
    onLine: (line) => {
      if (!line.startsWith('{') || !line.includes('"failures"')) return;
      try {
        retried.push(...((JSON.parse(line) as { failures?: string[] }).failures ?? []));
      } catch {
        // A partial line.
      }
    },
  });
});

afterAll(async () => {
  await edge?.stop();
  await Promise.all(origins.map((o) => o.kill()));
  await repo?.cleanup();
});

interface Outcome {
  status: number;
  origin: string | null;
  at: number;
  error?: string;
}

/** `LOOPS` clients, each sending one inference after another through the edge until stopped. */
function load() {
  const outcomes: Outcome[] = [];
  let running = true;
  const loops = Array.from({ length: LOOPS }, async (_, loop) => {
    for (let i = 0; running; i++) {
      try {
        const res = await fetch(`${edge.url}/v2/models/${MODEL}/infer`, {
          method: 'POST',
          body: inferBody(loop * 100_000 + i),
          headers: { 'content-type': 'application/json', authorization: `Bearer ${KEYS.infer}`, 'x-client-id': `client-${loop}` },
        });
        const text = await res.text();
        outcomes.push({ status: res.status, origin: res.headers.get('x-tandem-origin'), at: Date.now(), ...(res.ok ? {} : { error: text.slice(0, 300) }) });
      } catch (err) {
        outcomes.push({ status: 0, origin: null, at: Date.now(), error: String(err) });
      }
    }
  });
  return {
    outcomes,
    stop: async () => {
      running = false;
      await Promise.all(loops);
    },
  };
}

async function setOrigins(urls: string[]): Promise<void> {
  const res = await fetch(`${edge.url}/v1/edge/origins`, {
    method: 'PUT',
    body: JSON.stringify({ origins: urls }),
    headers: { 'content-type': 'application/json', authorization: `Bearer ${KEYS.admin}` },
  });
  expect(res.status, await res.clone().text()).toBe(200);
}

async function until(what: string, condition: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const servedBy = (outcomes: Outcome[], url: string, after = 0) => outcomes.filter((o) => o.origin === url && o.at > after).length;

describe('scale-out behind the edge', () => {
  it('adds an origin and drains another under load with zero failed requests', async () => {
    const [first, second, third] = origins as [ChildOrigin, ChildOrigin, ChildOrigin];
    const traffic = load();
    try {
      await until('all three origins to serve', () => [first, second, third].every((o) => servedBy(traffic.outcomes, o.url) >= 5));

      // Scale out: a fourth process, added to the edge at run time.
      const added = await spawnOrigin(repo);
      origins.push(added);
      await setOrigins([first.url, second.url, third.url, added.url]);
      await until('the added origin to serve', () => servedBy(traffic.outcomes, added.url) >= 20);

      // Drain: SIGTERM while the edge still lists it, as a Kubernetes rollout does; then take it off the list.
      const drainedAt = Date.now();
      await first.kill('SIGTERM');
      expect(first.child.exitCode, 'the origin drained within its deadline').toBe(0);
      await setOrigins([second.url, third.url, added.url]);
      const removedAt = Date.now();
      const before = traffic.outcomes.length;
      await until('more load after the drain', () => traffic.outcomes.length >= before + 100);
      await traffic.stop();

      const { outcomes } = traffic;
      const failed = outcomes.filter((o) => o.status !== 200);
      const share = Object.fromEntries(origins.map((o) => [o.url, servedBy(outcomes, o.url)]));
      process.stdout.write(
        `scale-out: ${outcomes.length} requests, ${failed.length} failed; served ${JSON.stringify(share)}; ` +
          `drained origin after SIGTERM: ${servedBy(outcomes, first.url, drainedAt)}; attempts retried elsewhere: ${JSON.stringify(retried)}\n`,
      );
      expect(failed, JSON.stringify(failed.slice(0, 3))).toEqual([]);
      expect(outcomes.length).toBeGreaterThan(200);
      expect(servedBy(outcomes, added.url)).toBeGreaterThanOrEqual(20);
      expect(servedBy(outcomes, second.url, removedAt) + servedBy(outcomes, third.url, removedAt)).toBeGreaterThan(0);
      expect(servedBy(outcomes, first.url, removedAt)).toBe(0);
    } finally {
      await traffic.stop();
    }
  });
});
