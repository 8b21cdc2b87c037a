/**
 * The hook automatic rollback calls: take a version's share away now, with a reason, without waiting for
 * an operator to sign a new rollout record. The version's share goes to the stable version
 * (effective-weights.ts), the change is logged (`rollout_weight_zeroed`) and shown on
 * `GET /v1/edge/rollout`, and clients move on their next manifest or inference request.
 *
 * An override holds for the record version it was made against: a newer record (the operator's
 * `tandem rollout rollback`, or a new canary) replaces it. It is kept per isolate, in memory: whoever
 * judges the thresholds (telemetry, later) calls it in every isolate that sees the numbers, or keeps
 * the verdict in shared storage and calls it from there.
 */

export interface WeightOverride {
  model: string;
  version: string;
  reason: string;
  /** The rollout record version it applies to; 0: the `CANARY` fallback. */
  recordVersion: number;
  /** When it was made (ms since the epoch). */
  at: number;
}

const overrides = new Map<string, WeightOverride>();

/**
 * Sets `model@version`'s effective weight to 0 while record `recordVersion` is in force, and logs why.
 * @example
 * zeroVersionWeight('mlp-classifier', '1.1.0', 'error rate 0.12 > maxErrorRate 0.05 over 340 runs', record.version);
 */
export function zeroVersionWeight(model: string, version: string, reason: string, recordVersion: number, now: number = Date.now()): WeightOverride {
  const override = { model, version, reason, recordVersion, at: now };
  if (overrides.size >= 1024 && !overrides.has(`${model}@${version}`)) overrides.delete(overrides.keys().next().value!);
  overrides.set(`${model}@${version}`, override);
  console.log(JSON.stringify({ event: 'rollout_weight_zeroed', model, version, reason, record_version: recordVersion }));
  return override;
}

/** Gives `model@version` its record's share back. */
export function clearVersionWeight(model: string, version: string): boolean {
  return overrides.delete(`${model}@${version}`);
}

/** The overrides of `model` that hold for record `recordVersion` (older ones are dropped). */
export function overridesFor(model: string, recordVersion: number): WeightOverride[] {
  const out: WeightOverride[] = [];
  for (const [key, override] of overrides) {
    if (override.model !== model) continue;
    if (override.recordVersion === recordVersion) out.push(override);
    else if (override.recordVersion < recordVersion) overrides.delete(key);
  }
  return out;
}

/** Forgets every override (tests). */
export function resetWeightOverrides(): void {
  overrides.clear();
}
