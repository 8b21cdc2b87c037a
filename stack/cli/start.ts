/**
 * `tandem start` (`npm start`): the whole stack on loopback. Builds the models and the dev signing key when
 * missing (signing the manifests) and the dev root of trust with a timestamp record fresh for a day
 * (stack/dev-trust.ts), then starts the origin, the edge under `wrangler dev` (its local R2 seeded from
 * the repository, `_trust/` included) and the demo page, all pinning the dev root keys, prints the URLs,
 * and stops all of it on Ctrl-C.
 */
import type { Command } from 'commander';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { DEFAULT_REPOSITORY } from '../../models/build.ts';
import { DEV_ADMIN_KEY, DEV_API_KEY, DEV_TRUSTED_KEYS_FILE, ensureDevRepository } from '../dev-credentials.ts';
import { parsePort } from './options.ts';
import { describeTrustedKeys } from './trusted-keys.ts';

interface StartOptions {
  repository: string;
  originPort: number;
  edgePort: number;
  demoPort: number;
  verbose: boolean;
}

export function register(program: Command): void {
  program
    .command('start')
    .description('build what is missing and start origin, edge and demo page on 127.0.0.1')
    .option('--repository <dir>', 'model repository', process.env.TANDEM_MODEL_REPOSITORY ?? DEFAULT_REPOSITORY)
    .option('--origin-port <port>', 'origin port (TANDEM_ORIGIN_PORT)', parsePort, parsePort(process.env.TANDEM_ORIGIN_PORT ?? '8000'))
    .option('--edge-port <port>', 'edge port (TANDEM_EDGE_PORT)', parsePort, parsePort(process.env.TANDEM_EDGE_PORT ?? '8787'))
    .option('--demo-port <port>', 'demo page port (TANDEM_DEMO_PORT)', parsePort, parsePort(process.env.TANDEM_DEMO_PORT ?? '5173'))
    .option('--verbose', 'print every request log line of the origin and the edge', false)
    .action(async (options: StartOptions) => {
      const out = (line: string) => void process.stdout.write(`${line}\n`);
      const repository = resolve(options.repository);
      const devTrust = await ensureDevRepository(repository, out);
      out(`model repository ready at ${repository}`);
      if (devTrust) {
        out(
          `dev root of trust: root version ${devTrust.rootVersion}, timestamp record ${devTrust.record.version} (expires ${devTrust.record.expires}; restart to refresh), pinned keys in ${devTrust.rootKeysFile}`,
        );
      }
      // What the origin and the edge are given to trust (the demo page pins the same set).
      out(await describeTrustedKeys(await readFile(DEV_TRUSTED_KEYS_FILE, 'utf8'), DEV_TRUSTED_KEYS_FILE));
      out('starting the origin, the edge (wrangler dev) and the demo page…');
      // Loaded here, not at the top: vite and wrangler take seconds to load, and `--help` needs neither.
      const { startStack } = await import('../stack.ts');
      const stack = await startStack({
        repository,
        trustedKeysFile: DEV_TRUSTED_KEYS_FILE,
        ...(devTrust ? { rootKeysFile: devTrust.rootKeysFile } : {}),
        originPort: options.originPort,
        edgePort: options.edgePort,
        demoPort: options.demoPort,
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
        stack.edge.child.once('exit', (code, signal) => shutdown(`the edge exited (${code ?? signal}); stopping the rest`));
      });
    });
}
