/**
 * The edge as a child process: a fresh local R2 seeded from a model repository, then `wrangler dev` (or,
 * with `inspector: false`, the same dev engine without the DevTools inspector: edge-runtime.ts) on
 * 127.0.0.1, started through the one launcher and ready once it answers. For `tandem start`, `tandem
 * edge`, the cross-tier tests and the benchmark. Vars and secrets go to wrangler through an env file in a
 * private temp folder (mode 0600), never into the repository; the folder (the seeded R2, a copy of every
 * model) is removed when the edge stops, and when this process exits without stopping it.
 */
import { rmSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sha256Hex } from '../protocol/sha256.ts';
import { launch, type ChildService } from './child-process.ts';
import { DEV_ORIGIN_TOKEN, type ApiKeySpec } from './dev-credentials.ts';
import { ROOT, WRANGLER_CONFIG, seed, type SeedOptions } from './seed-r2.ts';

export interface StartEdgeOptions {
  origins: string[];
  repository: string;
  /** JSON text of the trusted keys. */
  trustedKeys: string;
  /** JSON text of the pinned root keys (`ROOT_KEYS`); default none: no root of trust, as before. */
  rootKeys?: string;
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

export type RunningEdge = ChildService;

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

/** The Worker's vars and secrets for these options, as wrangler.toml names them (worker/config.ts parses them). */
export async function edgeVars(options: Omit<StartEdgeOptions, 'repository'>): Promise<Record<string, string>> {
  return {
    ORIGINS: JSON.stringify(options.origins),
    ORIGIN_TOKEN: options.originToken ?? DEV_ORIGIN_TOKEN,
    TRUSTED_KEYS: options.trustedKeys,
    ROOT_KEYS: options.rootKeys ?? '[]',
    API_KEYS: await apiKeysVar(options.apiKeys ?? []),
    CANARY: JSON.stringify(options.canary ?? {}),
    TUNING: JSON.stringify(options.tuning ?? {}),
    REQUIRE_KEY_FOR_CATALOG: String(options.requireKeyForCatalog ?? false),
  };
}

/** Seeds a fresh local R2 and starts `wrangler dev`; resolves once the edge answers. */
export async function startEdge(options: StartEdgeOptions): Promise<RunningEdge> {
  // A port found free can be taken by another process before wrangler binds it (tests run side by side):
  // when the port was ours to pick, pick another, a few times.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startEdgeOn(options, options.port || (await freePort()));
    } catch (err) {
      if (options.port || attempt >= 3 || !String(err).includes('Address already in use')) throw err;
    }
  }
}

async function startEdgeOn(options: StartEdgeOptions, port: number): Promise<RunningEdge> {
  const state = await mkdtemp(join(tmpdir(), 'tandem-edge-'));
  const removeState = () => rmSync(state, { recursive: true, force: true });
  try {
    await seed({ repository: options.repository, persistTo: state, ...(options.extraObjects ? { extra: options.extraObjects } : {}) });
    const vars = await edgeVars(options);
    const envFile = join(state, 'edge.env');
    // dotenv: single quotes keep JSON as it is.
    await writeFile(
      envFile,
      `${Object.entries(vars)
        .map(([k, v]) => `${k}='${v.replaceAll("'", '')}'`)
        .join('\n')}\n`,
      { mode: 0o600 },
    );
    const common = [
      '--config',
      WRANGLER_CONFIG,
      '--ip',
      '127.0.0.1',
      '--port',
      String(port),
      '--persist-to',
      state,
      '--env-file',
      envFile,
      '--log-level',
      options.logLevel ?? 'log',
    ];
    const [command, args]: [string, string[]] =
      options.inspector === false
        ? [process.execPath, ['--import', 'tsx', join(ROOT, 'stack', 'edge-runtime.ts'), ...common]]
        : [
            join(ROOT, 'node_modules', '.bin', 'wrangler'),
            ['dev', ...common, '--inspector-port', String(await freePort()), '--show-interactive-dev-session=false'],
          ];
    const url = `http://127.0.0.1:${port}`;
    return await launch({
      name: 'edge',
      command,
      args,
      cwd: ROOT,
      // No internet here: Request.cf is wrangler's placeholder rather than a failed fetch.
      env: { WRANGLER_SEND_METRICS: 'false', CI: '1', CLOUDFLARE_CF_FETCH_ENABLED: 'false' },
      // The wrangler shim starts the real CLI, which starts workerd: signals go to the whole group.
      processGroup: true,
      ...(options.onLine ? { onLine: options.onLine } : {}),
      readyWhen: { url, probe: answers },
      cleanup: removeState,
    });
  } catch (err) {
    removeState();
    throw err;
  }
}

async function answers(url: string): Promise<boolean> {
  const res = await fetch(`${url}/v1/models`, { signal: AbortSignal.timeout(2000) });
  await res.arrayBuffer();
  return res.status < 500;
}
