/**
 * What can be checked of the origin's Dockerfile without a Docker engine: its stages and instructions,
 * that every file it copies is in the build context (.dockerignore), that the code the image runs
 * imports only files it copies and packages the origin workspace's production install holds, and that
 * the build step's JavaScript (what the image runs, without tsx) starts and serves a signed repository.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, INFER_TOKEN, signedRepository } from '../origin/test-support.ts';
import { launch } from '../stack/child-process.ts';

const ROOT = resolve(import.meta.dirname, '..');
const pkg = JSON.parse(readFileSync(join(ROOT, 'origin', 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

interface Instruction {
  keyword: string;
  args: string;
}
interface Stage {
  from: string;
  name: string | undefined;
  instructions: Instruction[];
}

/** Instructions by stage; continuation lines joined, comments and the parser directive dropped. */
function parseDockerfile(text: string): { args: Instruction[]; stages: Stage[] } {
  const logical: string[] = [];
  let current = '';
  for (const line of text.split('\n')) {
    if (/^\s*#/.test(line)) continue;
    current += line.replace(/\\\s*$/, ' ');
    if (/\\\s*$/.test(line)) continue;
    if (current.trim()) logical.push(current.trim());
    current = '';
  }
  const args: Instruction[] = [];
  const stages: Stage[] = [];
  for (const line of logical) {
    const [, keyword = '', rest = ''] = /^(\S+)\s*(.*)$/.exec(line) ?? [];
    const instruction = { keyword: keyword.toUpperCase(), args: rest };
    if (instruction.keyword === 'FROM') {
      const [, from = '', name] = /^(\S+)(?:\s+AS\s+(\S+))?/i.exec(rest) ?? [];
      stages.push({ from, name, instructions: [] });
    } else if (stages.length === 0) {
      args.push(instruction);
    } else {
      stages.at(-1)!.instructions.push(instruction);
    }
  }
  return { args, stages };
}

/** .dockerignore matching as BuildKit does it: last matching pattern wins; a pattern also matches what is under a matched folder. */
function dockerignore(text: string): (path: string) => boolean {
  const rules = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const negate = l.startsWith('!');
      const pattern = (negate ? l.slice(1) : l).replace(/^\/+|\/+$/g, '');
      const source = pattern
        .split('/')
        .map((part) =>
          part === '**'
            ? '.*'
            : part
                .replace(/[.+^${}()|[\]\\]/g, '\\$&')
                .replace(/\*/g, '[^/]*')
                .replace(/\?/g, '[^/]'),
        )
        .join('/')
        .replace(/\.\*\//g, '(?:.*/)?');
      return { negate, regex: new RegExp(`^${source}(?:/.*)?$`) };
    });
  return (path) => {
    let excluded = false;
    for (const rule of rules) if (rule.regex.test(path)) excluded = !rule.negate;
    return excluded;
  };
}

const { args, stages } = parseDockerfile(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));
const ignored = dockerignore(readFileSync(join(ROOT, '.dockerignore'), 'utf8'));
const stage = (name: string) => stages.find((s) => s.name === name)!;
const runtime = stages.at(-1)!;

/** Relative and bare imports of one source file (static and dynamic, plus `new URL('./x', import.meta.url)`). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8').replace(/^\s*\/\/.*$/gm, '');
  const found = new Set<string>();
  for (const re of [
    /^\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]/gm,
    /^\s*import\s+['"]([^'"]+)['"]/gm,
    /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g,
    /new URL\(\s*['"](\.[^'"]+)['"],\s*import\.meta\.url\)/g,
  ]) {
    for (const m of text.matchAll(re)) found.add(m[1]!);
  }
  return [...found];
}

/** Every file reachable from `entries` through relative imports, and every package they import. */
function closure(entries: string[]): { files: string[]; packages: string[] } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const queue = entries.map((e) => join(ROOT, e));
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (files.has(file)) continue;
    files.add(file);
    for (const spec of importsOf(file)) {
      if (spec.startsWith('.')) queue.push(resolve(dirname(file), spec));
      else if (!spec.startsWith('node:') && !builtinModules.includes(spec))
        packages.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!);
    }
  }
  return { files: [...files].map((f) => relative(ROOT, f)).sort(), packages: [...packages].sort() };
}

describe('Dockerfile', () => {
  it('builds on a current Node LTS, slim, in stages, with models mounted or baked by a build arg', () => {
    const image = args.find((a) => a.keyword === 'ARG' && a.args.startsWith('NODE_IMAGE='))?.args ?? '';
    expect(image).toMatch(/^NODE_IMAGE=node:(22|24)-bookworm-slim$/);
    expect(args.find((a) => a.keyword === 'ARG' && a.args.startsWith('MODELS='))?.args).toBe('MODELS=mounted');
    expect(stages.map((s) => s.name)).toEqual(['manifests', 'deps', 'build', 'models-mounted', 'models-baked', 'models', 'runtime']);
    expect(stage('models').from).toBe('models-${MODELS}');
    expect(stage('models-baked').instructions).toContainEqual({ keyword: 'COPY', args: 'models/repository/ /models/' });
  });

  it("installs the origin workspace's production dependencies only, with .npmrc in place first", () => {
    expect(stage('manifests').instructions.some((i) => i.keyword === 'COPY' && i.args.split(/\s+/).includes('.npmrc'))).toBe(true);
    expect(readFileSync(join(ROOT, '.npmrc'), 'utf8')).toMatch(/^ignore-scripts=true$/m);
    expect(stage('deps').from).toBe('manifests');
    expect(stage('deps').instructions.find((i) => i.keyword === 'RUN')?.args).toMatch(/\bnpm ci\b.*--omit=dev.*--workspace @tandem-ml\/origin/);
    // Every workspace's package.json, or npm ci refuses the lockfile.
    const workspaces = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { workspaces: string[] }).workspaces;
    for (const w of workspaces) expect(stage('manifests').instructions).toContainEqual({ keyword: 'COPY', args: `${w}/package.json ${w}/` });
    expect(runtime.instructions.filter((i) => i.keyword === 'RUN')).toEqual([]);
    expect(runtime.instructions.filter((i) => i.keyword === 'COPY').map((i) => i.args)).toEqual([
      '--from=deps /app/node_modules/ node_modules/',
      '--from=build /app/origin/dist/ ./',
      '--from=models /models/ /models/',
    ]);
  });

  it('runs the origin as a non-root user, drains on SIGTERM and checks readiness', () => {
    const user = runtime.instructions.filter((i) => i.keyword === 'USER').at(-1)?.args ?? 'root';
    const [uid = ''] = user.split(':');
    expect(uid).toMatch(/^\d+$/); // numeric, so runAsNonRoot can verify it
    expect(Number(uid)).toBeGreaterThan(0);
    expect(runtime.instructions.find((i) => i.keyword === 'STOPSIGNAL')?.args).toBe('SIGTERM');
    expect(runtime.instructions.find((i) => i.keyword === 'HEALTHCHECK')?.args).toMatch(/CMD \[.*\/v2\/health\/ready/);
    expect(JSON.parse(runtime.instructions.find((i) => i.keyword === 'CMD')!.args)).toEqual(['node', 'origin/main.js']);
    const env = runtime.instructions
      .filter((i) => i.keyword === 'ENV')
      .map((i) => i.args)
      .join(' ');
    expect(env).toContain('TANDEM_ORIGIN_HOST=0.0.0.0');
    expect(env).toContain('TANDEM_MODEL_REPOSITORY=/models');
  });

  it('copies only files that exist and are in the build context', () => {
    const sources = stages
      .flatMap((s) => s.instructions)
      .filter((i) => i.keyword === 'COPY' && !i.args.includes('--from='))
      .flatMap((i) =>
        i.args
          .split(/\s+/)
          .filter((a) => !a.startsWith('--'))
          .slice(0, -1),
      );
    expect(sources.length).toBeGreaterThan(5);
    for (const source of sources) {
      expect(ignored(source.replace(/\/$/, '')), `${source} is excluded by .dockerignore`).toBe(false);
      // models/repository/ is built (npx tandem build-models), not committed; everything else is.
      if (!source.startsWith('models/repository')) expect(existsSync(join(ROOT, source)), `${source} does not exist`).toBe(true);
    }
  });

  it('keeps private keys, dependencies and build outputs out of the build context', () => {
    for (const path of [
      '.tandem/keys/dev-signing-key.json',
      'node_modules/hono/package.json',
      '.git/config',
      '.wrangler/state',
      'client/index.ts',
      'models/build.ts',
      'worker/app.ts',
      'origin/origin.test.ts',
      'origin/dist/origin/main.js',
      'protocol/test-support/manifest-arbitrary.ts',
    ]) {
      expect(ignored(path), path).toBe(true);
    }
    for (const path of [
      'package.json',
      'package-lock.json',
      '.npmrc',
      'stack/package.json',
      'origin/main.ts',
      'origin/tsconfig.build.json',
      'origin/session-thread.mjs',
      'models/repository/m/1.0.0/fp32.onnx',
    ]) {
      expect(ignored(path), path).toBe(false);
    }
  });

  it('holds everything the origin imports, and installs every package it uses', () => {
    const { files, packages } = closure(['origin/main.ts']);
    expect(files).toContain('origin/session-thread.mjs');
    expect(files).toContain('origin/verify-version.ts');
    const copied = ['protocol/', 'origin/'];
    for (const file of files) {
      expect(copied.some((dir) => file.startsWith(dir)) && !ignored(file), `${file} is imported but not in the image`).toBe(true);
    }
    expect(packages).toContain('onnxruntime-node');
    for (const name of packages) expect(Object.keys(pkg.dependencies), `${name} must be a production dependency of the origin`).toContain(name);
  });

  it('the import check notices a package the origin does not depend on', () => {
    // wrangler belongs to the local stack: its R2 seeding imports it, and it must not be in the image's closure.
    expect(closure(['stack/seed-r2.ts']).packages).toContain('wrangler');
    expect(Object.keys(pkg.dependencies)).not.toContain('wrangler');
  });

  it('the build step emits JavaScript that serves a signed repository without tsx', async () => {
    execFileSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(ROOT, 'origin', 'tsconfig.build.json')], {
      cwd: ROOT,
      stdio: 'pipe',
    });
    const repo = await signedRepository(['mlp-classifier']);
    const origin = await launch({
      name: 'compiled origin',
      command: process.execPath,
      args: [join(ROOT, 'origin', 'dist', 'origin', 'main.js'), '--port', '0'],
      cwd: ROOT,
      scrubTandemEnv: true,
      env: {
        TANDEM_MODEL_REPOSITORY: repo.repository,
        TANDEM_TRUSTED_KEYS: repo.trustedKeys,
        TANDEM_ORIGIN_TOKEN: INFER_TOKEN,
        TANDEM_ADMIN_TOKEN: ADMIN_TOKEN,
      },
    });
    try {
      const ready = (await (await fetch(`${origin.url}/v2/health/ready`)).json()) as { ready: boolean; models: { name: string }[] };
      expect(ready.ready).toBe(true);
      // No loader hook: the process imports no .ts file.
      const loaded = execFileSync('cat', [`/proc/${origin.pid}/cmdline`]).toString();
      expect(loaded).not.toContain('tsx');
    } finally {
      await origin.stop();
    }
  });
});
