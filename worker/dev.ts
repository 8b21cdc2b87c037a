/**
 * `npm run edge -- --port N --origin URL[,URL...] [--no-inspector]`: the edge alone under `wrangler dev`
 * on 127.0.0.1 (`--no-inspector`: its dev engine without the DevTools inspector, dev-runtime.ts), its
 * local R2 seeded from the built-in model repository (built, with the dev key, when missing), pointed at
 * the given origins. Dev credentials: the origin's dev token, and a dev API key printed at start.
 *
 * `startEdge` is the same thing as a function, for integration tests and the benchmark. Vars and secrets
 * go to wrangler through an env file in a private temp folder (mode 0600), never into the repository.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_REPOSITORY } from '../models/build.ts';
import { buildAndSign } from '../models/cli/build-models.ts';
import { DEFAULT_KEY_DIR, TRUSTED_KEYS_FILE, ensureDevKey } from '../models/keys-store.ts';
import { listModelVersions } from '../models/repository.ts';
import { sha256Hex } from '../protocol/sha256.ts';
import { ROOT, WRANGLER_CONFIG, seed, type SeedOptions } from './seed.ts';

export const DEV_ORIGIN_TOKEN = 'dev-origin-token';
export const DEV_API_KEY = 'dev-api-key';
export const DEV_ADMIN_KEY = 'dev-admin-key';

export interface ApiKeySpec {
  name: string;
  /** The key in clear; only its hash reaches the edge. */
  key: string;
  scopes?: ('infer' | 'catalog' | 'admin')[];
  models?: string[];
  ratePerSecond?: number;
  burst?: number;
}

export interface StartEdgeOptions {
  origins: string[];
  repository: string;
  /** JSON text of the trusted keys. */
  trustedKeys: string;
  /** 0 (default): a free port. */
  port?: number;
  originToken?: string;
  apiKeys?: ApiKeySpec[];
  canary?: Record<string, Record<string, number>>;
  tuning?: Record<string, number>;
  requireKeyForCatalog?: boolean;
  extraObjects?: SeedOptions['extra'];
  /** Receives every line wrangler and the Worker print (the Worker's JSON request log among them). */
  onLine?: (line: string) => void;
  /** wrangler's log level, which also filters the Worker's console lines. Default 'log' (the request log comes through). */
  logLevel?: 'debug' | 'info' | 'log' | 'warn' | 'error' | 'none';
  /**
   * Start the DevTools inspector, as the `wrangler dev` command always does. Default true. false runs
   * the same dev engine without it (dev-runtime.ts): closer to the deployed Worker's costs, for benchmarks.
   */
  inspector?: boolean;
}

export interface RunningEdge {
  url: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

export async function apiKeysVar(keys: readonly ApiKeySpec[]): Promise<string> {
  const records = [];
  for (const { key, ...rest } of keys) records.push({ ...rest, sha256: await sha256Hex(new TextEncoder().encode(key)) });
  return JSON.stringify(records);
}

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolvePort(address.port) : reject(new Error('no port'))));
    });
  });
}

/** Seeds a fresh local R2 and starts `wrangler dev`; resolves once the edge answers. */
export async function startEdge(options: StartEdgeOptions): Promise<RunningEdge> {
  const state = await mkdtemp(join(tmpdir(), 'tandem-edge-'));
  await seed({ repository: options.repository, persistTo: state, ...(options.extraObjects ? { extra: options.extraObjects } : {}) });
  const vars: Record<string, string> = {
    ORIGINS: JSON.stringify(options.origins),
    ORIGIN_TOKEN: options.originToken ?? DEV_ORIGIN_TOKEN,
    TRUSTED_KEYS: options.trustedKeys,
    API_KEYS: await apiKeysVar(options.apiKeys ?? []),
    CANARY: JSON.stringify(options.canary ?? {}),
    TUNING: JSON.stringify(options.tuning ?? {}),
    REQUIRE_KEY_FOR_CATALOG: String(options.requireKeyForCatalog ?? false),
  };
  const envFile = join(state, 'edge.env');
  // dotenv: single quotes keep JSON as it is.
  await writeFile(envFile, Object.entries(vars).map(([k, v]) => `${k}='${v.replaceAll("'", '')}'`).join('\n') + '\n', { mode: 0o600 });
  const port = options.port || (await freePort());
  const common = ['--config', WRANGLER_CONFIG, '--ip', '127.0.0.1', '--port', String(port), '--persist-to', state, '--env-file', envFile, '--log-level', options.logLevel ?? 'log'];
  const [command, args]: [string, string[]] =
    options.inspector === false
      ? [join(ROOT, 'node_modules', '.bin', 'tsx'), [join(ROOT, 'worker', 'dev-runtime.ts'), ...common]]
      : [join(ROOT, 'node_modules', '.bin', 'wrangler'), ['dev', ...common, '--inspector-port', String(await freePort()), '--show-interactive-dev-session=false']];
  const child = spawn(
    command,
    args,
    // No internet here: Request.cf is wrangler's placeholder rather than a failed fetch.
    // Its own process group: the wrangler shim starts the real CLI, which starts workerd; stop() ends them all.
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: '1', CLOUDFLARE_CF_FETCH_ENABLED: 'false' } },
  );
  const output: string[] = [];
  const onData = (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (!line.trim()) continue;
      if (output.length < 200) output.push(line);
      options.onLine?.(line);
    }
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const url = `http://127.0.0.1:${port}`;
  // Should this process end without stop() (killed by its parent, say), wrangler must not outlive it.
  const orphanGuard = () => signalGroup(child, 'SIGKILL');
  process.once('exit', orphanGuard);
  const stop = async () => {
    process.off('exit', orphanGuard);
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      signalGroup(child, 'SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      if (child.exitCode === null && child.signalCode === null) signalGroup(child, 'SIGKILL');
    }
    await rm(state, { recursive: true, force: true });
  };
  try {
    await waitUntilServing(url, child, 60_000);
  } catch (err) {
    await stop();
    throw new Error(`${String(err)}\n${output.join('\n')}`);
  }
  return { url, process: child, stop };
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    if (child.pid !== undefined) process.kill(-child.pid, signal);
  } catch {
    child.kill(signal);
  }
}

async function waitUntilServing(url: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited with ${child.exitCode}`);
    try {
      const res = await fetch(`${url}/v1/models`, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      if (res.status < 500) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`the edge did not answer on ${url} within ${timeoutMs} ms`);
}

async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { port: { type: 'string' }, origin: { type: 'string', multiple: true }, repository: { type: 'string' }, 'log-level': { type: 'string' }, 'no-inspector': { type: 'boolean' } },
  });
  const origins = (values.origin ?? ['http://127.0.0.1:8000']).flatMap((o) => o.split(',')).map((o) => o.trim()).filter(Boolean);
  const repository = resolve(values.repository ?? process.env.TANDEM_MODEL_REPOSITORY ?? DEFAULT_REPOSITORY);
  if (repository === DEFAULT_REPOSITORY) {
    await ensureDevKey();
    if ((await listModelVersions(repository)).length === 0) await buildAndSign({ repository, cache: true });
  }
  const trustedKeys = process.env.TANDEM_TRUSTED_KEYS ?? (await readFile(join(DEFAULT_KEY_DIR, TRUSTED_KEYS_FILE), 'utf8'));
  const edge = await startEdge({
    origins,
    repository,
    trustedKeys,
    port: Number(values.port ?? 8787),
    originToken: process.env.TANDEM_ORIGIN_TOKEN ?? DEV_ORIGIN_TOKEN,
    apiKeys: [
      { name: 'dev', key: DEV_API_KEY, scopes: ['infer', 'catalog'], ratePerSecond: 100_000, burst: 100_000 },
      { name: 'dev-admin', key: DEV_ADMIN_KEY, scopes: ['admin'] },
    ],
    ...(process.env.TANDEM_EDGE_CANARY ? { canary: JSON.parse(process.env.TANDEM_EDGE_CANARY) as Record<string, Record<string, number>> } : {}),
    logLevel: (values['log-level'] ?? 'log') as NonNullable<StartEdgeOptions['logLevel']>,
    inspector: !values['no-inspector'],
    onLine: (line) => process.stdout.write(`${line}\n`),
  });
  process.stderr.write(
    `tandem edge listening on ${edge.url}, in front of ${origins.join(', ')}\n` +
      `  dev API key:   Authorization: Bearer ${DEV_API_KEY}   (admin: ${DEV_ADMIN_KEY})\n` +
      `  try: curl -s ${edge.url}/v1/models\n`,
  );
  const shutdown = () => void edge.stop().then(() => process.exit(0));
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`tandem edge: ${String(err)}\n`);
    process.exit(1);
  });
}
