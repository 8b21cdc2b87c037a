/**
 * `tandem start` (`npm start`): the whole stack on loopback. Builds the models and the dev signing key when
 * missing (signing the manifests), then starts the origin, the edge under `wrangler dev` (its local R2
 * seeded from the repository) and the demo page, prints the URLs, and stops all of it on Ctrl-C.
 */
import type { Command } from 'commander';
import { join } from 'node:path';
import { DEFAULT_REPOSITORY } from '../build.ts';
import { DEFAULT_KEY_DIR, TRUSTED_KEYS_FILE } from '../keys-store.ts';
import { DEV_ADMIN_KEY, DEV_API_KEY } from '../../worker/dev.ts';
import { buildAndSign } from './build-models.ts';
import { startStack } from './stack.ts';

interface StartOptions {
  repository: string;
  originPort: string;
  edgePort: string;
  demoPort: string;
  verbose: boolean;
}

export function registerStart(program: Command): void {
  program
    .command('start')
    .description('build what is missing and start origin, edge and demo page on 127.0.0.1')
    .option('--repository <dir>', 'model repository', process.env.TANDEM_MODEL_REPOSITORY ?? DEFAULT_REPOSITORY)
    .option('--origin-port <port>', 'origin port', process.env.TANDEM_ORIGIN_PORT ?? '8000')
    .option('--edge-port <port>', 'edge port', process.env.TANDEM_EDGE_PORT ?? '8787')
    .option('--demo-port <port>', 'demo page port', process.env.TANDEM_DEMO_PORT ?? '5173')
    .option('--verbose', 'print every request log line of the origin and the edge', false)
    .action(async (options: StartOptions) => {
      const out = (line: string) => void process.stdout.write(`${line}\n`);
      const built = await buildAndSign({ repository: options.repository, cache: true });
      out(`model repository ready at ${options.repository} (${built.length} models)`);
      out('starting the origin, the edge (wrangler dev) and the demo page…');
      const stack = await startStack({
        repository: options.repository,
        trustedKeysFile: join(DEFAULT_KEY_DIR, TRUSTED_KEYS_FILE),
        originPort: port(options.originPort, 'origin'),
        edgePort: port(options.edgePort, 'edge'),
        demoPort: port(options.demoPort, 'demo'),
        onLine: (tier, line) => {
          // Request logs are noise at the console unless asked for; warnings and errors always show.
          if (options.verbose || /error|warn|refused|fatal/i.test(line)) out(`[${tier}] ${line}`);
        },
      });
      out(
        [
          '',
          `  demo page  ${stack.demoUrl}`,
          `  edge       ${stack.edge.url}   (Authorization: Bearer ${DEV_API_KEY}; admin: ${DEV_ADMIN_KEY})`,
          `  origin     ${stack.origin.url}`,
          '',
          `  try: curl -s ${stack.edge.url}/v1/models`,
          '  Ctrl-C stops all of it.',
          '',
        ].join('\n'),
      );
      await new Promise<void>((done) => {
        let stopping = false;
        const shutdown = (why: string) => {
          if (stopping) return;
          stopping = true;
          out(why);
          void stack.stop().then(done);
        };
        // Libraries loaded on the way (miniflare's exit hook, Vite) exit the process on these signals,
        // which would skip the origin's drain and orphan it: this command owns them.
        process.removeAllListeners('SIGINT');
        process.removeAllListeners('SIGTERM');
        process.once('SIGINT', () => shutdown('stopping (the origin drains in-flight requests)…'));
        process.once('SIGTERM', () => shutdown('stopping (the origin drains in-flight requests)…'));
        // Should a tier die on its own, say so and take the rest down rather than limp on.
        stack.origin.child.once('exit', (code, signal) => shutdown(`the origin exited (${code ?? signal}); stopping the rest`));
        stack.edge.process.once('exit', (code, signal) => shutdown(`the edge exited (${code ?? signal}); stopping the rest`));
      });
    });
}

function port(text: string, name: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0 || value > 65535) throw new Error(`--${name}-port: not a port: ${text}`);
  return value;
}
