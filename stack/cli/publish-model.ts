/** `tandem publish-model`: deploy/publish-model.ts, which parses its own flags (`tandem publish-model --help`). */
import type { Command } from 'commander';

export function register(program: Command): void {
  program
    .command('publish-model')
    .description("verify a signed model version and upload it to an environment's R2 bucket (--help for flags)")
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .argument('[args...]')
    .action(async (args: string[]) => {
      const { main } = await import('../../deploy/publish-model.ts');
      process.exitCode = await main(args);
    });
}
