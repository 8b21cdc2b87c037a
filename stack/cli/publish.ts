/** `tandem publish`: a verified model version into the origin's repository and the edge's R2 (stack/publish-version.ts). */
import type { Command } from 'commander';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { DEFAULT_REPOSITORY } from '../../models/build.ts';
import { DEFAULT_KEY_DIR, TRUSTED_KEYS_FILE } from '../../models/keys-store.ts';
import { publishReport } from '../publish-report.ts';
import { DEFAULT_PERSIST_TO, environmentTrustedKeys, publishVersion, type EdgeTarget } from '../publish-version.ts';

interface PublishOptions {
  from?: string;
  repository: string;
  trusted?: string;
  env?: string;
  local?: boolean;
  persistTo?: string;
  edge: boolean;
  dryRun?: boolean;
  force?: boolean;
}

export function register(program: Command): void {
  program
    .command('publish')
    .description("put a verified model version where every tier reads it: the origin's repository and the edge's R2")
    .argument('<id>', 'model id')
    .argument('<version>', 'model version')
    .option('--from <dir>', 'repository holding the version (default: --repository)')
    .option('--repository <dir>', "the origin's model repository", process.env.TANDEM_MODEL_REPOSITORY ?? DEFAULT_REPOSITORY)
    .option(
      '--trusted <file>',
      `trusted keys to verify against (default: ${join('.tandem', 'keys', TRUSTED_KEYS_FILE)}; with --env, the environment's TRUSTED_KEYS)`,
    )
    .option('--env <name>', 'a wrangler environment (staging, production): its R2 bucket, the real one unless --local')
    .option('--local', 'write the R2 objects into a local wrangler dev state folder (the default without --env)')
    .option('--persist-to <dir>', 'the local state folder, as given to wrangler dev --persist-to', DEFAULT_PERSIST_TO)
    .option('--no-edge', "only copy into the origin's repository")
    .option('--dry-run', 'verify and print the uploads; copy and upload nothing')
    .option('--force', "replace a different copy of the version in the origin's repository")
    .action(async (id: string, version: string, options: PublishOptions) => {
      const edge: EdgeTarget = !options.edge
        ? { kind: 'none' }
        : options.env && !options.local
          ? { kind: 'remote', env: options.env }
          : { kind: 'local', persistTo: resolve(options.persistTo ?? DEFAULT_PERSIST_TO), ...(options.env ? { env: options.env } : {}) };
      // A real edge trusts its environment's TRUSTED_KEYS: verify against those unless told otherwise.
      const trustedKeys = options.trusted
        ? await readFile(options.trusted, 'utf8')
        : edge.kind === 'remote'
          ? environmentTrustedKeys(edge.env)
          : await readFile(join(DEFAULT_KEY_DIR, TRUSTED_KEYS_FILE), 'utf8');
      const result = await publishVersion(
        {
          id,
          version,
          repository: options.repository,
          trustedKeys,
          edge,
          ...(options.from ? { from: options.from } : {}),
          ...(edge.kind === 'remote' && options.trusted ? { edgeTrustedKeys: trustedKeys } : {}),
          ...(options.dryRun ? { dryRun: true } : {}),
          ...(options.force ? { force: true } : {}),
        },
        { progress: (line) => void process.stderr.write(`tandem publish: ${line}\n`) },
      );
      process.stdout.write(`${publishReport(result, options.repository, edge).join('\n')}\n`);
    });
}
