/** Options every timestamp-record command takes. */
import { Option, type Command } from 'commander';
import { DEFAULT_REPOSITORY } from '../build.ts';

export function timestampOptions(command: Command): Command {
  return command
    .addOption(
      new Option('--key <file>', 'private key file of the timestamp role (repeatable)')
        .argParser((v: string, p: string[] = []) => [...p, v])
        .makeOptionMandatory(),
    )
    .option('--expires <when>', 'expiry of the new record: hours to days (12h, 2d) or an ISO date', '1d')
    .option('--repository <dir>', 'model repository (TANDEM_MODEL_REPOSITORY)', process.env.TANDEM_MODEL_REPOSITORY ?? DEFAULT_REPOSITORY);
}
