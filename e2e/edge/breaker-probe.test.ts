/**
 * A short outage stays short (issue 18, item 7): with one origin behind the edge, a restart of about
 * 1.5 s used to become about 5 s of 502, the breaker's cooldown, because nothing told the edge the
 * origin was back until the cooldown ended. The edge now probes the readiness of an origin whose breaker
 * is open every `breakerProbeIntervalMs` and lets traffic through as soon as it answers ready. A real
 * origin process is restarted under load through the real edge (`wrangler dev`); the window of failed
 * requests must be about the restart, not the cooldown.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INFER_TOKEN, signedRepository, type TestRepository } from '../../origin/test-support.ts';
import { startEdge, type RunningEdge } from '../../stack/edge-process.ts';
import { inferBody, spawnOrigin, type ChildOrigin } from './support.ts';

const KEY = 'probe-infer';
const MODEL = 'mlp-classifier';
/**
 * Longer than the default 5 s: an origin restart takes 1.2–1.5 s on a quiet machine but up to 6 s on a
 * loaded 2-core one, and the cooldown must outlast it for the test to tell probing from waiting.
 */
const COOLDOWN_MS = 20_000;

let repo: TestRepository;
let origin: ChildOrigin;
let edge: RunningEdge;

beforeAll(async () => {
  repo = await signedRepository([MODEL]);
  origin = await spawnOrigin(repo);
  edge = await startEdge({
    origins: [origin.url],
    repository: repo.repository,
    trustedKeys: repo.trustedKeys,
    originToken: INFER_TOKEN,
    apiKeys: [{ name: 'infer', key: KEY, scopes: ['infer'], ratePerSecond: 100_000, burst: 100_000 }],
    // 3 failures open the breaker (the default), for longer than any restart here.
    tuning: { breakerFailureThreshold: 3, breakerCooldownMs: COOLDOWN_MS, breakerProbeIntervalMs: 250 },
  });
});

afterAll(async () => {
  await edge?.stop();
  await origin?.kill();
  await repo?.cleanup();
});

describe('an origin restart behind the edge', () => {
  it('fails requests for about the restart, not the breaker cooldown', async () => {
    const outcomes: { status: number; at: number }[] = [];
    let running = true;
    const loops = Array.from({ length: 3 }, async (_, loop) => {
      for (let i = 0; running; i++) {
        const res = await fetch(`${edge.url}/v2/models/${MODEL}/infer`, {
          method: 'POST',
          body: inferBody(loop * 100_000 + i),
          headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
        }).catch(() => undefined);
        await res?.arrayBuffer().catch(() => undefined);
        outcomes.push({ status: res?.status ?? 0, at: Date.now() });
        if (res?.status !== 200) await new Promise((r) => setTimeout(r, 20));
      }
    });
    try {
      await until(() => outcomes.filter((o) => o.status === 200).length >= 30);
      const down = Date.now();
      await origin.kill('SIGKILL');
      origin = await spawnOrigin(repo, origin.port);
      const restartMs = Date.now() - down;
      const back = Date.now();
      await until(() => outcomes.some((o) => o.at > back && o.status === 200) && outcomes.filter((o) => o.at > back).length >= 30);
      running = false;
      await Promise.all(loops);

      const failed = outcomes.filter((o) => o.status !== 200);
      const windowMs = failed.length === 0 ? 0 : failed.at(-1)!.at - failed[0]!.at;
      const lastFailureAfterBack = Math.max(0, (failed.at(-1)?.at ?? back) - back);
      process.stdout.write(
        `breaker probe: restart ${restartMs} ms, failed window ${windowMs} ms (${failed.length} of ${outcomes.length} requests), ` +
          `last failure ${lastFailureAfterBack} ms after the origin listened; cooldown ${COOLDOWN_MS} ms\n`,
      );
      expect(failed.every((o) => o.status === 502)).toBe(true);
      // Probed every 250 ms: failures end within a probe or two of the origin listening again.
      expect(lastFailureAfterBack).toBeLessThan(1000);
      expect(windowMs).toBeLessThan(restartMs + 1000);
      expect(windowMs).toBeLessThan(COOLDOWN_MS);
    } finally {
      running = false;
      await Promise.all(loops);
    }
  });
});

async function until(condition: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 25));
  }
}
