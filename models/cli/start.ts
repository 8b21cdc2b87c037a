/**
 * `tandem start` (`npm start`): brings up the stack on loopback. Builds the models and the dev key when
 * missing, then runs the origin until Ctrl-C (which drains it). The edge under `wrangler dev` and the demo
 * page join here as they land.
 */
import type { Command } from 'commander';
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { DEFAULT_REPOSITORY } from '../build.ts';
import { buildAndSign } from './build-models.ts';

const ORIGIN_MAIN = resolve(import.meta.dirname, '..', '..', 'origin', 'main.ts');

export function registerStart(program: Command): void {
  program
    .command('start')
    .description('build what is missing and start the stack on 127.0.0.1')
    .option('--repository <dir>', 'model repository', process.env.TANDEM_MODEL_REPOSITORY ?? DEFAULT_REPOSITORY)
    .option('--origin-port <port>', 'origin port', process.env.TANDEM_ORIGIN_PORT ?? '8000')
    .action(async (options: { repository: string; originPort: string }) => {
      const built = await buildAndSign({ repository: options.repository, cache: true });
      process.stdout.write(`\nmodel repository ready at ${options.repository} (${built.length} models)\n`);
      process.stdout.write(`starting the origin on http://127.0.0.1:${options.originPort} (Ctrl-C stops it)\n\n`);
      const origin = spawn(process.execPath, ['--import', 'tsx', ORIGIN_MAIN, '--port', options.originPort, '--repository', options.repository], {
        stdio: 'inherit',
      });
      const forward = (signal: NodeJS.Signals) => origin.kill(signal);
      process.on('SIGINT', forward);
      process.on('SIGTERM', forward);
      const code = await new Promise<number>((done) => origin.once('exit', (exitCode) => done(exitCode ?? 1)));
      process.off('SIGINT', forward);
      process.off('SIGTERM', forward);
      process.exitCode = code;
    });
}
