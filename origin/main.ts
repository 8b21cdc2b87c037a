/**
 * `npm run origin -- --port N`: starts the origin alone on the built-in model repository, building the
 * models and the dev signing key first when they are missing. Configuration: see `config.ts`.
 */
import { parseArgs } from 'node:util';
import { DEFAULT_REPOSITORY } from '../models/build.ts';
import { buildAndSign } from '../models/cli/build-models.ts';
import { DEFAULT_KEY_DIR, TRUSTED_KEYS_FILE, ensureDevKey } from '../models/keys-store.ts';
import { toTandemError } from '../protocol/errors.ts';
import { loadOriginConfig } from './config.ts';
import { startOrigin } from './server.ts';
import { listModelVersions } from '../models/repository.ts';
import { join } from 'node:path';

export async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { port: { type: 'string' }, host: { type: 'string' }, repository: { type: 'string' } },
  });
  const config = loadOriginConfig(
    process.env,
    { repository: DEFAULT_REPOSITORY, trustedKeysFile: join(DEFAULT_KEY_DIR, TRUSTED_KEYS_FILE) },
    {
      ...(values.port === undefined ? {} : { port: Number(values.port) }),
      ...(values.host === undefined ? {} : { host: values.host }),
      ...(values.repository === undefined ? {} : { repository: values.repository }),
    },
  );
  if (config.trustedKeys === undefined && config.repository === DEFAULT_REPOSITORY) {
    await ensureDevKey();
    if ((await listModelVersions(config.repository)).length === 0) {
      await buildAndSign({ repository: config.repository, cache: true });
    }
  }
  if (config.devTokens) {
    process.stderr.write(
      `tandem origin: using dev tokens (set TANDEM_ORIGIN_TOKEN and TANDEM_ADMIN_TOKEN in production):\n` +
        `  inference: Authorization: Bearer ${config.inferenceToken}\n  admin:     Authorization: Bearer ${config.adminToken}\n`,
    );
  }
  const origin = await startOrigin(config, { handleSignals: true });
  process.stderr.write(`tandem origin listening on ${origin.url}\n`);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  const error = toTandemError(err);
  process.stderr.write(`tandem origin: ${error.code}: ${error.message}\n`);
  process.exit(1);
});
