/**
 * `tandem deploy --env staging|production [--dry-run] [--outdir DIR] [--config FILE] [-- <wrangler args>]`:
 * deploys the edge to one wrangler environment of `wrangler.toml`, after three gates:
 *
 * 1. `--env` is required and must name an environment of `wrangler.toml` (the top level is the dev config);
 * 2. the environment's vars parse as the Worker will parse them (worker/config.ts), and a real deploy
 *    refuses an empty `TRUSTED_KEYS` unless `ROOT_KEYS` pins a root of trust (an edge that trusts no key
 *    serves no model; with a root, the release keys come from it: docs/security.md);
 * 3. `wrangler deploy --dry-run` bundles the Worker and its gzip size must be within `SIZE_BUDGET` of the
 *    Workers script size limit; the size is printed.
 *
 * Then `wrangler deploy --env <env>` runs (unless `--dry-run`). Secrets are not touched: they are set once
 * per environment with `wrangler secret put` (docs/operations.md).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { experimental_readRawConfig, unstable_readConfig } from 'wrangler';
import { loadTrustedKeys } from '../protocol/keys.ts';
import { parseCanary } from '../worker/version-choice/canary.ts';
import { parseOrigins, parseTuning } from '../worker/config.ts';

export const ROOT = resolve(import.meta.dirname, '..');
export const WRANGLER_CONFIG = join(ROOT, 'wrangler.toml');
const WRANGLER_BIN = join(ROOT, 'node_modules', '.bin', 'wrangler');

/** Workers script size limit, compressed (gzip), on the Free plan; the Paid plan allows 10 MiB. */
export const WORKER_GZIP_LIMIT_BYTES = 3 * 1024 * 1024;
/** The share of that limit the bundle may use: the rest is headroom. */
export const SIZE_BUDGET = 0.5;

/** Wrangler's environment for metrics-free, non-interactive runs (CI, tests, this script). */
export const WRANGLER_ENV = { WRANGLER_SEND_METRICS: 'false', CI: '1' } as const;

/** The environment names declared under `[env.*]` in wrangler.toml. */
export function environmentNames(configPath = WRANGLER_CONFIG): string[] {
  const { rawConfig } = experimental_readRawConfig({ config: configPath });
  return Object.keys(rawConfig.env ?? {});
}

/** The names an environment (or the top level, `env` undefined) binds: vars, R2 buckets, Durable Objects. */
export interface BindingNames {
  vars: string[];
  r2: string[];
  durableObjects: string[];
}

export interface ResolvedEnvironment {
  name: string;
  workerName: string;
  vars: Record<string, string>;
  bindings: BindingNames;
  r2Buckets: { binding: string; bucket_name: string }[];
  routes: unknown[];
}

/** The part of wrangler's resolved config read here. */
interface WranglerConfig {
  name?: string;
  vars?: Record<string, unknown>;
  r2_buckets?: { binding: string; bucket_name?: string }[];
  durable_objects?: { bindings?: { name: string }[] };
  routes?: unknown[];
}

/** An environment as wrangler resolves it (its own vars and bindings; nothing is inherited). */
export function readEnvironment(env: string | undefined, configPath = WRANGLER_CONFIG): ResolvedEnvironment {
  // Typed here by hand: wrangler's declared `Config` type does not resolve outside its own package.
  const config = unstable_readConfig({ config: configPath, ...(env === undefined ? {} : { env }) }) as WranglerConfig;
  const vars = Object.fromEntries(Object.entries(config.vars ?? {}).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]));
  const r2Buckets = (config.r2_buckets ?? []).map((b) => ({ binding: b.binding, bucket_name: b.bucket_name ?? '' }));
  return {
    name: env ?? '(top level)',
    workerName: config.name ?? '',
    vars,
    bindings: {
      vars: Object.keys(vars).sort(),
      r2: r2Buckets.map((b) => b.binding).sort(),
      durableObjects: (config.durable_objects?.bindings ?? []).map((b) => b.name).sort(),
    },
    r2Buckets,
    routes: config.routes ?? [],
  };
}

/** The R2 bucket bound as `MODELS` in an environment (undefined: the top level, the dev config). */
export function modelsBucket(env: string | undefined, configPath = WRANGLER_CONFIG): string {
  const bucket = readEnvironment(env, configPath).r2Buckets.find((b) => b.binding === 'MODELS')?.bucket_name;
  if (!bucket) throw new Error(`environment "${env ?? '(top level)'}" binds no R2 bucket as MODELS in ${configPath}`);
  return bucket;
}

/**
 * Problems with an environment's vars, parsed the way worker/config.ts parses them at run time.
 * `strict` (a real deploy) also refuses an empty trusted key set when no root keys are pinned either.
 */
export async function checkVars(vars: Record<string, string>, strict: boolean): Promise<string[]> {
  const problems: string[] = [];
  const check = async (name: string, parse: (text: string) => unknown) => {
    try {
      await parse(vars[name] ?? '');
    } catch (err) {
      problems.push(`${name}: ${err instanceof Error ? err.message : String(err)}`);
    }
  };
  await check('ORIGINS', parseOrigins);
  await check('CANARY', (t) => parseCanary(JSON.parse(t)));
  await check('TUNING', (t) => parseTuning(JSON.parse(t)));
  let rootKeys = 0;
  await check('ROOT_KEYS', async (t) => {
    rootKeys = (await loadTrustedKeys(t === '' ? '[]' : t)).keys.size;
  });
  await check('TRUSTED_KEYS', async (t) => {
    const set = await loadTrustedKeys(t);
    if (strict && set.keys.size === 0 && rootKeys === 0) {
      throw new Error(
        'no trusted key: paste the release public key record (npx tandem keygen prints it), or pin the root keys in ROOT_KEYS (docs/security.md)',
      );
    }
  });
  return problems;
}

export interface BundleSize {
  file: string;
  bytes: number;
  gzipBytes: number;
}

/** The size of the bundled Worker `wrangler deploy --dry-run --outdir` wrote (its .js/.mjs modules). */
export async function bundleSize(outdir: string): Promise<BundleSize> {
  const files = (await readdir(outdir)).filter((f) => /\.m?js$/.test(f));
  if (files.length === 0) throw new Error(`no bundled Worker in ${outdir}`);
  let bytes = 0;
  let gzipBytes = 0;
  for (const file of files) {
    const content = await readFile(join(outdir, file));
    bytes += content.length;
    gzipBytes += gzipSync(content, { level: 9 }).length;
  }
  return { file: files.join(', '), bytes, gzipBytes };
}

export function formatSize(size: BundleSize): string {
  const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`;
  const share = ((size.gzipBytes / WORKER_GZIP_LIMIT_BYTES) * 100).toFixed(1);
  return `${size.file}: ${kib(size.bytes)}, gzip ${kib(size.gzipBytes)} = ${share} % of the ${WORKER_GZIP_LIMIT_BYTES / 1024 / 1024} MiB Workers limit (budget ${SIZE_BUDGET * 100} %)`;
}

/** Runs wrangler with the given arguments; resolves with its exit code and what it printed. */
export function runWrangler(args: readonly string[], options: { echo?: boolean } = {}): Promise<{ code: number; output: string }> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(WRANGLER_BIN, args, { cwd: ROOT, env: { ...process.env, ...WRANGLER_ENV }, stdio: ['inherit', 'pipe', 'pipe'] });
    let output = '';
    const onData = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      if (options.echo) process.stdout.write(chunk);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('error', reject);
    child.once('exit', (code) => resolveRun({ code: code ?? 1, output }));
  });
}

/** `wrangler deploy --dry-run --outdir` for one environment; throws with wrangler's output on failure. */
export async function dryRunBundle(env: string, outdir: string, configPath = WRANGLER_CONFIG): Promise<BundleSize> {
  const { code, output } = await runWrangler(['deploy', '--config', configPath, '--env', env, '--dry-run', '--outdir', outdir]);
  if (code !== 0) throw new Error(`wrangler deploy --dry-run --env ${env} exited with ${code}:\n${output}`);
  return bundleSize(outdir);
}

export const DEPLOY_USAGE = `usage: tandem deploy --env <staging|production> [--dry-run] [--outdir DIR] [--config FILE] [-- <wrangler args>]
  Checks the environment's vars, bundles the Worker (wrangler deploy --dry-run), checks the bundle against
  the size budget, then runs wrangler deploy --env <env> (unless --dry-run). Secrets are set separately
  with wrangler secret put (docs/operations.md).`;

export async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      env: { type: 'string' },
      'dry-run': { type: 'boolean', default: false },
      outdir: { type: 'string' },
      config: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(`${DEPLOY_USAGE}\n`);
    return 0;
  }
  const configPath = resolve(values.config ?? WRANGLER_CONFIG);
  const names = environmentNames(configPath);
  if (!values.env) {
    process.stderr.write(`tandem deploy: --env is required (one of ${names.join(', ')}); the top level of wrangler.toml is the dev config\n`);
    return 2;
  }
  const env = values.env;
  if (!names.includes(env)) {
    process.stderr.write(`tandem deploy: no environment "${env}" in wrangler.toml (have ${names.join(', ')})\n`);
    return 2;
  }
  const dryRun = values['dry-run'];
  const resolved = readEnvironment(env, configPath);
  const problems = await checkVars(resolved.vars, !dryRun);
  if (problems.length > 0) {
    process.stderr.write(`tandem deploy: environment "${env}" has bad vars:\n${problems.map((p) => `  ${p}`).join('\n')}\n`);
    return 1;
  }
  const outdir = values.outdir ? resolve(values.outdir) : await mkdtemp(join(tmpdir(), 'tandem-edge-bundle-'));
  try {
    const size = await dryRunBundle(env, outdir, configPath);
    process.stdout.write(`tandem deploy: ${resolved.workerName} (${env}) bundle ${formatSize(size)}\n`);
    if (size.gzipBytes > WORKER_GZIP_LIMIT_BYTES * SIZE_BUDGET) {
      process.stderr.write(`tandem deploy: the bundle is over budget; refusing to deploy\n`);
      return 1;
    }
  } finally {
    if (!values.outdir) await rm(outdir, { recursive: true, force: true });
  }
  if (dryRun) {
    process.stdout.write(`tandem deploy: dry run only; nothing was deployed\n`);
    return 0;
  }
  const { code } = await runWrangler(['deploy', '--config', configPath, '--env', env, ...positionals], { echo: true });
  return code;
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`tandem deploy: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
