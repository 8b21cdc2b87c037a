/**
 * `@tandem-ml/client` as npm publishes it: what the tarball holds (the build, its declarations, the README;
 * no tests, benches, sources or server code), and what installing it brings (onnxruntime-web, comlink,
 * idb-keyval, zod; nothing of the origin or the edge). Installed offline from the local npm cache, see
 * test-support/packed-sdk.ts for how.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installedPackages, installPackedSdk, packDryRun, packSdk, type PackResult } from './test-support/packed-sdk.ts';

/** Server-side packages that must never reach a browser app's node_modules through the SDK. */
const SERVER_PACKAGES = [
  'onnxruntime-node',
  'hono',
  '@hono/node-server',
  'pino',
  'prom-client',
  'wrangler',
  '@tandem-ml/protocol',
  '@tandem-ml/origin',
  '@tandem-ml/edge',
  '@tandem-ml/models',
  '@tandem-ml/stack',
];

let work: string;
let packed: PackResult;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'tandem-client-package-'));
  packed = await packSdk(join(work, 'pack')); // prepack builds client/dist first
}, 300_000);
afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe('the npm package', () => {
  it('holds the build, its declarations and the README, and no test, bench, source or server file', async () => {
    const files = (await packDryRun()).map((f) => f.path).sort();
    // The dry run lists what a publish of the folder as it is would upload: the same as the tarball.
    expect(files).toEqual(packed.files.map((f) => f.path).sort());
    for (const needed of ['package.json', 'README.md', 'dist/index.js', 'dist/worker.js', 'dist/types/client/index.d.ts'])
      expect(files, needed).toContain(needed);
    expect(files.some((f) => /^dist\/chunks\/shared-[\w-]+\.js$/.test(f))).toBe(true);
    for (const file of files) {
      expect(file, file).toMatch(/^(package\.json|README\.md|LICENSE|dist\/.+\.(js|js\.map|d\.ts))$/);
      // Nothing of the tests or of another tier: their folders (the edge is worker/), at any depth.
      expect(file, file).not.toMatch(/\.test(-d)?\.|(^|\/)(test-support|demo|bench|e2e|origin|worker|stack|models)\//);
    }
    const total = packed.files.reduce((sum, f) => sum + f.size, 0);
    console.log(`tarball: ${files.length} files, ${total} bytes unpacked: ${files.join(', ')}`);
  });

  it('points every entry of exports, main and types at a file it holds', async () => {
    const paths = new Set(packed.files.map((f) => f.path));
    const targets: string[] = [];
    const collect = (value: unknown) => {
      if (typeof value === 'string') targets.push(value);
      else if (value && typeof value === 'object') Object.values(value).forEach(collect);
    };
    collect(packed.manifest.exports);
    collect(packed.manifest.main);
    collect(packed.manifest.types);
    expect(targets.length).toBeGreaterThan(3);
    for (const target of targets) expect(paths, target).toContain(target.replace(/^\.\//, ''));
    // Side effects only in the worker entry: apps tree-shake the rest.
    expect(packed.manifest.sideEffects).toEqual(['./dist/worker.js']);
    expect(packed.manifest.private).toBeUndefined();
  });

  it('installs into an empty project with its dependencies and nothing of the servers', async () => {
    const project = join(work, 'project');
    await mkdir(project);
    await installPackedSdk(project, packed);
    const installed = await installedPackages(project);
    console.log(`npm ls: ${[...installed].map(([name, version]) => `${name}@${version}`).join(', ')}`);
    for (const dependency of ['@tandem-ml/client', 'onnxruntime-web', 'comlink', 'idb-keyval', 'zod']) expect(installed.has(dependency), dependency).toBe(true);
    for (const server of SERVER_PACKAGES) expect(installed.has(server), server).toBe(false);
    // The installed SDK is the tarball's, not a link into this repository.
    const sdk = join(project, 'node_modules', '@tandem-ml', 'client');
    expect(existsSync(join(sdk, 'dist', 'index.js'))).toBe(true);
    expect(existsSync(join(sdk, 'index.ts'))).toBe(false);
    expect(JSON.parse(await readFile(join(sdk, 'package.json'), 'utf8')).version).toBe(packed.manifest.version);
  });
});
