/**
 * Model version order (manifests require semantic versions), by the `semver` package's rules: "1.10.0"
 * after "1.9.0", a pre-release before its release, and pre-release identifiers compared field by field,
 * numbers as numbers ("1.0.0-rc.2" < "1.0.0-rc.10"). The origin picks its current version with it, the
 * edge its newest stored one and its catalog order, the repository reader its listing order.
 * Only the two functions needed are imported, so the browser bundle stays small.
 */
import compare from 'semver/functions/compare.js';
import valid from 'semver/functions/valid.js';

/**
 * Sorts semantic versions (`[...].sort(compareVersions)`). A string that is not one (a stray folder or
 * object key) sorts before every version, and among its kind as text, rather than throwing.
 * @example
 * ['1.0.0', '1.0.0-rc.10', '1.0.0-rc.2'].sort(compareVersions); // ['1.0.0-rc.2', '1.0.0-rc.10', '1.0.0']
 */
export function compareVersions(a: string, b: string): number {
  const va = valid(a) !== null;
  const vb = valid(b) !== null;
  if (va && vb) return compare(a, b);
  if (va !== vb) return va ? 1 : -1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The newest of `versions`, or undefined when there are none. */
export function newestVersion(versions: readonly string[]): string | undefined {
  return [...versions].sort(compareVersions).at(-1);
}
