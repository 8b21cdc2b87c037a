/** `tandem validate-k8s`: deploy/k8s-validate.ts, which parses its own flags (`tandem validate-k8s --help`). */
import type { Command } from 'commander';

export function register(program: Command): void {
  program
    .command('validate-k8s')
    .description('validate the Kubernetes manifests against their schemas, offline (--help for flags)')
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .argument('[args...]')
    .action(async (args: string[]) => {
      const { main } = await import('../../deploy/k8s-validate.ts');
      process.exitCode = await main(args);
    });
}
