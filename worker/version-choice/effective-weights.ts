/**
 * The shares the edge actually uses, from the shares a rollout record states: a version that may not
 * have its share now (an origin of the pool is not ready for it, or it was rolled back automatically)
 * gets 0, and its share goes to the stable version. Pure: the reasons come in as data.
 *
 * The stable version comes first in the result, the rest in the record's order: the canary's buckets
 * then sit at the top of the range (canary.ts), so growing its share keeps every install already on it.
 */

/** Why a version's share was taken away. */
export interface ZeroedWeight {
  version: string;
  /** The share (percent) it would have had. */
  configured: number;
  /** `not_ready`: an origin of the pool is not ready for it; `rolled_back`: taken away by `zeroVersionWeight`. */
  cause: 'not_ready' | 'rolled_back';
  reason: string;
}

export interface EffectiveWeights {
  /** Version -> percent, summing to 100, stable first. */
  weights: Record<string, number>;
  zeroed: ZeroedWeight[];
}

/**
 * @param shares version -> percent (protocol/rollout/rollout-record.ts `percentShares`).
 * @param withheld versions that may not have their share now, and why; the stable version is never withheld
 * (there is nowhere else for its share to go).
 * @example
 * effectiveWeights('1.0.0', { '1.0.0': 90, '1.1.0': 10 }, new Map([['1.1.0', { cause: 'not_ready', reason: '...' }]]));
 * // { weights: { '1.0.0': 100, '1.1.0': 0 }, zeroed: [{ version: '1.1.0', configured: 10, ... }] }
 */
export function effectiveWeights(
  stable: string,
  shares: Readonly<Record<string, number>>,
  withheld: ReadonlyMap<string, { cause: ZeroedWeight['cause']; reason: string }>,
): EffectiveWeights {
  const weights: Record<string, number> = { [stable]: shares[stable] ?? 0 };
  const zeroed: ZeroedWeight[] = [];
  for (const [version, share] of Object.entries(shares)) {
    if (version === stable) continue;
    const why = withheld.get(version);
    if (why && share > 0) {
      weights[version] = 0;
      weights[stable]! += share;
      zeroed.push({ version, configured: share, ...why });
    } else {
      weights[version] = share;
    }
  }
  return { weights, zeroed };
}
