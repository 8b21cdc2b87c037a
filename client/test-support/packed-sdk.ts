/**
 * The SDK as a user gets it: `npm pack` of client/ (its `prepack` builds it), installed into a project of
 * its own with npm, offline, from the local npm cache (tests reach nothing but loopback).
 *
 * npm 11 resolves a dependency without a lockfile from the registry's full metadata document, which the
 * cache does not hold (installs keep only the abbreviated one, and tarballs), so `npm install <tarball>
 * --offline` in an empty folder stops at ENOTCACHED. The closest real install: the project gets a
 * lockfile, as a project in CI has, naming for each package the version, tarball URL and integrity this
 * repository's package-lock.json resolved, walked from the SDK's own package.json; then `npm ci --offline`
 * installs it from the cached tarballs. The walk follows only what the packed package.json declares, so a
 * dependency on a server package, or on a workspace package that is never published, shows.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';

const ROOT = join(import.meta.dirname, '..', '..');
const CLIENT = join(ROOT, 'client');
const NAME = '@tandem-ml/client';

export interface PackedFile {
  path: string;
  size: number;
}

export interface PackResult {
  /** The tarball's absolute path. */
  tarball: string;
  files: PackedFile[];
  /** The packed package.json. */
  manifest: PackageJson;
}

interface PackageJson {
  name: string;
  version: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  [field: string]: unknown;
}

type LockEntry = PackageJson & { resolved?: string; integrity?: string; link?: boolean };

/** Runs a command; its output goes into the error when it fails. */
export async function run(file: string, args: string[], cwd: string): Promise<string> {
  try {
    // npm's own update check and funding messages would only add noise (and a network attempt).
    const env = { ...process.env, npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' };
    return (await promisify(execFile)(file, args, { cwd, env, maxBuffer: 64 * 1024 * 1024 })).stdout;
  } catch (err) {
    const { stdout = '', stderr = '' } = err as { stdout?: string; stderr?: string };
    throw new Error(`${file} ${args.join(' ')} (in ${cwd}) failed:\n${stdout}${stderr}`, { cause: err });
  }
}

/** What `npm pack --json` prints: one object per package. */
function parsePack(stdout: string): { filename: string; files: PackedFile[] } {
  // Lifecycle scripts (prepack's build) print before the JSON, which starts with a line of its own.
  const start = /^\[$/m.exec(stdout)?.index;
  if (start === undefined) throw new Error(`npm pack printed no JSON:\n${stdout}`);
  const [packed] = JSON.parse(stdout.slice(start)) as { filename: string; files: PackedFile[] }[];
  if (!packed) throw new Error(`npm pack printed no package:\n${stdout}`);
  return packed;
}

/**
 * `npm pack --dry-run --json` of client/: what a publish would upload, without a build (the files
 * list of what is in client/dist now).
 */
export async function packDryRun(): Promise<PackedFile[]> {
  return parsePack(await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], CLIENT)).files;
}

/**
 * The SDK built, then `npm pack` of client/ into `destination`. The build runs explicitly: the
 * repository's .npmrc sets ignore-scripts, which also skips the package's `prepack`.
 */
export async function packSdk(destination: string): Promise<PackResult> {
  await mkdir(destination, { recursive: true });
  await run('npm', ['run', 'build'], CLIENT);
  const packed = parsePack(await run('npm', ['pack', '--json', '--pack-destination', destination], CLIENT));
  const manifest = JSON.parse(await readFile(join(CLIENT, 'package.json'), 'utf8')) as PackageJson;
  return { tarball: join(destination, packed.filename), files: packed.files, manifest };
}

/**
 * A lockfile for `project` that depends on the packed SDK: every package it needs, at the version, tarball
 * and integrity this repository's lockfile resolved.
 * @throws Error when the SDK depends on a workspace package (never published) or on one the repository lacks.
 */
export async function lockfileFor(project: string, sdk: PackResult, projectName: string): Promise<object> {
  const repoLock = JSON.parse(await readFile(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };
  const clientPath = Object.entries(repoLock.packages).find(([path, e]) => !path.includes('node_modules') && e.name === NAME)?.[0];
  if (clientPath === undefined) throw new Error(`${NAME} is not a workspace of package-lock.json`);
  const sdkPath = `node_modules/${NAME}`;
  const packages: Record<string, object> = {};
  const toProject = (repoPath: string) => (repoPath.startsWith(`${clientPath}/`) ? `${sdkPath}/${repoPath.slice(clientPath.length + 1)}` : repoPath);

  /** Node's lookup: `from`/node_modules/name, then each enclosing node_modules, up to the top. */
  const resolve = (name: string, from: string): string | undefined => {
    for (let dir = from; ; ) {
      const candidate = dir ? `${dir}/node_modules/${name}` : `node_modules/${name}`;
      if (repoLock.packages[candidate]) return candidate;
      if (!dir) return undefined;
      // node_modules/a/node_modules/b → node_modules/a; node_modules/a (or a workspace folder) → the top.
      const cut = dir.lastIndexOf('/node_modules/');
      dir = cut === -1 ? '' : dir.slice(0, cut);
    }
  };

  const visit = (manifest: PackageJson, repoFrom: string) => {
    const wanted: [string, boolean][] = [
      ...Object.keys(manifest.dependencies ?? {}).map((n): [string, boolean] => [n, false]),
      ...Object.keys(manifest.optionalDependencies ?? {}).map((n): [string, boolean] => [n, true]),
      ...Object.keys(manifest.peerDependencies ?? {}).map((n): [string, boolean] => [n, manifest.peerDependenciesMeta?.[n]?.optional === true]),
    ];
    for (const [name, optional] of wanted) {
      const found = resolve(name, repoFrom);
      if (!found) {
        if (optional) continue;
        throw new Error(`${manifest.name} depends on ${name}, which package-lock.json does not hold`);
      }
      const entry = repoLock.packages[found]!;
      if (entry.link) throw new Error(`${manifest.name} depends on ${name}, a workspace package that is never published`);
      const target = toProject(found);
      if (packages[target]) continue;
      const {
        dev: _dev,
        devOptional: _devOptional,
        peer: _peer,
        optional: _optional,
        extraneous: _extraneous,
        ...kept
      } = entry as LockEntry & Record<string, unknown>;
      packages[target] = kept;
      visit({ ...entry, name }, found);
    }
  };
  visit(sdk.manifest, clientPath);

  const spec = `file:${relative(project, sdk.tarball)}`;
  const integrity = `sha512-${createHash('sha512')
    .update(await readFile(sdk.tarball))
    .digest('base64')}`;
  const { name, version, license, dependencies, optionalDependencies, peerDependencies, peerDependenciesMeta, engines } = sdk.manifest;
  packages[sdkPath] = Object.fromEntries(
    Object.entries({ version, resolved: spec, integrity, license, dependencies, optionalDependencies, peerDependencies, peerDependenciesMeta, engines }).filter(
      ([, v]) => v !== undefined,
    ),
  );
  return {
    name: projectName,
    lockfileVersion: 3,
    requires: true,
    packages: {
      '': { name: projectName, dependencies: { [name]: spec } },
      ...Object.fromEntries(Object.entries(packages).sort(([a], [b]) => a.localeCompare(b))),
    },
  };
}

/**
 * Makes `project` depend on the packed SDK and installs it, offline, from the npm cache: package.json gets
 * the dependency, package-lock.json the resolved tree (see the module comment), then `npm ci --offline
 * --ignore-scripts`. Other fields of an existing package.json are kept.
 */
export async function installPackedSdk(project: string, sdk: PackResult): Promise<void> {
  const pkgFile = join(project, 'package.json');
  const pkg = JSON.parse(await readFile(pkgFile, 'utf8').catch(() => '{}')) as Record<string, unknown>;
  const projectName = typeof pkg.name === 'string' ? pkg.name : 'project';
  const spec = `file:${relative(project, sdk.tarball)}`;
  await writeFile(pkgFile, `${JSON.stringify({ ...pkg, name: projectName, dependencies: { ...(pkg.dependencies as object), [NAME]: spec } }, null, 2)}\n`);
  await writeFile(join(project, 'package-lock.json'), `${JSON.stringify(await lockfileFor(project, sdk, projectName), null, 2)}\n`);
  await run('npm', ['ci', '--offline', '--ignore-scripts', '--no-audit', '--no-fund'], project);
}

/** Every package name in `project`'s installed tree (`npm ls --all --json`), with its version. */
export async function installedPackages(project: string): Promise<Map<string, string>> {
  const tree = JSON.parse(await run('npm', ['ls', '--all', '--json'], project)) as LsNode;
  const found = new Map<string, string>();
  const walk = (node: LsNode) => {
    for (const [name, child] of Object.entries(node.dependencies ?? {})) {
      if (child.version) found.set(name, child.version);
      walk(child);
    }
  };
  walk(tree);
  return found;
}

interface LsNode {
  version?: string;
  dependencies?: Record<string, LsNode>;
}
