#!/usr/bin/env node
// `npm test`: type-checks, then runs every test suite, then prints one closing line `N passed, N failed`
// summed over all suites (what CI reads). A suite that crashes before reporting counts as one failure.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const results = join(root, '.cache', 'test-results');
mkdirSync(results, { recursive: true });

/** @type {{ name: string, command: string[], report?: string, parse?: (path: string) => { passed: number, failed: number, skipped: number } }[]} */
const suites = [
  { name: 'typecheck', command: ['npx', 'tsc', '-b'] },
  // Biome: the lint rules of biome.json and the formatter's layout, checked, never rewritten (`npm run format` writes).
  { name: 'lint', command: ['npx', 'biome', 'ci', '.'] },
  // Node: protocol, models, origin and client tests against real onnxruntime (node and web/WASM).
  vitestSuite('vitest', []),
  // The edge's unit tests, inside workerd.
  vitestSuite('workerd', ['--config', 'worker/vitest.config.ts']),
  // The edge under `wrangler dev` in front of real origin processes.
  vitestSuite('edge-integration', ['--config', 'e2e/edge/vitest.config.ts']),
  // Debian's Chromium against the whole stack: origin, edge under `wrangler dev`, demo page.
  vitestSuite('e2e', ['--config', 'e2e/vitest.config.ts']),
];

/**
 * @param {string} name
 * @param {string[]} args
 */
function vitestSuite(name, args) {
  const report = join(results, `${name}.json`);
  return {
    name,
    command: ['npx', 'vitest', 'run', ...args, '--reporter=default', '--reporter=json', `--outputFile.json=${report}`],
    report,
    parse: parseVitest,
  };
}

let passed = 0;
let failed = 0;
let skipped = 0;
for (const suite of suites) {
  if (suite.report) rmSync(suite.report, { force: true });
  process.stdout.write(`\n== ${suite.name}: ${suite.command.join(' ')}\n`);
  const [command = '', ...args] = suite.command;
  const run = spawnSync(command, args, { cwd: root, stdio: 'inherit', env: process.env });
  if (!suite.parse) {
    if (run.status === 0) passed++;
    else failed++;
    process.stdout.write(`== ${suite.name}: ${run.status === 0 ? 'passed' : 'FAILED'}\n`);
    continue;
  }
  const counts = suite.report && existsSync(suite.report) ? suite.parse(suite.report) : { passed: 0, failed: 1, skipped: 0 };
  // A runner that exits non-zero with no failed test (a crash, an error outside tests) still fails.
  if (run.status !== 0 && counts.failed === 0) counts.failed = 1;
  passed += counts.passed;
  failed += counts.failed;
  skipped += counts.skipped;
  process.stdout.write(`== ${suite.name}: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped\n`);
}

process.stdout.write(`\n${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}\n`);
process.exitCode = failed > 0 ? 1 : 0;

/** @param {string} path */
function parseVitest(path) {
  const report = JSON.parse(readFileSync(path, 'utf8'));
  const failedSuites = (report.testResults ?? []).filter(
    (/** @type {{ status: string, assertionResults?: unknown[] }} */ r) => r.status === 'failed' && (r.assertionResults ?? []).length === 0,
  ).length;
  return {
    passed: report.numPassedTests ?? 0,
    failed: (report.numFailedTests ?? 0) + failedSuites,
    skipped: (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0),
  };
}
