/**
 * The signed rollout record across the tiers: the real edge (`wrangler dev`, R2 seeded from the
 * repository's `_rollout/`) in front of two real origins, one of which lacks the canary version. The edge
 * gives the canary no share until every origin is ready for it; once the second origin holds it too, installs
 * split by the record's weights, each keeps its version, and inference runs the version its manifest named.
 * When the canary's device runs then fail past the record's error threshold, the edge rolls it back by
 * itself and the installs that were on it get the stable version on their next load.
 */
import { cp } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INFER_TOKEN, type TestRepository } from '../../origin/test-support.ts';
import { startEdge, type RunningEdge } from '../../stack/edge-process.ts';
import { canaryRepository, inferBody, pool, repositoryWithout, spawnOrigin, writeRollout, type ChildOrigin } from './support.ts';

const KEYS = { infer: 'ro-infer', admin: 'ro-admin' };
const MODEL = 'mlp-classifier';
const INSTALLS = 200;

let repo: TestRepository;
let lacking: TestRepository;
let a: ChildOrigin;
let b: ChildOrigin;
let edge: RunningEdge;

beforeAll(async () => {
  repo = await canaryRepository();
  await writeRollout(repo, {
    model: MODEL,
    version: 1,
    stable: '1.0.0',
    weights: { '1.0.0': 50, '1.1.0': 50 },
    rollback: { maxErrorRate: 0.05, minMedianConfidence: 0, minSamples: 100 },
  });
  // Origin b's repository: the same, without 1.1.0.
  lacking = await repositoryWithout(repo, MODEL, '1.1.0');
  [a, b] = await Promise.all([spawnOrigin(repo), spawnOrigin(lacking)]);
  edge = await startEdge({
    origins: [a.url, b.url],
    repository: repo.repository,
    trustedKeys: repo.trustedKeys,
    originToken: INFER_TOKEN,
    apiKeys: [
      { name: 'infer', key: KEYS.infer, scopes: ['infer', 'catalog'], ratePerSecond: 10_000, burst: 10_000 },
      { name: 'admin', key: KEYS.admin, scopes: ['admin'] },
    ],
    // The record wins over the fallback.
    canary: { [MODEL]: { '1.0.0': 100 } },
    tuning: { readinessTtlMs: 300, trustTtlMs: 300 },
  });
});

afterAll(async () => {
  await edge?.stop();
  await Promise.all([a?.kill(), b?.kill()]);
  await repo?.cleanup();
  await lacking?.cleanup();
});

async function manifestVersions(): Promise<string[]> {
  return pool(INSTALLS, 8, async (i) => {
    const res = await fetch(`${edge.url}/v1/models/${MODEL}/manifest`, { headers: { 'x-client-id': `install-${i}` } });
    expect(res.status).toBe(200);
    await res.arrayBuffer();
    return res.headers.get('x-model-version')!;
  });
}

async function rolloutStatus(): Promise<{ source: string; effective: Record<string, number>; zeroed: { version: string; cause: string; reason: string }[] }> {
  const res = await fetch(`${edge.url}/v1/edge/rollout/${MODEL}`, { headers: { authorization: `Bearer ${KEYS.admin}` } });
  expect(res.status).toBe(200);
  return (await res.json()) as Awaited<ReturnType<typeof rolloutStatus>>;
}

describe('signed rollout at the real edge', () => {
  it('gives the canary no share while one origin lacks it, and says so', async () => {
    expect(new Set(await manifestVersions())).toEqual(new Set(['1.0.0']));
    const status = await rolloutStatus();
    expect(status.source).toBe('record');
    expect(status.effective).toEqual({ '1.0.0': 100, '1.1.0': 0 });
    expect(status.zeroed).toEqual([expect.objectContaining({ version: '1.1.0', cause: 'not_ready', reason: expect.stringContaining(`${b.url} (404`) })]);
  });

  it('splits installs 50/50 once every origin holds the canary; each keeps its version, and inference runs it', async () => {
    // Origin b restarts on its repository with 1.1.0 added (its model-repository `load` would make 1.1.0
    // current and retire 1.0.0, which the stable share still needs).
    await cp(join(repo.repository, MODEL, '1.1.0'), join(lacking.repository, MODEL, '1.1.0'), { recursive: true });
    const port = Number(new URL(b.url).port);
    await b.kill('SIGTERM');
    b = await spawnOrigin(lacking, port);
    await expect.poll(async () => (await rolloutStatus()).effective, { timeout: 30_000, interval: 200 }).toEqual({ '1.0.0': 50, '1.1.0': 50 });
    const first = await manifestVersions();
    const canaries = first.filter((v) => v === '1.1.0').length;
    // 50% of 200 installs, within about four standard deviations (7.1 each).
    expect(canaries).toBeGreaterThan(70);
    expect(canaries).toBeLessThan(130);
    expect(await manifestVersions()).toEqual(first);
    const served = await pool(40, 8, async (i) => {
      const res = await fetch(`${edge.url}/v2/models/${MODEL}/infer`, {
        method: 'POST',
        body: inferBody(i + 1),
        headers: { 'content-type': 'application/json', authorization: `Bearer ${KEYS.infer}`, 'x-client-id': `install-${i}` },
      });
      expect(res.status).toBe(200);
      await res.arrayBuffer();
      return res.headers.get('x-model-version');
    });
    expect(served).toEqual(first.slice(0, 40));
  });

  it('rolls the canary back by itself when its device runs fail, and its installs move to stable', async () => {
    const before = await manifestVersions();
    const onCanary = before.flatMap((v, i) => (v === '1.1.0' ? [i] : []));
    expect(onCanary.length).toBeGreaterThan(0);
    // 100 failed device runs of the canary, beside the ~20 good origin runs above: far past maxErrorRate 0.05.
    const records = Array.from({ length: 100 }, () => ({
      model: MODEL,
      version: '1.1.0',
      variant: 'fp32',
      backend: 'wasm',
      latency_ms: 3,
      outcome: 'inference_failed',
      fallback: false,
    }));
    const res = await fetch(`${edge.url}/v1/telemetry`, {
      method: 'POST',
      body: JSON.stringify({ records, dropped: 0 }),
      headers: { 'content-type': 'application/json', authorization: `Bearer ${KEYS.infer}` },
    });
    expect(res.status).toBe(204);
    const status = await rolloutStatus();
    expect(status.effective).toEqual({ '1.0.0': 100, '1.1.0': 0 });
    expect(status.zeroed).toEqual([
      expect.objectContaining({
        version: '1.1.0',
        cause: 'rolled_back',
        reason: expect.stringMatching(/^error rate 0\.\d+ > maxErrorRate 0\.05 over \d+ runs \(device 100, origin \d+\)$/),
      }),
    ]);
    const metrics = await (await fetch(`${edge.url}/v1/edge/metrics`, { headers: { authorization: `Bearer ${KEYS.admin}` } })).text();
    expect(metrics).toContain(`tandem_edge_rollout_rollbacks_total{model="${MODEL}",version="1.1.0"} 1`);
    expect(new Set(await manifestVersions())).toEqual(new Set(['1.0.0']));
  });
});
