/**
 * A version the origins lack, and the rollout record the SDK checks, across the real tiers: the edge
 * (`wrangler dev`, R2 seeded with mlp-classifier 1.0.0 and 1.1.0 and a signed rollout record that weighs
 * 1.0.0 only) in front of a real origin that holds 1.0.0 alone. The SDK's own modules talk to it: its
 * manifests, its origin client wrapped with the version fallback (client/version-fallback.ts), and its
 * rollout record check (client/rollout-check.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createManifests } from '../../client/manifests.ts';
import { memoryStore } from '../../client/core/store.ts';
import { createOriginClient } from '../../client/origin-client.ts';
import { checkRollout, rolloutInForce } from '../../client/rollout-check.ts';
import { createVersionFallback } from '../../client/version-fallback.ts';
import { INFER_TOKEN, type TestRepository } from '../../origin/test-support.ts';
import { loadTrustedKeys } from '../../protocol/keys.ts';
import { verifyRollout } from '../../protocol/rollout/rollout-record.ts';
import type { NamedTensors } from '../../protocol/tensor.ts';
import { startEdge, type RunningEdge } from '../../stack/edge-process.ts';
import { canaryRepository, repositoryWithout, spawnOrigin, writeRollout, type ChildOrigin } from './support.ts';

const MODEL = 'mlp-classifier';
const APP_KEY = 'vf-app';

let repo: TestRepository;
let lacking: TestRepository;
let origin: ChildOrigin;
let edge: RunningEdge;

beforeAll(async () => {
  repo = await canaryRepository();
  await writeRollout(repo, {
    model: MODEL,
    version: 4,
    stable: '1.0.0',
    weights: { '1.0.0': 100 },
    rollback: { maxErrorRate: 0.05, minMedianConfidence: 0, minSamples: 100 },
  });
  // The origin's repository: the same, without 1.1.0 (a canary rolled back and dropped).
  lacking = await repositoryWithout(repo, MODEL, '1.1.0');
  origin = await spawnOrigin(lacking);
  edge = await startEdge({
    origins: [origin.url],
    repository: repo.repository,
    trustedKeys: repo.trustedKeys,
    originToken: INFER_TOKEN,
    apiKeys: [{ name: 'app', key: APP_KEY, scopes: ['infer', 'catalog'], ratePerSecond: 10_000, burst: 10_000 }],
  });
});

afterAll(async () => {
  await edge?.stop();
  await origin?.kill();
  await repo?.cleanup();
  await lacking?.cleanup();
});

/** The SDK's pieces against the real edge, as createTandem wires them. */
function sdk() {
  const headers = async () => ({ authorization: `Bearer ${APP_KEY}`, 'x-client-id': 'install-1' });
  const common = { edge: edge.url, fetch, headers, online: () => true, retry: { attempts: 2, baseDelayMs: 5, maxDelayMs: 20 } };
  const manifests = createManifests({
    ...common,
    trustedKeys: loadTrustedKeys(repo.trustedKeys),
    trust: undefined,
    store: memoryStore(),
    timeoutMs: 10_000,
    now: Date.now,
  });
  const origin = createOriginClient({
    ...common,
    breaker: { failureThreshold: 5, cooldownMs: 30_000 },
    requestTimeoutMs: 10_000,
    now: () => performance.now(),
  });
  const fallback = createVersionFallback(origin, { ...common, manifests, timeoutMs: 10_000 }, () => performance.now());
  return { manifests, origin, fallback, common };
}

const x: NamedTensors = { x: { dtype: 'float32', dims: [1, 256], data: new Float32Array(256).map((_, i) => Math.sin(i)) } };

describe('a version the origins lack, through the real edge', () => {
  it('1.1.0 is answered by 1.0.0 with the same outputs, marked; the origin alone answers model_not_found', async () => {
    const { manifests, origin, fallback } = sdk();
    const { manifest } = await manifests.get(MODEL, undefined, '1.1.0');
    await expect(origin.infer(manifest, x, undefined)).rejects.toMatchObject({ code: 'model_not_found' });
    const answer = await fallback.infer(manifest, x, undefined);
    expect(answer).toMatchObject({ version: '1.0.0', versionFallback: { requested: '1.1.0', served: '1.0.0', reason: 'version_not_on_origin' } });
    const own = await origin.infer((await manifests.get(MODEL, undefined, '1.0.0')).manifest, x, undefined);
    expect(own.versionFallback).toBeUndefined();
    expect(answer.outputs.probabilities!.data).toEqual(own.outputs.probabilities!.data);
  });
});

describe('the rollout record, through the real edge', () => {
  it('GET /v1/rollout/<model> serves the record the edge follows, which verifies with the release keys', async () => {
    const res = await fetch(`${edge.url}/v1/rollout/${MODEL}`);
    expect(res.status).toBe(200);
    const { record } = await verifyRollout(await res.json(), await loadTrustedKeys(repo.trustedKeys), Date.now(), MODEL);
    expect(record).toMatchObject({ version: 4, weights: { '1.0.0': 100 } });
    expect((await fetch(`${edge.url}/v1/rollout/no-such-model`)).status).toBe(404);
  });

  it("the SDK's check takes the record from the edge, keeps its floor, and refuses 1.1.0, which it gives no weight", async () => {
    const { manifests, common } = sdk();
    const store = memoryStore<unknown>();
    const deps = { ...common, store, timeoutMs: 10_000, now: Date.now, warn: () => {} };
    const keys = await loadTrustedKeys(repo.trustedKeys);
    expect((await rolloutInForce(deps, keys, 'pins', MODEL, false))?.version).toBe(4);
    expect(store.map.get(`rollout:${MODEL}`)).toMatchObject({ version: 4 });
    await checkRollout(deps, keys, 'pins', (await manifests.get(MODEL)).manifest, false);
    await expect(checkRollout(deps, keys, 'pins', (await manifests.get(MODEL, undefined, '1.1.0')).manifest, false)).rejects.toMatchObject({
      code: 'version_not_in_rollout',
    });
  });
});
