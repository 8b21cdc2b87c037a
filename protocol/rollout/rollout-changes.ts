/**
 * The next rollout record after each operator action, as plain functions: set new weights, promote a
 * canary to stable, roll back to the stable version. Each takes the record in force (or none) and
 * returns a valid record one version higher; signing and storing are the caller's.
 */
import { TandemError } from '../errors.ts';
import { canaryVersions, parseRollout, type RollbackThresholds, type RolloutRecord } from './rollout-record.ts';

/** Thresholds of a first record when none are given: rolled back past 5% errors, after 100 runs. */
export const DEFAULT_ROLLBACK: RollbackThresholds = { maxErrorRate: 0.05, minMedianConfidence: 0, minSamples: 100 };

export interface SetRollout {
  model: string;
  weights: Record<string, number>;
  /** Default: the record in force's stable version when it keeps a weight, else the heaviest version (the lowest on a tie). */
  stable?: string | undefined;
  expires: string;
  /** Fields given override those of the record in force (or the defaults). */
  rollback?: Partial<RollbackThresholds> | undefined;
}

/** @throws TandemError `manifest_invalid` when the result is not a valid record (weights, stable). */
export function setRollout(previous: RolloutRecord | undefined, change: SetRollout): RolloutRecord {
  const stable =
    change.stable ??
    (previous && Object.hasOwn(change.weights, previous.stable)
      ? previous.stable
      : Object.entries(change.weights).sort(([va, a], [vb, b]) => b - a || va.localeCompare(vb, 'en', { numeric: true }))[0]?.[0]);
  return parseRollout({
    _type: 'rollout',
    model: change.model,
    version: (previous?.version ?? 0) + 1,
    expires: change.expires,
    stable: stable ?? '',
    weights: change.weights,
    rollback: { ...(previous?.rollback ?? DEFAULT_ROLLBACK), ...definedOnly(change.rollback ?? {}) },
  });
}

/**
 * `version` (default: the one canary) becomes stable with all the traffic.
 * @throws TandemError `bad_request` when there is no record, or no single canary to promote and none named.
 */
export function promoteRollout(previous: RolloutRecord | undefined, expires: string, version?: string): RolloutRecord {
  if (!previous) throw new TandemError('bad_request', 'no rollout record to promote from: tandem rollout set makes the first');
  const canaries = canaryVersions(previous);
  const target = version ?? (canaries.length === 1 ? canaries[0] : undefined);
  if (target === undefined) {
    throw new TandemError(
      'bad_request',
      canaries.length === 0 ? `${previous.model} has no canary to promote` : `name the version to promote: ${canaries.join(', ')}`,
    );
  }
  return { ...previous, version: previous.version + 1, expires, stable: target, weights: { [target]: 100 } };
}

/** All the traffic back to the stable version; the canaries lose their weight. @throws TandemError `bad_request` without a record. */
export function rollbackRollout(previous: RolloutRecord | undefined, expires: string): RolloutRecord {
  if (!previous) throw new TandemError('bad_request', 'no rollout record to roll back');
  return { ...previous, version: previous.version + 1, expires, weights: { [previous.stable]: 100 } };
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
