/** `tandem build-models`: builds the built-in models into a repository and signs their manifests. */
import type { Command } from 'commander';
import { signManifest } from '../../protocol/signed-manifest.ts';
import { buildModels, DEFAULT_REPOSITORY } from '../build.ts';
import { ensureDevKey, readSigningKey } from '../keys-store.ts';
import { parseExpiry } from '../trust/expiry.ts';

interface BuildOptions {
  repository: string;
  key?: string;
  only?: string;
  cache: boolean;
  /** ISO expiry written into every manifest before signing; none by default (the dev build is reproducible). */
  expires?: string;
}

export function register(program: Command): void {
  program
    .command('build-models')
    .description('build the built-in ONNX models (fp32 + int8) and sign their manifests')
    .option('--repository <dir>', 'model repository to write', process.env.TANDEM_MODEL_REPOSITORY ?? DEFAULT_REPOSITORY)
    .option('--key <file>', 'signing key (default: the dev key, made on first use)')
    .option('--only <ids>', 'comma-separated model ids')
    .option('--no-cache', 'rebuild even when the build cache has the models')
    .option('--expires <when>', "manifests' expiry (365d, an ISO date); default none, so the dev build stays byte-identical", (text: string) =>
      parseExpiry(text),
    )
    .action(async (options: BuildOptions) => {
      await buildAndSign(options);
    });
}

export async function buildAndSign(options: BuildOptions): Promise<Awaited<ReturnType<typeof buildModels>>> {
  const log = (line: string): void => void process.stdout.write(`${line}\n`);
  let key;
  if (options.key) {
    key = await readSigningKey(options.key);
  } else {
    const dev = await ensureDevKey();
    if (dev.created) log(`created dev signing key ${dev.key.keyid.slice(0, 12)} at ${dev.keyPath}`);
    key = dev.key;
  }
  const signingKey = key;
  return buildModels({
    repository: options.repository,
    sign: (manifest) => signManifest(options.expires === undefined ? manifest : { ...manifest, expires: options.expires }, [signingKey]),
    ...(options.only ? { only: options.only.split(',').map((s) => s.trim()) } : {}),
    ...(options.cache ? {} : { cacheDir: null }),
    log,
  });
}
