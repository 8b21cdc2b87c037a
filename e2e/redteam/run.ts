/**
 * The red team, in one call: starts the stack on loopback (stack.ts), runs every scenario in turn, and
 * returns what each found (report.ts). Bounded in time: the fuzzer's case count and every scenario's
 * duration come from the mode, and the stack is stopped however the run ends.
 *
 * | scenario | tier | what must hold |
 * | --- | --- | --- |
 * | fuzz origin, fuzz edge | each | every bad input gets a documented 4xx, no 5xx, no crash, control answers unchanged |
 * | breaker poisoning | edge | a client asking for refused/unknown versions changes nothing for others (100 %) |
 * | corrupted artifact | edge | swapped R2 bytes never served as a success nor cached; repaired bytes served at once |
 * | overload 2x | origin | at twice its capacity the origin sheds at once (503 `overloaded`), answers everything |
 * | drain with keep-alive | edge + origin | SIGTERM under load: 0 lost through the edge, 0 reset directly, exit 0 |
 * | rollback survives restart | origin + edge | the version an operator made current stays current after a restart |
 */
import { breakerPoisoning } from './breaker-poisoning.ts';
import { corruptedArtifact } from './corrupted-artifact.ts';
import { drainWithKeepAlive } from './drain.ts';
import { fuzz } from './fuzz.ts';
import { overload } from './overload.ts';
import type { ScenarioResult } from './report.ts';
import { rollbackSurvivesRestart } from './rollback-restart.ts';
import { INFER_TOKEN, KEYS, RedteamStack, rssMiB } from './stack.ts';

export interface RedteamOptions {
  /** The CI mode: fewer fuzz cases and shorter scenarios (about a minute and a half on 2 cores). */
  short: boolean;
  /** Fuzz cases per tier. Default 1,500 short, 10,000 full. */
  fuzzCases?: number;
  seed?: number;
  /** Run only the scenarios whose names contain one of these (the stack starts all the same). */
  only?: readonly string[];
  log?: (line: string) => void;
}

export async function runRedteam(options: RedteamOptions): Promise<ScenarioResult[]> {
  const log = options.log ?? (() => undefined);
  const cases = options.fuzzCases ?? (options.short ? 1_500 : 10_000);
  const seed = options.seed ?? 20_260_418;
  const seconds = options.short ? { poison: 3, capacity: 2, overload: 3, drain: 3, rounds: 3 } : { poison: 10, capacity: 4, overload: 8, drain: 6, rounds: 10 };
  const started = performance.now();
  const stack = await RedteamStack.start(log);
  const results: ScenarioResult[] = [];
  const step = async (name: string, run: () => Promise<ScenarioResult>) => {
    if (options.only && !options.only.some((o) => name.includes(o))) return;
    log(`redteam: ${name}...`);
    const result = await run();
    results.push(result);
    log(
      `redteam: ${name}: tried ${result.tried}, Tandem 5xx ${result.tandem5xx}, crashes ${result.crashes}, wrong ${result.wrong}, lost ${result.lost} (${((performance.now() - started) / 1000).toFixed(0)} s)`,
    );
  };
  try {
    const a = () => stack.origin('origin-a');
    await step('fuzz origin', () =>
      fuzz(
        {
          tier: 'origin',
          url: a().process.url,
          authorization: `Bearer ${INFER_TOKEN}`,
          crashed: () => stack.crashes.length,
          rss: () => rssMiB(a().process.pid),
        },
        { count: cases, seed },
      ),
    );
    await step('fuzz edge', () =>
      fuzz(
        { tier: 'edge', url: stack.edge.url, authorization: `Bearer ${KEYS.infer}`, crashed: () => stack.crashes.length, rss: () => stack.rss() },
        { count: cases, seed: seed + 1 },
      ),
    );
    await step('breaker poisoning', () => breakerPoisoning(stack, seconds.poison));
    await step('corrupted artifact', () => corruptedArtifact(stack, seconds.rounds));
    await step('overload', () => overload(stack, 'origin-a', seconds.capacity, seconds.overload));
    await step('drain', () => drainWithKeepAlive(stack, 'origin-b', seconds.drain));
    await step('rollback', () => rollbackSurvivesRestart(stack, 'origin-a'));
  } finally {
    await stack.stop();
  }
  log(`redteam: done in ${((performance.now() - started) / 1000).toFixed(0)} s`);
  return results;
}
