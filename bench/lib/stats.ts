/**
 * Small pure statistics for the benchmark figures: percentiles of recorded latencies (nearest rank on the
 * sorted samples, exact rather than from a bucketed histogram: a cell holds at most a few hundred thousand
 * samples) and rounding for printing and for the results file.
 */

/**
 * The `p`-th percentile (0..100) of `samples` by nearest rank, or NaN when there are none.
 * @example
 * percentile(Float64Array.of(5, 1, 3), 50); // 3
 */
export function percentile(samples: ArrayLike<number>, p: number): number {
  return percentiles(samples, [p])[0]!;
}

/** The median by nearest rank (the 50th percentile), or NaN when there are no samples. */
export function median(samples: ArrayLike<number>): number {
  return percentile(samples, 50);
}

/** Several percentiles from one sort. */
export function percentiles(samples: ArrayLike<number>, ps: readonly number[]): number[] {
  if (samples.length === 0) return ps.map(() => Number.NaN);
  const sorted = Float64Array.from(samples).sort();
  return ps.map((p) => {
    const rank = Math.ceil((Math.min(Math.max(p, 0), 100) / 100) * sorted.length);
    return sorted[Math.max(rank - 1, 0)]!;
  });
}

/** Rounds to `digits` decimals, keeping null for missing figures (NaN, Infinity) so JSON stays valid. */
export function round(value: number, digits = 2): number | null {
  if (!Number.isFinite(value)) return null;
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

/** `a / b`, or null when either is missing or `b` is zero. */
export function ratio(a: number | null | undefined, b: number | null | undefined): number | null {
  if (a === null || a === undefined || b === null || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b === 0) return null;
  return round(a / b, 3);
}
