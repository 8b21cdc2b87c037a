/**
 * What `tandem rollout` reads and writes: the model's rollout record in a model repository
 * (`_rollout/<model>.dsse.json`, protocol/repository-layout.ts), verified with the release keys (the
 * root's release role when the repository has a root, else the trusted-keys file), and the origins' word
 * on whether they hold a version (protocol/rollout/version-readiness.ts).
 */
import { join } from 'node:path';
import { TandemError } from '../../protocol/errors.ts';
import type { TrustedKeySet } from '../../protocol/keys.ts';
import { rolloutKey } from '../../protocol/repository-layout.ts';
import { verifyRollout, type RolloutRecord } from '../../protocol/rollout/rollout-record.ts';
import { probeVersionOnOrigins, type VersionReadiness } from '../../protocol/rollout/version-readiness.ts';
import { verifyManifest } from '../../protocol/signed-manifest.ts';
import { readTrustedKeysFile } from '../../models/keys-store.ts';
import { readRootEnvelope, readTrustedRoot } from '../../models/trust/metadata-store.ts';
import { readEnvelope } from '../../origin/repository.ts';
import { readTextIfPresent } from '../../origin/read-if-present.ts';

/** The keys rollout records are signed with: the root's release role, or `trustedFile` without a root. */
export async function releaseKeys(repository: string, trustedFile: string): Promise<{ keys: TrustedKeySet; from: string }> {
  if ((await readRootEnvelope(repository, 1)) !== undefined) {
    const root = await readTrustedRoot(repository);
    return { keys: root.keysFor('release'), from: `root version ${root.document.version}'s release role` };
  }
  return { keys: await readTrustedKeysFile(trustedFile), from: trustedFile };
}

export function rolloutPath(repository: string, model: string): string {
  return join(repository, ...rolloutKey(model).split('/'));
}

/**
 * The model's record in the repository, verified (an expired one still counts: replacing it is what a
 * command does), or undefined when there is none.
 */
export async function readRollout(repository: string, model: string, keys: TrustedKeySet): Promise<RolloutRecord | undefined> {
  const text = await readTextIfPresent(rolloutPath(repository, model));
  if (text === undefined) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new TandemError('manifest_invalid', `${rolloutPath(repository, model)} is not JSON`, { cause });
  }
  return (await verifyRollout(json, keys, 0, model)).record;
}

/**
 * Every version given must be a signed version in the repository.
 * @throws TandemError `model_not_found`, or the manifest's verification error.
 */
export async function assertReleased(repository: string, model: string, versions: readonly string[], keys: TrustedKeySet): Promise<void> {
  for (const version of versions) await verifyManifest(await readEnvelope(repository, model, version), keys, 0);
}

/**
 * Every origin must be ready for every version given.
 * @throws TandemError `model_not_ready` naming each origin and version that is not, with the reason.
 */
export async function assertOriginsHold(
  origins: readonly string[],
  model: string,
  versions: readonly string[],
  probe: { token?: string | undefined; timeoutMs: number },
): Promise<VersionReadiness[]> {
  if (origins.length === 0) throw new TandemError('bad_request', 'no origins to check: give --origins or TANDEM_ORIGINS');
  const answers = (await Promise.all(versions.map((v) => probeVersionOnOrigins(origins, model, v, { ...probe, fetch })))).flat();
  const missing = answers.map((a, i) => ({ ...a, version: versions[Math.floor(i / origins.length)] })).filter((a) => !a.ready);
  if (missing.length > 0) {
    throw new TandemError(
      'model_not_ready',
      `not every origin holds the version: ${missing.map((m) => `${model}@${m.version} on ${m.origin} (${m.reason})`).join('; ')}; publish it to every origin first`,
    );
  }
  return answers;
}

/** `--origins` as given: a JSON array or a comma list of base URLs. */
export function parseOrigins(text: string | undefined): string[] {
  if (text === undefined || text.trim() === '') return [];
  const list: unknown = text.trim().startsWith('[') ? JSON.parse(text) : text.split(',');
  if (!Array.isArray(list)) throw new TandemError('bad_request', '--origins: a JSON array or a comma list of URLs');
  return list.map((u) => {
    const url = String(u).trim();
    if (!/^https?:\/\/[^\s/]+/.test(url)) throw new TandemError('bad_request', `--origins: ${JSON.stringify(url)} is not an http(s) URL`);
    return url.replace(/\/+$/, '');
  });
}
