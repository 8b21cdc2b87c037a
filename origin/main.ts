/**
 * The origin's entry point: `node origin/main.js [--port N] [--host H] [--repository DIR]` in its image,
 * `tandem origin` locally (which first makes the dev key and the built-in models when missing).
 * Configuration comes from the environment (see `config.ts`); it builds nothing and writes nothing.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { toTandemError } from '../protocol/errors.ts';
import { loadOriginConfig } from './config.ts';
import { startOrigin } from './server.ts';

const ROOT = resolve(import.meta.dirname, '..');

/** Where the local stack keeps the built-in repository and the dev key's trusted half. */
export const DEFAULT_PATHS = {
  repository: resolve(ROOT, 'models', 'repository'),
  trustedKeysFile: resolve(ROOT, '.tandem', 'keys', 'trusted-keys.json'),
  rootKeysFile: resolve(ROOT, '.tandem', 'keys', 'root-keys.json'),
};

export async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { port: { type: 'string' }, host: { type: 'string' }, repository: { type: 'string' } },
  });
  const config = loadOriginConfig(process.env, DEFAULT_PATHS, {
    ...(values.port === undefined ? {} : { port: Number(values.port) }),
    ...(values.host === undefined ? {} : { host: values.host }),
    ...(values.repository === undefined ? {} : { repository: resolve(values.repository) }),
  });
  if (config.devTokens) {
    process.stderr.write(
      `tandem origin: using dev tokens (set TANDEM_ORIGIN_TOKEN and TANDEM_ADMIN_TOKEN in production):\n` +
        `  inference: Authorization: Bearer ${config.inferenceToken}\n  admin:     Authorization: Bearer ${config.adminToken}\n`,
    );
  }
  const origin = await startOrigin(config, { handleSignals: true });
  process.stderr.write(`tandem origin listening on ${origin.url}\n`);
}

if (process.argv[1] && resolve(process.argv[1]).replace(/\.[cm]?[jt]s$/, '') === resolve(import.meta.filename).replace(/\.[cm]?[jt]s$/, '')) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    const error = toTandemError(err);
    process.stderr.write(`tandem origin: ${error.code}: ${error.message}\n`);
    process.exit(1);
  });
}
