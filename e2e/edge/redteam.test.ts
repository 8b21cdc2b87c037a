/**
 * The red team's short mode (`npm run redteam -- --short`, e2e/redteam/) as part of `npm test`: a
 * fuzzer of generated bad inputs against the origin directly and through the edge, breaker poisoning, a
 * corrupted artifact in R2, twice the origin's capacity, a drain under keep-alive, and a rollback across
 * a restart, each on real processes on loopback. Every scenario must meet its goals: no 5xx from Tandem
 * code, no crash, no wrong answer, nothing lost (no reset at a drain), memory bounded.
 */
import { describe, expect, it } from 'vitest';
import { metGoals, renderTable, type ScenarioResult } from '../redteam/report.ts';
import { runRedteam } from '../redteam/run.ts';

describe('red team (short)', () => {
  it('holds under attack and faults', { timeout: 300_000 }, async () => {
    const results: ScenarioResult[] = await runRedteam({ short: true, log: (line) => process.stderr.write(`${line}\n`) });
    process.stdout.write(`${renderTable(results)}\n`);
    expect(results.map((r) => r.name)).toEqual([
      'fuzz origin',
      'fuzz edge',
      'breaker poisoning',
      'corrupted artifact',
      'overload 2x',
      'drain with keep-alive',
      'rollback survives restart',
    ]);
    for (const r of results) {
      expect({ scenario: r.name, tandem5xx: r.tandem5xx, crashes: r.crashes, wrong: r.wrong, lost: r.lost, missed: r.missed, samples: r.samples }).toEqual({
        scenario: r.name,
        tandem5xx: 0,
        crashes: 0,
        wrong: 0,
        lost: 0,
        missed: [],
        samples: [],
      });
      expect(metGoals(r), `${r.name}: memory ${r.rss.before} → ${r.rss.after} MiB`).toBe(true);
    }
    const fuzzed = results.filter((r) => r.name.startsWith('fuzz'));
    for (const r of fuzzed) expect(r.tried).toBeGreaterThanOrEqual(1_500);
  });
});
