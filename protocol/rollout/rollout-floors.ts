/**
 * What one verifier has seen of rollout records, and the check that keeps it from going back: per model,
 * the highest record version verified. A store (or a man in the middle) that serves an older record, to
 * bring back a canary that was rolled back, is refused, as trust-state.ts refuses an older timestamp record.
 */
import { TandemError } from '../errors.ts';
import type { RolloutRecord } from './rollout-record.ts';

/** Per model, the highest rollout record version verified. */
export type RolloutFloors = Readonly<Record<string, number>>;

/**
 * Takes a verified record (signature and expiry checked by `verifyRollout`) and returns the next floors;
 * never mutates `floors`.
 * @throws TandemError `rollback_detected` for a record older than one already seen.
 * @example
 * floors = acceptRollout(floors, (await verifyRollout(envelope, keys, Date.now(), 'm')).record);
 */
export function acceptRollout(floors: RolloutFloors, record: RolloutRecord): RolloutFloors {
  const floor = floors[record.model] ?? 0;
  if (record.version < floor) {
    throw new TandemError('rollback_detected', `rollout record ${record.version} of ${record.model} is older than version ${floor}, already seen`);
  }
  return { ...floors, [record.model]: record.version };
}
