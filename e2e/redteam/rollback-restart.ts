/**
 * Rollback survives a restart: an operator makes the older mlp-classifier 1.0.0 current on an origin
 * (admin load, a rollback from 1.1.0), the origin restarts, and 1.0.0 must still be what answers a
 * request that names no version, directly and through the edge (not the newest, 1.1.0; never the
 * refused 2.0.0).
 */
import { newResult, sample, sleep, type ScenarioResult } from './report.ts';
import { ADMIN_TOKEN, INFER_TOKEN, KEYS, type RedteamStack } from './stack.ts';
import { MODEL, validBody } from './fuzz-cases.ts';
import { describe } from './fuzz.ts';
import { header, send } from './http.ts';

export async function rollbackSurvivesRestart(stack: RedteamStack, name: string): Promise<ScenarioResult> {
  const result = newResult('rollback survives restart');
  const crashedBefore = stack.crashes.length;
  result.rss.before = stack.rss();
  const check = (what: string, got: unknown, want: unknown) => {
    result.tried++;
    if (got !== want) {
      result.wrong++;
      sample(result, `${what}: ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`);
    }
  };
  const servedVersion = async (url: string, auth: string): Promise<string | null> => {
    const res = await send(`${url}/v2/models/${MODEL}/infer`, {
      method: 'POST',
      body: JSON.stringify(validBody()),
      headers: { 'content-type': 'application/json', authorization: auth },
    });
    if (res.status !== 200) return `HTTP ${res.status}`;
    return header(res, 'x-model-version') ?? (JSON.parse(res.body.toString('utf8')) as { model_version?: string }).model_version ?? null;
  };

  try {
    const origin = stack.origin(name).process;
    check('before the rollback', await servedVersion(origin.url, `Bearer ${INFER_TOKEN}`), '1.1.0');
    const load = await send(`${origin.url}/v2/repository/models/${MODEL}/load`, {
      method: 'POST',
      body: JSON.stringify({ version: '1.0.0' }),
      headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    check('the rollback', load.body.toString('utf8'), JSON.stringify({ name: MODEL, version: '1.0.0', previous: '1.1.0' }));
    check('after the rollback', await servedVersion(origin.url, `Bearer ${INFER_TOKEN}`), '1.0.0');
    const port = origin.port;
    check('drained exit code', await stack.stopOrigin(name, 'SIGTERM'), 0);
    const restarted = await stack.spawn(name, port);
    check('after the restart, directly', await servedVersion(restarted.process.url, `Bearer ${INFER_TOKEN}`), '1.0.0');
    // Through the edge once it routes to the restarted origin again (its breaker probe, a few hundred ms).
    let viaEdge: string | null = null;
    for (let i = 0; i < 50 && viaEdge !== '1.0.0'; i++) {
      viaEdge = await servedVersion(stack.edge.url, `Bearer ${KEYS.infer}`).catch((err: unknown) => describe(err));
      if (viaEdge !== '1.0.0') await sleep(200);
    }
    check('after the restart, through the edge', viaEdge, '1.0.0');
  } catch (err) {
    result.lost++;
    sample(result, `rollback: ${describe(err)}`);
  }
  result.crashes = stack.crashes.length - crashedBefore;
  result.rss.after = stack.rss();
  result.notes.push(`${result.tried - result.wrong}/${result.tried} checks: 1.0.0 chosen by the operator stays current across a restart`);
  return result;
}
