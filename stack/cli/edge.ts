/**
 * `tandem edge [--port N] [--origin URL ...] [--no-inspector]`: the edge alone under `wrangler dev` on
 * 127.0.0.1, its local R2 seeded from a model repository (the built-in one, built with the dev key when
 * missing), pointed at the given origins, with the dev API keys.
 */
import type { Command } from 'commander';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { DEFAULT_REPOSITORY } from '../../models/build.ts';
import { DEV_ADMIN_KEY, DEV_API_KEY, DEV_API_KEYS, DEV_ORIGIN_TOKEN, DEV_TRUSTED_KEYS_FILE, ensureDevRepository } from '../dev-credentials.ts';
import { collectList, parsePort } from './options.ts';
import { describeTrustedKeys } from './trusted-keys.ts';

interface EdgeOptions {
  port: number;
  origin?: string[];
  repository: string;
  logLevel: string;
  inspector: boolean;
}

const LOG_LEVELS = ['debug', 'info', 'log', 'warn', 'error', 'none'] as const;

export function register(program: Command): void {
  program
    .command('edge')
    .description('start the edge alone under wrangler dev, in front of given origins')
    .option('--port <port>', 'port (TANDEM_EDGE_PORT)', parsePort, parsePort(process.env.TANDEM_EDGE_PORT ?? '8787'))
    .option('--origin <url...>', 'origin URLs, comma-separated or repeated (default http://127.0.0.1:8000)', collectList)
    .option('--repository <dir>', 'model repository to seed R2 from (TANDEM_MODEL_REPOSITORY)', process.env.TANDEM_MODEL_REPOSITORY ?? DEFAULT_REPOSITORY)
    .option('--log-level <level>', `wrangler's log level: ${LOG_LEVELS.join(', ')}`, 'log')
    .option('--no-inspector', "wrangler dev's engine without its DevTools inspector (closer to production's costs)")
    .action(async (options: EdgeOptions) => {
      if (!(LOG_LEVELS as readonly string[]).includes(options.logLevel)) throw new Error(`--log-level: one of ${LOG_LEVELS.join(', ')}`);
      const origins = options.origin ?? ['http://127.0.0.1:8000'];
      for (const origin of origins) new URL(origin); // Throws on a malformed URL before anything starts.
      const repository = resolve(options.repository);
      const devTrust = await ensureDevRepository(repository, (line) => void process.stderr.write(`${line}\n`));
      // The pinned root keys: TANDEM_ROOT_KEYS(_FILE), else the dev root's for the built-in repository.
      const rootKeysFile = process.env.TANDEM_ROOT_KEYS_FILE ?? devTrust?.rootKeysFile;
      const rootKeys = process.env.TANDEM_ROOT_KEYS ?? (rootKeysFile === undefined ? undefined : await readFile(rootKeysFile, 'utf8'));
      const keysFile = process.env.TANDEM_TRUSTED_KEYS_FILE ?? DEV_TRUSTED_KEYS_FILE;
      const trustedKeys = process.env.TANDEM_TRUSTED_KEYS ?? (await readFile(keysFile, 'utf8'));
      const trustedLine = await describeTrustedKeys(trustedKeys, process.env.TANDEM_TRUSTED_KEYS ? 'TANDEM_TRUSTED_KEYS' : keysFile);
      const { startEdge } = await import('../edge-process.ts');
      const edge = await startEdge({
        origins,
        repository,
        trustedKeys,
        ...(rootKeys === undefined ? {} : { rootKeys }),
        port: options.port,
        originToken: process.env.TANDEM_ORIGIN_TOKEN ?? DEV_ORIGIN_TOKEN,
        apiKeys: [...DEV_API_KEYS],
        ...(process.env.TANDEM_EDGE_CANARY ? { canary: JSON.parse(process.env.TANDEM_EDGE_CANARY) as Record<string, Record<string, number>> } : {}),
        logLevel: options.logLevel as (typeof LOG_LEVELS)[number],
        inspector: options.inspector,
        onLine: (line) => void process.stdout.write(`${line}\n`),
      });
      process.stderr.write(
        `tandem edge listening on ${edge.url}, in front of ${origins.join(', ')}\n` +
          `  dev API key:   Authorization: Bearer ${DEV_API_KEY}   (admin: ${DEV_ADMIN_KEY})\n` +
          `  ${trustedLine}\n` +
          (rootKeys === undefined ? '' : `  root of trust: ROOT_KEYS pinned from ${process.env.TANDEM_ROOT_KEYS ? 'TANDEM_ROOT_KEYS' : rootKeysFile}\n`) +
          `  try: curl -s ${edge.url}/v1/models\n`,
      );
      await new Promise<void>((done) => {
        const shutdown = () => void edge.stop().then(done);
        process.removeAllListeners('SIGINT');
        process.removeAllListeners('SIGTERM');
        process.once('SIGINT', shutdown);
        process.once('SIGTERM', shutdown);
      });
    });
}
