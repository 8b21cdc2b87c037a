/**
 * `tandem verify`: checks signed manifests, and the artifacts beside them, against trusted keys.
 * Takes an envelope file, a model version directory, or a whole repository.
 */
import type { Command } from 'commander';
import { readdir, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { toTandemError } from '../../protocol/errors.ts';
import { modelRef } from '../../protocol/manifest.ts';
import { ENVELOPE_FILE } from '../../protocol/repository-layout.ts';
import { DEFAULT_KEY_DIR, TRUSTED_KEYS_FILE, readTrustedKeysFile } from '../keys-store.ts';
import { verifyModelDirectory } from '../../origin/verify-version.ts';

export function register(program: Command): void {
  program
    .command('verify')
    .description('verify signed manifests and their artifacts')
    .argument('<path>', 'a manifest.dsse.json, a model version directory, or a repository')
    .option('--trusted <file>', 'trusted-keys file', join(DEFAULT_KEY_DIR, TRUSTED_KEYS_FILE))
    .option('--no-artifacts', 'check signatures only')
    .action(async (path: string, options: { trusted: string; artifacts: boolean }) => {
      const trusted = await readTrustedKeysFile(options.trusted);
      const dirs = await findVersionDirectories(path);
      if (dirs.length === 0) throw new Error(`no ${ENVELOPE_FILE} under ${path}`);
      let failures = 0;
      for (const dir of dirs) {
        try {
          const model = await verifyModelDirectory(dir, trusted, { artifacts: options.artifacts });
          const variants = model.artifacts.map((a) => `${a.variant.name} ${a.variant.artifact.bytes} B`).join(', ');
          const signers = model.keyids.map((k) => k.slice(0, 12)).join(', ');
          process.stdout.write(`ok    ${modelRef(model.manifest)}  signed by ${signers}${variants ? `  [${variants}]` : ''}\n`);
        } catch (err) {
          failures++;
          const error = toTandemError(err);
          process.stdout.write(`FAIL  ${dir}  ${error.code}: ${error.message}\n`);
        }
      }
      if (failures > 0) process.exitCode = 1;
    });
}

async function findVersionDirectories(path: string): Promise<string[]> {
  const info = await stat(path);
  if (info.isFile()) return basename(path) === ENVELOPE_FILE ? [dirname(path)] : [];
  const entries = await readdir(path, { withFileTypes: true });
  if (entries.some((e) => e.isFile() && e.name === ENVELOPE_FILE)) return [path];
  const nested = await Promise.all(entries.filter((e) => e.isDirectory()).map((e) => findVersionDirectories(join(path, e.name))));
  return nested.flat().sort();
}
