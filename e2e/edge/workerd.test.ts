/**
 * The edge straight in workerd (stack/edge-miniflare.ts, the path bench:edge judges) in front of a real
 * origin: it answers an inference with the origin's numbers, and its auth is in force (the bundle runs
 * with wrangler.toml's bindings and the vars startEdge would give it).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { INFER_TOKEN, type TestRepository } from '../../origin/test-support.ts';
import { startEdgeInWorkerd, type WorkerdEdge } from '../../stack/edge-miniflare.ts';
import { canaryRepository, inferBody, spawnOrigin, type ChildOrigin } from './support.ts';

const KEY = 'workerd-infer';
const PATH = '/v2/models/mlp-classifier/versions/1.0.0/infer';

let repo: TestRepository;
let origin: ChildOrigin;
let edge: WorkerdEdge;

beforeAll(async () => {
  repo = await canaryRepository();
  origin = await spawnOrigin(repo);
  edge = await startEdgeInWorkerd({
    origins: [origin.url],
    repository: repo.repository,
    trustedKeys: repo.trustedKeys,
    originToken: INFER_TOKEN,
    apiKeys: [{ name: 'infer', key: KEY, scopes: ['infer', 'catalog'] }],
  });
});

afterAll(async () => {
  await edge?.stop();
  await origin?.kill();
  await repo?.cleanup();
});

function post(base: string, token: string): Promise<Response> {
  return fetch(`${base}${PATH}`, { method: 'POST', body: inferBody(7), headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` } });
}

it('answers an inference through the origin with the origin’s numbers', async () => {
  const [viaEdge, direct] = await Promise.all([post(edge.url, KEY), post(origin.url, INFER_TOKEN)]);
  expect(viaEdge.status).toBe(200);
  expect(direct.status).toBe(200);
  type Answer = { model_name: string; outputs: { name: string; shape: number[]; data: number[] }[] };
  const [a, b] = (await Promise.all([viaEdge.json(), direct.json()])) as [Answer, Answer];
  expect(a.model_name).toBe('mlp-classifier');
  expect(a.outputs[0]!.shape).toEqual([1, 10]);
  expect(a.outputs[0]!.data).toEqual(b.outputs[0]!.data);
});

it('refuses an unknown API key before reaching the origin', async () => {
  const res = await post(edge.url, 'not-a-key');
  expect(res.status).toBe(401);
  await res.arrayBuffer();
});
