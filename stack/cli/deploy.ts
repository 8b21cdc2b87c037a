/** `tandem deploy`: deploy/deploy-edge.ts, which parses its own flags (`tandem deploy --help`). */
import type { Command } from 'commander';

export function register(program: Command): void {
  program
    .command('deploy')
    .description('check, bundle and deploy the edge to a wrangler environment (--help for flags)')
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .argument('[args...]')
    .action(async (args: string[]) => {
      const { main } = await import('../../deploy/deploy-edge.ts');
      process.exitCode = await main(args);
    });
}
