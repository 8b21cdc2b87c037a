/**
 * The origin the edge benchmarks put their Workers in front of: the built-in repository (built and signed
 * if needed) served with the dev credentials, as `npm start` serves it.
 */
import { readFile } from 'node:fs/promises';
import { DEFAULT_REPOSITORY } from '../../models/build.ts';
import { DEV_ORIGIN_TOKEN, DEV_TRUSTED_KEYS_FILE, ensureDevRepository } from '../../stack/dev-credentials.ts';
import { spawnOrigin } from '../../stack/origin-process.ts';

/** Starts it; resolves with the origin and the trusted keys (JSON) the edges are given too. */
export async function startDevOrigin(): Promise<{ origin: Awaited<ReturnType<typeof spawnOrigin>>; trustedKeys: string }> {
  await ensureDevRepository(DEFAULT_REPOSITORY, (line) => void process.stderr.write(`${line}\n`));
  const trustedKeys = await readFile(DEV_TRUSTED_KEYS_FILE, 'utf8');
  const origin = await spawnOrigin({
    repository: DEFAULT_REPOSITORY,
    env: { TANDEM_TRUSTED_KEYS: trustedKeys, TANDEM_ORIGIN_TOKEN: DEV_ORIGIN_TOKEN },
    scrubTandemEnv: true,
  });
  return { origin, trustedKeys };
}
