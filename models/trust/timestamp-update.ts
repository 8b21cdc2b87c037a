/**
 * The next timestamp record, from the one in force: each change (a release, a revocation, a refresh)
 * bumps the version and sets a new expiry, and refuses what would break the chain or the record's rules.
 */
import { TandemError } from '../../protocol/errors.ts';
import type { TimestampRecord } from '../../protocol/trust/timestamp.ts';

export interface Next {
  expires: string;
  rootVersion: number;
}

function bumped(previous: TimestampRecord | undefined, next: Next, models: TimestampRecord['models']): TimestampRecord {
  return { _type: 'timestamp', version: (previous?.version ?? 0) + 1, expires: next.expires, rootVersion: next.rootVersion, models };
}

export function refreshed(previous: TimestampRecord, next: Next): TimestampRecord {
  return bumped(previous, next, previous.models);
}

/** Adds `version` of `id` (its signed manifest's digest) as live; `current` makes it what clients get by default. */
export function withRelease(
  previous: TimestampRecord | undefined,
  next: Next,
  id: string,
  version: string,
  digest: { sha256: string; bytes: number },
  current: boolean,
): TimestampRecord {
  const entry = previous?.models[id];
  if (entry?.revoked.includes(version)) throw new TandemError('version_revoked', `${id}@${version} is revoked; release a new version instead`);
  const versions = { ...entry?.versions, [version]: digest };
  const model = { current: current || !entry ? version : entry.current, versions, revoked: entry?.revoked ?? [] };
  return bumped(previous, next, { ...previous?.models, [id]: model });
}

/** Withdraws `version` of `id`; withdrawing the current version needs another live `current`. */
export function withRevocation(previous: TimestampRecord | undefined, next: Next, id: string, version: string, current?: string): TimestampRecord {
  const entry = previous?.models[id];
  if (!entry) throw new TandemError('model_not_found', `the timestamp record has no model ${id}`);
  if (entry.revoked.includes(version)) throw new TandemError('bad_request', `${id}@${version} is already revoked`);
  const { [version]: _dropped, ...versions } = entry.versions;
  const nextCurrent = current ?? (entry.current === version ? undefined : entry.current);
  if (nextCurrent === undefined) throw new TandemError('bad_request', `${id}@${version} is current: name the version clients move to with --current`);
  if (nextCurrent === version || !Object.hasOwn(versions, nextCurrent))
    throw new TandemError('bad_request', `--current ${nextCurrent} is not a live version of ${id}`);
  return bumped(previous, next, { ...previous!.models, [id]: { current: nextCurrent, versions, revoked: [...entry.revoked, version] } });
}
