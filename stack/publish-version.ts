/**
 * `tandem publish`: puts one verified model version where every tier reads it, in one command:
 *
 *   1. verifies it where it is (`--from`, default the repository): signature, every variant's and every
 *      example's size and SHA-256;
 *   2. the origin: copies it into the origin's model repository (`--repository`) when it lives elsewhere,
 *      atomically (`write-version.ts`), leaving an identical copy alone and refusing a different one
 *      (`version_exists`, unless `--force`);
 *   3. the edge: uploads it to R2 with deploy/publish-model.ts's plan, each object a `wrangler r2 object
 *      put`: into a local `wrangler dev` state folder (default, `.wrangler/state`, the top-level config's
 *      bucket or an environment's), or to an environment's real bucket (`--env` without `--local`).
 *
 * Artifacts go up before the envelope, so the edge never lists a version whose bytes are missing.
 * Examples stay with the origin's copy: the edge's storage layout has no place for them yet.
 */
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { TandemError } from '../protocol/errors.ts';
import { loadTrustedKeys, type TrustedKeySet } from '../protocol/keys.ts';
import { modelRef } from '../protocol/manifest.ts';
import { ENVELOPE_FILE } from '../protocol/repository-layout.ts';
import { sha256Hex } from '../protocol/sha256.ts';
import { readEnvironment, ROOT, runWrangler as wrangler } from '../deploy/deploy-edge.ts';
import { planPublish, shellLine, type PublishPlan } from '../deploy/publish-model.ts';
import { versionDir } from '../origin/repository.ts';
import { verifyModelDirectory, type VerifiedModel } from '../origin/verify-version.ts';
import { checkModelRef } from '../models/import/import-options.ts';
import { refuseExisting, versionExists, writeVersion } from '../models/import/write-version.ts';

/** Where `wrangler dev` keeps local state unless told otherwise. */
export const DEFAULT_PERSIST_TO = join(ROOT, '.wrangler', 'state');

/** The trusted key set an environment's edge verifies manifests with (`TRUSTED_KEYS` in wrangler.toml). */
export function environmentTrustedKeys(env: string): string {
  return readEnvironment(env).vars.TRUSTED_KEYS ?? '[]';
}

/** The edge's copy: none, a local `wrangler dev` state folder, or an environment's R2 bucket. */
export type EdgeTarget = { kind: 'none' } | { kind: 'local'; persistTo: string; env?: string } | { kind: 'remote'; env: string };

export interface PublishRequest {
  id: string;
  version: string;
  /** The repository holding the version now; default `repository`. */
  from?: string;
  /** The origin's model repository. */
  repository: string;
  /** JSON text of the trusted key set the version is verified against. */
  trustedKeys: string;
  edge: EdgeTarget;
  /**
   * For a remote edge: verify against this set instead of the environment's `TRUSTED_KEYS` (what its edge
   * will check; the default, so a version the edge would refuse is never uploaded).
   */
  edgeTrustedKeys?: string;
  /** List what would be done; copy and upload nothing. */
  dryRun?: boolean;
  /** Replace a different copy of the version in the origin's repository. */
  force?: boolean;
}

export interface PublishDependencies {
  progress?: (line: string) => void;
  /** Runs wrangler (tests may count calls); default deploy/deploy-edge.ts's. */
  runWrangler?: (args: readonly string[]) => Promise<{ code: number; output: string }>;
}

export interface PublishResult {
  verified: VerifiedModel;
  /** What happened in the origin's repository. */
  origin: 'in place' | 'copied' | 'identical copy there' | 'would copy';
  /** The upload plan, as shell lines, and whether it ran. */
  edge: { bucket: string; commands: string[]; uploaded: boolean } | undefined;
}

/**
 * @throws TandemError `bad_request`, `model_not_found`, `manifest_signature_invalid`, `manifest_invalid`,
 * `artifact_missing`, `artifact_hash_mismatch`, `version_exists`, or `internal` when an upload fails
 * (naming the object; nothing after it was uploaded).
 * @example
 * await publishVersion({ id: 'resnet', version: '1.0.0', repository: 'models/repository', trustedKeys, edge: { kind: 'local', persistTo: '.wrangler/state' } });
 */
export async function publishVersion(request: PublishRequest, deps: PublishDependencies = {}): Promise<PublishResult> {
  const progress = deps.progress ?? (() => {});
  checkModelRef(request.id, request.version);
  const trusted = await loadTrustedKeys(request.trustedKeys);
  const from = resolve(request.from ?? request.repository);
  const repository = resolve(request.repository);

  const source = versionDir(from, request.id, request.version);
  progress(`verifying ${request.id}@${request.version} in ${from}`);
  const verified = await verifyVersion(source, request.id, request.version, trusted);

  let origin: PublishResult['origin'] = 'in place';
  if (from !== repository) origin = await copyToOrigin(request, verified, repository, trusted, progress);

  if (request.edge.kind === 'none') return { verified, origin, edge: undefined };
  // A dry run with a copy still to make plans against the source: the plan's paths are the only difference.
  const planned = origin === 'would copy' ? from : repository;
  const edge = request.edge;
  const plan: PublishPlan = await planPublish({
    env: edge.env,
    model: request.id,
    version: request.version,
    repository: planned,
    trustedKeys: edge.kind === 'remote' ? request.edgeTrustedKeys : request.trustedKeys,
    target: edge.kind === 'remote' ? { kind: 'remote' } : { kind: 'local', persistTo: edge.persistTo },
  });
  const commands = plan.commands.map(shellLine);
  if (request.dryRun) return { verified, origin, edge: { bucket: plan.bucket, commands, uploaded: false } };
  const run = deps.runWrangler ?? ((args: readonly string[]) => wrangler(args));
  const where = edge.kind === 'remote' ? `R2 bucket ${plan.bucket} (${edge.env})` : `local R2 ${plan.bucket} in ${edge.persistTo}`;
  for (const [i, command] of plan.commands.entries()) {
    progress(`uploading ${command.key} to ${where} (${i + 1}/${plan.commands.length})`);
    const { code, output } = await run(command.args);
    if (code !== 0) {
      throw new TandemError(
        'internal',
        `upload of ${command.key} failed (wrangler exit ${code}); nothing after it was uploaded, so the edge does not list the version yet: ${output.trim().slice(-2000)}`,
      );
    }
  }
  return { verified, origin, edge: { bucket: plan.bucket, commands, uploaded: true } };
}

/** Verifies a version directory, examples included. */
async function verifyVersion(dir: string, id: string, version: string, trusted: TrustedKeySet): Promise<VerifiedModel> {
  let verified: VerifiedModel;
  try {
    verified = await verifyModelDirectory(dir, trusted);
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') throw new TandemError('model_not_found', `no ${id}@${version} at ${dir}`, { cause });
    throw cause;
  }
  if (verified.manifest.id !== id || verified.manifest.version !== version) {
    throw new TandemError('manifest_invalid', `${dir} holds ${modelRef(verified.manifest)}, not ${id}@${version}`);
  }
  for (const example of verified.manifest.examples ?? []) {
    const path = join(dir, example.path);
    const bytes = await readFile(path).catch((cause: NodeJS.ErrnoException) => {
      if (cause.code === 'ENOENT') throw new TandemError('artifact_missing', `${path}: no such file`, { cause });
      throw cause;
    });
    const sha256 = await sha256Hex(bytes);
    if (bytes.length !== example.bytes || sha256 !== example.sha256) {
      throw new TandemError(
        'artifact_hash_mismatch',
        `${path}: ${bytes.length} bytes with sha256 ${sha256}, manifest says ${example.bytes} bytes with ${example.sha256}`,
      );
    }
  }
  return verified;
}

async function copyToOrigin(
  request: PublishRequest,
  verified: VerifiedModel,
  repository: string,
  trusted: TrustedKeySet,
  progress: (line: string) => void,
): Promise<PublishResult['origin']> {
  const source = verified.dir;
  const target = versionDir(repository, request.id, request.version);
  const envelope = await readFile(join(source, ENVELOPE_FILE), 'utf8');
  if (await versionExists(repository, request.id, request.version)) {
    const theirs = await readFile(join(target, ENVELOPE_FILE), 'utf8').catch(() => undefined);
    if (theirs === envelope) {
      await verifyVersion(target, request.id, request.version, trusted);
      progress(`the origin's repository already holds this exact version (${target})`);
      return 'identical copy there';
    }
    if (!request.force) throw refuseExisting(repository, request.id, request.version);
  }
  if (request.dryRun) return 'would copy';
  const files = new Map<string, Uint8Array>();
  for (const { variant, bytes } of verified.artifacts) files.set(variant.artifact.path, bytes);
  for (const example of verified.manifest.examples ?? []) files.set(example.path, await readFile(join(source, example.path)));
  progress(`copying to the origin's repository ${repository}`);
  await writeVersion({ repository, id: request.id, version: request.version, files, envelope, ...(request.force ? { force: true } : {}) });
  await verifyVersion(target, request.id, request.version, trusted);
  return 'copied';
}
