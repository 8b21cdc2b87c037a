/**
 * What `tandem publish` prints: the verified version, what happened in the origin's repository, and the
 * edge's uploads (listed in full on a dry run, so they can be run by hand).
 */
import { modelRef } from '../protocol/manifest.ts';
import { shown } from '../models/import/import-report.ts';
import type { EdgeTarget, PublishResult } from './publish-version.ts';

/** The summary lines of a publish. */
export function publishReport(result: PublishResult, repository: string, edge: EdgeTarget, cwd = process.cwd()): string[] {
  const { manifest, keyids, artifacts } = result.verified;
  const lines = [`verified ${modelRef(manifest)}: signed by ${keyids.map((k) => k.slice(0, 12)).join(', ')}, ${artifacts.length} variant file(s)`];
  const origin = {
    'in place': `already in the origin's repository ${shown(repository, cwd)}`,
    copied: `copied into the origin's repository ${shown(repository, cwd)}`,
    'identical copy there': `the origin's repository ${shown(repository, cwd)} already holds this exact version`,
    'would copy': `would be copied into the origin's repository ${shown(repository, cwd)} (dry run)`,
  }[result.origin];
  lines.push(`origin: ${origin}`);
  if (!result.edge) {
    lines.push('edge: skipped (--no-edge)');
    return lines;
  }
  const where =
    edge.kind === 'remote'
      ? `R2 bucket ${result.edge.bucket} (--env ${edge.env})`
      : edge.kind === 'local'
        ? `local R2 bucket ${result.edge.bucket} in ${shown(edge.persistTo, cwd)}`
        : '';
  lines.push(`edge: ${result.edge.commands.length} object(s) ${result.edge.uploaded ? 'uploaded to' : 'would go to'} ${where}`);
  if (!result.edge.uploaded) lines.push(...result.edge.commands.map((c) => `  ${c}`));
  return lines;
}
