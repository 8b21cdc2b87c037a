/**
 * The edge half of `tandem publish` (stack/publish-version.ts): the plan that puts one signed model version
 * from a model repository into the R2 bucket of a wrangler environment, where the edge reads it
 * (worker/storage/layout.ts):
 *
 *   artifacts/<sha256>                     each variant's bytes, once per content hash
 *   <id>/<version>/manifest.dsse.json      the signed envelope, byte for byte, uploaded last
 *
 * First the version is verified here as the edge and the origin will verify it: the envelope against the
 * environment's TRUSTED_KEYS (wrangler.toml, or the given keys), every artifact's size and SHA-256
 * against the manifest. Artifacts come before the envelope in the plan, so the edge never lists a version
 * whose bytes are missing. Each upload is a `wrangler r2 object put ... --remote` (or `--local
 * --persist-to`, a `wrangler dev` state folder).
 */
import { isAbsolute, join, relative } from 'node:path';
import { verifyModelDirectory, type VerifiedModel } from '../origin/verify-version.ts';
import { loadTrustedKeys } from '../protocol/keys.ts';
import { envelopeKey, ENVELOPE_FILE } from '../protocol/repository-layout.ts';
import { artifactObjectKey } from '../worker/storage/layout.ts';
import { modelsBucket, readEnvironment, ROOT, WRANGLER_CONFIG } from './deploy-edge.ts';

export interface PublishOptions {
  /** A wrangler environment; undefined for the top level of wrangler.toml (what `wrangler dev` binds). */
  env: string | undefined;
  model: string;
  version: string;
  repository: string;
  /** JSON text of the trusted key set; default the environment's TRUSTED_KEYS var. */
  trustedKeys?: string;
  /** Where the objects go: Cloudflare's R2 (default), or a local `wrangler dev --persist-to` folder. */
  target?: { kind: 'remote' } | { kind: 'local'; persistTo: string };
  configPath?: string;
}

export interface PutCommand {
  /** The object key in the bucket. */
  key: string;
  file: string;
  contentType: string;
  /** wrangler's arguments. */
  args: string[];
}

export interface PublishPlan {
  bucket: string;
  verified: VerifiedModel;
  /** Artifacts first, the envelope last. */
  commands: PutCommand[];
}

/**
 * Verifies the model version and lists the uploads.
 * @throws TandemError `manifest_signature_invalid`, `manifest_invalid`, `artifact_missing` or
 * `artifact_hash_mismatch` when the version must not be published; Error when nothing is trusted.
 */
export async function planPublish(options: PublishOptions): Promise<PublishPlan> {
  const configPath = options.configPath ?? WRANGLER_CONFIG;
  const bucket = modelsBucket(options.env, configPath);
  const trusted = await loadTrustedKeys(options.trustedKeys ?? readEnvironment(options.env, configPath).vars.TRUSTED_KEYS ?? '[]');
  if (trusted.keys.size === 0) {
    throw new Error(
      `environment "${options.env ?? '(top level)'}" trusts no key (TRUSTED_KEYS in wrangler.toml): its edge would refuse every manifest; pass --trusted-keys FILE to verify against another set`,
    );
  }
  const dir = join(options.repository, options.model, options.version);
  const verified = await verifyModelDirectory(dir, trusted);
  if (verified.manifest.id !== options.model || verified.manifest.version !== options.version) {
    throw new Error(`${dir} holds ${verified.manifest.id}@${verified.manifest.version}, not ${options.model}@${options.version}`);
  }
  const target = options.target ?? { kind: 'remote' };
  const where = target.kind === 'remote' ? ['--remote'] : ['--local', '--persist-to', target.persistTo];
  const put = (key: string, file: string, contentType: string): PutCommand => ({
    key,
    file,
    contentType,
    args: [
      'r2',
      'object',
      'put',
      `${bucket}/${key}`,
      '--file',
      file,
      '--content-type',
      contentType,
      ...(options.env === undefined ? [] : ['--env', options.env]),
      '--config',
      configPath,
      ...where,
    ],
  });
  const commands: PutCommand[] = [];
  const seen = new Set<string>();
  for (const { variant, path } of verified.artifacts) {
    if (seen.has(variant.artifact.sha256)) continue;
    seen.add(variant.artifact.sha256);
    commands.push(put(artifactObjectKey(variant.artifact.sha256), path, 'application/octet-stream'));
  }
  commands.push(put(envelopeKey(options.model, options.version), join(dir, ENVELOPE_FILE), 'application/json'));
  return { bucket, verified, commands };
}

/** A command as one would type it in the repository root. */
export function shellLine(command: PutCommand): string {
  const shown = command.args.map((arg) => (isAbsolute(arg) && !relative(ROOT, arg).startsWith('..') ? relative(ROOT, arg) : arg));
  return ['npx', 'wrangler', ...shown].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", "'\\''")}'`)).join(' ');
}
