/**
 * `npm run bench:edge`: what the edge adds to an inference. Starts one origin and the edge in front of it
 * (without wrangler dev's inspector), both on the built-in repository with dev credentials, then drives
 * the same mlp-classifier request straight at the origin and through the edge, alternating, with
 * autocannon: one connection for latency (no queueing), then several for throughput. Prints p50/p95/p99 and
 * requests/s side by side and the added latency; writes bench/results/edge.json.
 *
 *   npm run bench:edge -- [--duration 5] [--connections 8]
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_REPOSITORY } from '../models/build.ts';
import { DEV_API_KEY, DEV_API_KEYS, DEV_ORIGIN_TOKEN, DEV_TRUSTED_KEYS_FILE, ensureDevRepository } from '../stack/dev-credentials.ts';
import { startEdge } from '../stack/edge-process.ts';
import { spawnOrigin } from '../stack/origin-process.ts';
import { measure, type Measurement } from './lib/edge-measure.ts';

const ROOT = resolve(import.meta.dirname, '..');

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { duration: { type: 'string' }, connections: { type: 'string' } } });
  const duration = Number(values.duration ?? 5);
  const connections = Number(values.connections ?? 8);

  await ensureDevRepository(DEFAULT_REPOSITORY, (line) => void process.stderr.write(`${line}\n`));
  const trustedKeys = await readFile(DEV_TRUSTED_KEYS_FILE, 'utf8');
  const origin = await spawnOrigin({
    repository: DEFAULT_REPOSITORY,
    env: { TANDEM_TRUSTED_KEYS: trustedKeys, TANDEM_ORIGIN_TOKEN: DEV_ORIGIN_TOKEN },
    scrubTandemEnv: true,
  });
  // Without the DevTools inspector that `wrangler dev` always starts (stack/edge-runtime.ts): it taxes every
  // subrequest and console line, and the deployed Worker has none. Same Worker code, bindings and dev proxy.
  const edge = await startEdge({
    origins: [origin.url],
    repository: DEFAULT_REPOSITORY,
    trustedKeys,
    originToken: DEV_ORIGIN_TOKEN,
    apiKeys: [...DEV_API_KEYS],
    logLevel: 'warn',
    inspector: false,
  }).catch(async (err: unknown) => {
    await origin.stop();
    throw err;
  });
  try {
    const body = JSON.stringify({ inputs: [{ name: 'x', shape: [1, 256], datatype: 'FP32', data: Array.from({ length: 256 }, (_, i) => Math.sin(i)) }] });
    const path = '/v2/models/mlp-classifier/infer';
    const direct = { url: `${origin.url}${path}`, body, headers: { 'content-type': 'application/json', authorization: `Bearer ${DEV_ORIGIN_TOKEN}` } };
    const viaEdge = {
      url: `${edge.url}${path}`,
      body,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${DEV_API_KEY}`, 'x-client-id': 'bench' },
    };

    // Warm both paths (JIT, connection pools, the edge's readiness checks), then alternate.
    await measure(direct, 1, 2);
    await measure(viaEdge, 1, 2);
    const latencyDirect = await measure(direct, 1, duration);
    const latencyEdge = await measure(viaEdge, 1, duration);
    const throughputDirect = await measure(direct, connections, duration);
    const throughputEdge = await measure(viaEdge, connections, duration);

    const round = (n: number) => Math.round(n * 1000) / 1000;
    const results = {
      model: 'mlp-classifier',
      duration_s: duration,
      p50_ms_direct: round(latencyDirect.p50),
      p50_ms_edge: round(latencyEdge.p50),
      added_p50_ms: round(latencyEdge.p50 - latencyDirect.p50),
      p95_ms_direct: round(latencyDirect.p95),
      p95_ms_edge: round(latencyEdge.p95),
      added_p95_ms: round(latencyEdge.p95 - latencyDirect.p95),
      p99_ms_direct: round(latencyDirect.p99),
      p99_ms_edge: round(latencyEdge.p99),
      added_p99_ms: round(latencyEdge.p99 - latencyDirect.p99),
      rps_direct_1conn: round(latencyDirect.rps),
      rps_edge_1conn: round(latencyEdge.rps),
      connections,
      rps_direct: round(throughputDirect.rps),
      rps_edge: round(throughputEdge.rps),
      p50_ms_direct_loaded: round(throughputDirect.p50),
      p50_ms_edge_loaded: round(throughputEdge.p50),
      p95_ms_direct_loaded: round(throughputDirect.p95),
      p95_ms_edge_loaded: round(throughputEdge.p95),
      p99_ms_direct_loaded: round(throughputDirect.p99),
      p99_ms_edge_loaded: round(throughputEdge.p99),
      errors: latencyDirect.errors + latencyEdge.errors + throughputDirect.errors + throughputEdge.errors,
      node: process.version,
      note: 'edge = wrangler dev engine (workerd behind its local proxy, no DevTools inspector) on loopback; origin = origin/main.ts under tsx; same machine, runs alternate',
    };
    printTable([
      ['1 connection', latencyDirect, latencyEdge],
      [`${connections} connections`, throughputDirect, throughputEdge],
    ]);
    process.stdout.write(`\nthe edge adds ${results.added_p50_ms.toFixed(2)} ms at p50, ${results.added_p95_ms.toFixed(2)} ms at p95 (1 connection)\n`);
    await mkdir(join(ROOT, 'bench', 'results'), { recursive: true });
    await writeFile(join(ROOT, 'bench', 'results', 'edge.json'), `${JSON.stringify(results, null, 2)}\n`);
    process.stdout.write('wrote bench/results/edge.json\n');
  } finally {
    await Promise.all([edge.stop(), origin.stop()]);
  }
}

function printTable(rows: [string, Measurement, Measurement][]): void {
  const f = (n: number) => n.toFixed(2).padStart(9);
  process.stdout.write(
    `\n${'load'.padEnd(15)} ${'path'.padEnd(7)} ${'p50 ms'.padStart(9)} ${'p95 ms'.padStart(9)} ${'p99 ms'.padStart(9)} ${'req/s'.padStart(9)} ${'errors'.padStart(7)}\n`,
  );
  for (const [label, direct, edge] of rows) {
    for (const [name, m] of [
      ['direct', direct],
      ['edge', edge],
    ] as const) {
      process.stdout.write(`${label.padEnd(15)} ${name.padEnd(7)} ${f(m.p50)} ${f(m.p95)} ${f(m.p99)} ${f(m.rps)} ${String(m.errors).padStart(7)}\n`);
    }
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:edge failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
