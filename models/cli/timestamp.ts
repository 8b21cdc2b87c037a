/**
 * `tandem timestamp`: refreshes the timestamp record (a new version and expiry, same content), what the
 * edge's deployment runs on a schedule shorter than the expiry; `--show` prints the record in force.
 */
import { Option, type Command } from 'commander';
import { resolve } from 'node:path';
import { TandemError } from '../../protocol/errors.ts';
import { verifyTimestamp } from '../../protocol/trust/timestamp.ts';
import { DEFAULT_REPOSITORY } from '../build.ts';
import { readTimestampEnvelope, readTrustedRoot } from '../trust/metadata-store.ts';
import { describeRecord, updateTimestamp, type TimestampCommandOptions } from '../trust/timestamp-command.ts';
import { refreshed } from '../trust/timestamp-update.ts';

export function register(program: Command): void {
  program
    .command('timestamp')
    .description('refresh the timestamp record (new version and expiry), or --show the one in force')
    .addOption(new Option('--key <file>', 'private key file of the timestamp role (repeatable)').argParser((v: string, p: string[] = []) => [...p, v]))
    .option('--expires <when>', 'expiry of the new record: hours to days (12h, 2d) or an ISO date', '1d')
    .option('--repository <dir>', 'model repository (TANDEM_MODEL_REPOSITORY)', process.env.TANDEM_MODEL_REPOSITORY ?? DEFAULT_REPOSITORY)
    .option('--show', 'print the record in force and exit')
    .action(async (options: TimestampCommandOptions & { show?: boolean }) => {
      if (options.show) {
        const repository = resolve(options.repository);
        const envelope = await readTimestampEnvelope(repository);
        if (envelope === undefined) throw new TandemError('not_found', `${repository} has no timestamp record yet (tandem release)`);
        process.stdout.write(describeRecord((await verifyTimestamp(envelope, await readTrustedRoot(repository), 0)).record));
        return;
      }
      if (!options.key?.length) throw new TandemError('bad_request', "--key (the timestamp role's private key) is required to refresh");
      const record = await updateTimestamp(options, (previous, next) => {
        if (!previous) throw new TandemError('not_found', 'no timestamp record to refresh yet: tandem release makes the first');
        return refreshed(previous, next);
      });
      process.stdout.write(describeRecord(record));
    });
}
