/**
 * Breaker poisoning: one client keeps asking the edge for a version every origin refused at load (503
 * `model_not_ready`) or does not have (404), and for versions that are not versions, while other clients
 * run the model. An answer about one version must reach that client as the origin gave it and must not
 * count against the origin's breaker: the others' success stays at 100 % and every breaker stays closed.
 * The manifest route, meanwhile, serves the newest version that verifies (1.1.0), not the refused 2.0.0.
 */
import { judge, loops, newResult, expectedNote, sample, sleep, type ScenarioResult } from './report.ts';
import { KEYS, type RedteamStack } from './stack.ts';
import { MODEL, validBody } from './fuzz-cases.ts';

export async function breakerPoisoning(stack: RedteamStack, seconds: number): Promise<ScenarioResult> {
  const result = newResult('breaker poisoning');
  const expected = new Map<string, number>();
  const crashedBefore = stack.crashes.length;
  result.rss.before = stack.rss();
  const url = stack.edge.url;
  const auth = { 'content-type': 'application/json', authorization: `Bearer ${KEYS.infer}` };
  let good = 0;
  let goodOk = 0;
  let poison = 0;
  let running = true;
  const stop = sleep(seconds * 1000).then(() => void (running = false));

  const asks: [string, number, string][] = [
    ['2.0.0', 503, 'model_not_ready'],
    ['9.9.9', 404, 'model_not_found'],
    ['latest', 404, 'model_not_found'],
    ['1.0.0%0A', 404, 'model_not_found'],
  ];
  await Promise.all([
    stop,
    loops(
      4,
      () => running,
      async (client, i) => {
        good++;
        try {
          const res = await fetch(`${url}/v2/models/${MODEL}/infer`, {
            method: 'POST',
            body: JSON.stringify(validBody(1, i)),
            headers: { ...auth, 'x-client-id': `good-${client}` },
          });
          const text = await res.text();
          if (res.status === 200) {
            goodOk++;
            return;
          }
          // A 5xx is counted as Tandem's by judge(); any other refusal of a good request is a wrong answer.
          judge(result, 'good client', 'POST', res.status, text, new Set(), expected);
          if (res.status < 500) {
            result.wrong++;
            sample(result, `good client: HTTP ${res.status} ${text.slice(0, 160)}`);
          }
        } catch (err) {
          result.lost++;
          sample(result, `good client: no answer: ${String(err)}`);
        }
      },
    ),
    loops(
      2,
      () => running,
      async (_, i) => {
        const [version, status, code] = asks[i % asks.length]!;
        poison++;
        try {
          const res = await fetch(`${url}/v2/models/${MODEL}/versions/${version}/infer`, {
            method: 'POST',
            body: JSON.stringify(validBody()),
            headers: { ...auth, 'x-client-id': 'poisoner' },
          });
          const text = await res.text();
          const judged = judge(result, `poisoner ${version}`, 'POST', res.status, text, new Set(['model_not_ready']), expected);
          if (res.status !== status || judged.code !== code) {
            result.wrong++;
            sample(result, `poisoner ${version}: HTTP ${res.status} ${text.slice(0, 160)}, expected ${status} ${code}`);
          }
        } catch (err) {
          result.lost++;
          sample(result, `poisoner: no answer: ${String(err)}`);
        }
      },
    ),
  ]);

  const status = (await (await fetch(`${url}/v1/edge/status`, { headers: { authorization: `Bearer ${KEYS.admin}` } })).json()) as {
    origins: { breaker: string; consecutive_failures: number }[];
  };
  if (!status.origins.every((o) => o.breaker === 'closed' && o.consecutive_failures === 0)) {
    result.missed.push(`breakers after poisoning: ${JSON.stringify(status.origins.map((o) => [o.breaker, o.consecutive_failures]))}`);
  }
  const manifest = await fetch(`${url}/v1/models/${MODEL}/manifest`);
  await manifest.arrayBuffer();
  if (manifest.status !== 200 || manifest.headers.get('x-model-version') !== '1.1.0') {
    result.wrong++;
    sample(result, `default manifest with a refused newest 2.0.0: HTTP ${manifest.status} version ${manifest.headers.get('x-model-version')}`);
  }
  result.tried = good + poison + 2;
  result.crashes = stack.crashes.length - crashedBefore;
  result.rss.after = stack.rss();
  result.figures = { good, goodOk, poison, successPercent: good === 0 ? 0 : (100 * goodOk) / good };
  result.notes.push(
    `good clients ${goodOk}/${good} (${result.figures.successPercent!.toFixed(1)} %) while the poisoner sent ${poison}; breakers closed; default manifest 1.1.0`,
  );
  if (goodOk !== good) result.missed.push(`good clients' success ${result.figures.successPercent!.toFixed(2)} % < 100 %`);
  const note = expectedNote(expected);
  if (note) result.notes.push(note);
  return result;
}
