/**
 * What `tandem import` prints once a version is written: where it went, each variant with its tier, size
 * and requirements, who signed it, and the next commands to try it. Plain lines, so the CLI stays a thin
 * wrapper and tests read the same text a user sees.
 */
import { isAbsolute, relative } from 'node:path';
import { modelRef } from '../../protocol/manifest.ts';
import type { ImportResult } from './import-model.ts';

/** A path relative to `cwd` when it lies under it, else as given. */
export function shown(path: string, cwd: string): string {
  const rel = relative(cwd, path);
  return rel === '' ? '.' : rel.startsWith('..') || isAbsolute(rel) ? path : rel;
}

/** The summary lines of an import. */
export function importReport(result: ImportResult, cwd = process.cwd()): string[] {
  const { manifest, activations } = result;
  const where = shown(result.dir, cwd);
  const lines = [`imported ${modelRef(manifest)} into ${where}`];
  const originBytes = manifest.variants.find((v) => v.tier === 'origin')?.artifact.bytes;
  for (const v of manifest.variants) {
    const r = v.requirements;
    const ratio = originBytes && v.tier === 'device' ? ` (${(v.artifact.bytes / originBytes).toFixed(3)}×)` : '';
    lines.push(
      `  ${v.name.padEnd(12)} ${v.tier.padEnd(6)} ${v.artifact.path.padEnd(12)} ${formatBytes(v.artifact.bytes).padStart(9)}${ratio}  ` +
        `${v.quantization.method}  memory ≥ ${r.minMemoryMiB} MiB, storage ≥ ${r.minStorageMiB} MiB, ${r.backends.join('/')}${r.features ? ` +${r.features.join(',')}` : ''}`,
    );
  }
  const io = (list: (typeof manifest.variants)[number]['inputs']) => list.map((t) => `${t.name} ${t.dtype}[${t.shape.join(', ')}]`).join('; ');
  const first = manifest.variants[0]!;
  lines.push(`  inputs:  ${io(first.inputs)}`, `  outputs: ${io(first.outputs)}`);
  lines.push(
    `  peak activations ${formatBytes(activations.peakBytes)} (${activations.intermediates ? 'intermediates measured' : `inputs and outputs only: ${activations.fallbackReason ?? ''}`}) on ${manifest.labels?.['requirements.measuredOn'] ?? '?'}`,
  );
  for (const [key, value] of Object.entries(manifest.evaluation ?? {})) lines.push(`  ${key} = ${value}`);
  lines.push(`  batching: ${result.rowBatching.reason}`);
  lines.push(`  signed by ${result.keyid.slice(0, 12)}${result.devKey ? ' (the dev key: sign releases with --key)' : ''}`);
  const repository = shown(result.repository, cwd);
  lines.push(`next: npx tandem verify ${where}`, `      npx tandem publish ${manifest.id} ${manifest.version} --repository ${repository}`);
  return lines;
}

/** "80 B", "811.8 kB", "100.31 MB" (decimal units, as file sizes are usually shown). */
export function formatBytes(bytes: number): string {
  if (bytes < 1000) return `${bytes} B`;
  if (bytes < 1e6) return `${(bytes / 1e3).toFixed(1)} kB`;
  return `${(bytes / 1e6).toFixed(2)} MB`;
}
