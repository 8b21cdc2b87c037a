/**
 * `npm run redteam [-- --short] [--fuzz N] [--seed S] [--only NAME,...] [--json FILE]`: attacks a local stack (loopback
 * only) and prints, per scenario, what was tried, 5xx from Tandem code, crashes, wrong answers, lost
 * requests and resident memory before and after; exits 1 when a goal is missed. `--short` is the CI
 * mode that e2e/edge/redteam.test.ts runs as part of `npm test`.
 */
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { metGoals, renderTable } from './report.ts';
import { runRedteam } from './run.ts';

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    short: { type: 'boolean', default: false },
    fuzz: { type: 'string' },
    seed: { type: 'string' },
    only: { type: 'string' },
    json: { type: 'string' },
  },
});
const results = await runRedteam({
  short: values.short ?? false,
  ...(values.fuzz === undefined ? {} : { fuzzCases: Number(values.fuzz) }),
  ...(values.seed === undefined ? {} : { seed: Number(values.seed) }),
  ...(values.only === undefined ? {} : { only: values.only.split(',') }),
  log: (line) => process.stderr.write(`${line}\n`),
});
process.stdout.write(`${renderTable(results)}\n`);
if (values.json) await writeFile(values.json, JSON.stringify(results, null, 2));
process.exitCode = results.every(metGoals) ? 0 : 1;
