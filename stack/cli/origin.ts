/**
 * `tandem origin [--port N] [--host H] [--repository DIR]`: the origin alone, in this process. On the
 * built-in repository it first makes the dev key and builds the models when missing.
 */
import type { Command } from 'commander';
import { resolve } from 'node:path';
import { ensureDevRepository } from '../dev-credentials.ts';
import { parsePort } from './options.ts';

export function register(program: Command): void {
  program
    .command('origin')
    .description('start the origin alone (Open Inference Protocol on /v2); config from TANDEM_* variables, see origin/config.ts')
    .option('--port <port>', 'port (TANDEM_ORIGIN_PORT)', parsePort)
    .option('--host <host>', 'address to listen on (TANDEM_ORIGIN_HOST)')
    .option('--repository <dir>', 'model repository (TANDEM_MODEL_REPOSITORY)')
    .action(async (options: { port?: number; host?: string; repository?: string }) => {
      const { DEFAULT_PATHS, main } = await import('../../origin/main.ts');
      const repository = resolve(options.repository ?? process.env.TANDEM_MODEL_REPOSITORY ?? DEFAULT_PATHS.repository);
      const devTrust = await ensureDevRepository(repository, (line) => void process.stderr.write(`${line}\n`));
      // The built-in repository's dev root of trust is pinned unless root keys are given.
      if (devTrust && process.env.TANDEM_ROOT_KEYS === undefined) process.env.TANDEM_ROOT_KEYS_FILE ??= devTrust.rootKeysFile;
      const argv = ['--repository', repository];
      if (options.port !== undefined) argv.push('--port', String(options.port));
      if (options.host !== undefined) argv.push('--host', options.host);
      await main(argv);
      // The server keeps the process alive; it exits on SIGTERM/SIGINT after draining.
      await new Promise(() => {});
    });
}
