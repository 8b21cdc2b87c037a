import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generateSigningKey } from '../protocol/keys.ts';
import {
  checkVars,
  dryRunBundle,
  environmentNames,
  formatSize,
  modelsBucket,
  readEnvironment,
  ROOT,
  runWrangler,
  SIZE_BUDGET,
  WORKER_GZIP_LIMIT_BYTES,
  WRANGLER_CONFIG,
  WRANGLER_ENV,
} from './deploy-edge.ts';

const ENVIRONMENTS = ['staging', 'production'];
const dirs: string[] = [];

afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

describe('wrangler.toml environments', () => {
  it('declares staging and production', () => {
    expect(environmentNames().sort()).toEqual([...ENVIRONMENTS].sort());
  });

  // Wrangler inherits neither vars nor bindings into an environment: one missing would be undefined in
  // that environment only, and the Worker would fail there first.
  it.each(ENVIRONMENTS)('%s binds the same var, R2 and Durable Object names as the top level', (env) => {
    const top = readEnvironment(undefined);
    const resolved = readEnvironment(env);
    expect(resolved.bindings).toEqual(top.bindings);
    expect(resolved.routes.length).toBeGreaterThan(0);
    expect(resolved.workerName).toMatch(new RegExp(`^tandem-edge-${env}$`));
  });

  it.each(ENVIRONMENTS)('%s keeps Workers Logs on (inherited from the top level)', async (env) => {
    const { unstable_readConfig } = await import('wrangler');
    expect(unstable_readConfig({ config: WRANGLER_CONFIG, env }).observability).toMatchObject({ enabled: true });
  });

  it('gives each environment its own R2 bucket and Worker', () => {
    const buckets = ENVIRONMENTS.map((env) => modelsBucket(env));
    expect(new Set([...buckets, readEnvironment(undefined).r2Buckets[0]?.bucket_name]).size).toBe(ENVIRONMENTS.length + 1);
  });

  it.each(ENVIRONMENTS)('%s vars parse as the Worker parses them', async (env) => {
    expect(await checkVars(readEnvironment(env).vars, false)).toEqual([]);
  });

  it('refuses bad vars, and an empty trusted key set for a real deploy', async () => {
    const good = readEnvironment('staging').vars;
    expect(await checkVars({ ...good, ORIGINS: '["ftp://x"]' }, false)).toEqual([expect.stringMatching(/^ORIGINS: /)]);
    expect(await checkVars({ ...good, CANARY: '{"m":{"1.0.0":0}}' }, false)).toEqual([expect.stringMatching(/^CANARY: /)]);
    expect(await checkVars({ ...good, TUNING: '{"nope":1}' }, false)).toEqual([expect.stringMatching(/^TUNING: .*nope/)]);
    expect(await checkVars({ ...good, TRUSTED_KEYS: '[]' }, true)).toEqual([expect.stringMatching(/^TRUSTED_KEYS: no trusted key/)]);
    const key = await generateSigningKey();
    expect(await checkVars({ ...good, TRUSTED_KEYS: JSON.stringify([key.publicKey]) }, true)).toEqual([]);
    // With pinned root keys the release keys come from the root in R2: TRUSTED_KEYS may stay empty.
    expect(await checkVars({ ...good, TRUSTED_KEYS: '[]', ROOT_KEYS: JSON.stringify([key.publicKey]) }, true)).toEqual([]);
    expect(await checkVars({ ...good, ROOT_KEYS: '[{"keyid":"x"}]' }, false)).toEqual([expect.stringMatching(/^ROOT_KEYS: /)]);
  });
});

describe('wrangler deploy --dry-run', () => {
  // Offline: a dry run bundles and prints the bindings without calling the Cloudflare API.
  it.each(ENVIRONMENTS)('bundles %s within the Workers size budget', async (env) => {
    const outdir = await mkdtemp(join(tmpdir(), `tandem-edge-${env}-`));
    dirs.push(outdir);
    const size = await dryRunBundle(env, outdir);
    process.stdout.write(`edge bundle (${env}): ${formatSize(size)}\n`);
    expect(size.bytes).toBeGreaterThan(10_000);
    expect(size.gzipBytes).toBeLessThanOrEqual(WORKER_GZIP_LIMIT_BYTES * SIZE_BUDGET);
  });

  it('is refused by wrangler for an environment that does not exist', async () => {
    const outdir = await mkdtemp(join(tmpdir(), 'tandem-edge-none-'));
    dirs.push(outdir);
    const { code, output } = await runWrangler(['deploy', '--config', WRANGLER_CONFIG, '--env', 'nowhere', '--dry-run', '--outdir', outdir]);
    expect(code).not.toBe(0);
    expect(output).toContain('No environment found in configuration with name "nowhere"');
  });
});

describe('npm run deploy:edge', () => {
  const script = (...args: string[]) =>
    spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'deploy', 'deploy-edge.ts'), ...args], {
      cwd: ROOT,
      encoding: 'utf8',
      env: { ...process.env, ...WRANGLER_ENV },
    });

  it('refuses to run without --env', () => {
    const run = script();
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('--env is required (one of staging, production)');
  });

  it('refuses a real deploy of an environment that trusts no key, before calling wrangler deploy', async () => {
    // A copy of wrangler.toml whose staging trusts no key, whatever the real one says.
    const dir = await mkdtemp(join(tmpdir(), 'tandem-edge-config-'));
    dirs.push(dir);
    const text = (await readFile(WRANGLER_CONFIG, 'utf8'))
      .replace(/^main = .*$/m, `main = ${JSON.stringify(join(ROOT, 'worker', 'main.ts'))}`)
      .replace(/(\[env\.staging\.vars\][^[]*?)TRUSTED_KEYS = .*$/m, '$1TRUSTED_KEYS = "[]"');
    await writeFile(join(dir, 'wrangler.toml'), text);
    expect(readEnvironment('staging', join(dir, 'wrangler.toml')).vars.TRUSTED_KEYS).toBe('[]');
    const run = script('--env', 'staging', '--config', join(dir, 'wrangler.toml'));
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/TRUSTED_KEYS: no trusted key/);
  });

  it('--dry-run checks the vars, bundles and prints the size', () => {
    const run = script('--env', 'production', '--dry-run');
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/tandem-edge-production \(production\) bundle main\.js: .* KiB, gzip .* KiB = [\d.]+ % of the 3 MiB Workers limit/);
    expect(run.stdout).toContain('nothing was deployed');
  });
});
