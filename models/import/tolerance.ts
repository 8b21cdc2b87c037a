/**
 * Whether a measured device variant is close enough to the original to ship. A variant the user asked for
 * by name that misses the tolerance refuses the import (`variant_out_of_tolerance`), unless they said to
 * keep it anyway; one the import chose by default is dropped with a warning instead.
 *
 * The error is the largest absolute difference of any float output, as a fraction of that output's
 * largest reference magnitude (`normalizedMaxError`), in whichever runtime is worse; classifiers must also
 * keep their top-1 answer on at least `minTop1` of the rows.
 */
import { TandemError } from '../../protocol/errors.ts';

export interface Tolerance {
  /** Largest error as a fraction of each output's scale. */
  maxNormalizedError: number;
  /** For classifiers: the least share of rows whose argmax must agree. */
  minTop1: number;
}

/** Defaults per variant: int8 trades precision for a quarter of the size; fp16 should be nearly exact. */
export const DEFAULT_TOLERANCE: Record<string, Tolerance> = {
  int8: { maxNormalizedError: 0.1, minTop1: 0.95 },
  fp16: { maxNormalizedError: 0.01, minTop1: 0.99 },
  fp32: { maxNormalizedError: 0, minTop1: 1 },
};

/** The reason a variant misses its tolerance, or undefined when it is within it. */
export function toleranceMiss(name: string, figures: Record<string, number>, tolerance: Tolerance, classifier: boolean): string | undefined {
  const error = Math.max(figures[`${name}.normalizedMaxError`] ?? 0, figures[`${name}.wasm.normalizedMaxError`] ?? 0);
  if (error > tolerance.maxNormalizedError) {
    return `its largest error is ${(error * 100).toFixed(2)} % of an output's range, over the tolerance of ${(tolerance.maxNormalizedError * 100).toFixed(2)} %`;
  }
  if (classifier) {
    const top1 = Math.min(figures[`${name}.top1Agreement`] ?? 1, figures[`${name}.wasm.top1Agreement`] ?? 1);
    if (top1 < tolerance.minTop1)
      return `its top-1 agrees on ${(top1 * 100).toFixed(1)} % of rows, under the tolerance of ${(tolerance.minTop1 * 100).toFixed(1)} %`;
  }
  return undefined;
}

export function outOfTolerance(name: string, why: string): TandemError {
  return new TandemError(
    'variant_out_of_tolerance',
    `the ${name} variant is not close enough to the original: ${why}; pass --tolerance to accept more, --keep-out-of-tolerance to keep it anyway, or leave it out of --device`,
  );
}
