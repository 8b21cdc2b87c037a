/**
 * `tandem revoke --model ID --version V [--current W]`: withdraws a version in the timestamp record;
 * verifiers evict it from their caches at their next contact and never run it again.
 */
import type { Command } from 'commander';
import { describeRecord, updateTimestamp, type TimestampCommandOptions } from '../trust/timestamp-command.ts';
import { withRevocation } from '../trust/timestamp-update.ts';
import { timestampOptions } from './timestamp-options.ts';

export function register(program: Command): void {
  timestampOptions(
    program
      .command('revoke')
      .description('withdraw a model version: devices evict it at their next contact and never run it again')
      .requiredOption('--model <id>', 'model id')
      .requiredOption('--version <v>', 'the version to withdraw')
      .option('--current <v>', 'the live version clients move to (needed when revoking the current one)'),
  ).action(async (options: TimestampCommandOptions & { model: string; version: string; current?: string }) => {
    const record = await updateTimestamp(options, (previous, next) => withRevocation(previous, next, options.model, options.version, options.current));
    process.stdout.write(describeRecord(record));
  });
}
