/**
 * Model version order (manifests require semantic versions), by SemVer 2.0.0's precedence rules (§11):
 * "1.10.0" after "1.9.0", a pre-release before its release, and pre-release identifiers compared field by
 * field, numbers as numbers ("1.0.0-rc.2" < "1.0.0-rc.10") and before text. The origin picks its current
 * version with it, the edge its newest stored one and its catalog order, the repository reader its listing
 * order, every verifier its rollback floors (trust/trust-state.ts).
 *
 * Written out rather than imported from the `semver` package: the browser SDK checks floors on the main
 * thread, and semver's regex tables cost more than this whole file. Same verdicts as semver's strict
 * `valid` and `compare` (its tests are ported in versions.test.ts): surrounding whitespace and a leading
 * "v" allowed, no leading zeros, build metadata ignored.
 */

/** SemVer 2.0.0's own grammar, with semver's optional "v". */
const SEMVER =
  /^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)(?:\.(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*))*))?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$/;
const NUMERIC = /^\d+$/;

type Parsed = [major: string, minor: string, patch: string, pre: string[]];

function parse(version: string): Parsed | undefined {
  if (version.length > 256) return undefined;
  const m = SEMVER.exec(version.trim());
  if (!m || [m[1]!, m[2]!, m[3]!].some((n) => Number(n) > Number.MAX_SAFE_INTEGER)) return undefined;
  return [m[1]!, m[2]!, m[3]!, m[4] === undefined ? [] : m[4].split('.')];
}

/** Numbers without leading zeros, of any length: the longer is larger, else the text decides. */
const compareNumbers = (a: string, b: string): number => a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);

function compareIdentifiers(a: string, b: string): number {
  const an = NUMERIC.test(a);
  const bn = NUMERIC.test(b);
  if (an && bn) return compareNumbers(a, b);
  if (an !== bn) return an ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

function compareParsed(a: Parsed, b: Parsed): number {
  for (let i = 0; i < 3; i++) {
    const c = compareNumbers(a[i] as string, b[i] as string);
    if (c !== 0) return c;
  }
  const [pa, pb] = [a[3], b[3]];
  // A release is above its pre-releases.
  if (pa.length === 0 || pb.length === 0) return pb.length - pa.length;
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    const c = compareIdentifiers(pa[i]!, pb[i]!);
    if (c !== 0) return c;
  }
  return pa.length - pb.length;
}

/**
 * Sorts semantic versions (`[...].sort(compareVersions)`). A string that is not one (a stray folder or
 * object key) sorts before every version, and among its kind as text, rather than throwing.
 * @example
 * ['1.0.0', '1.0.0-rc.10', '1.0.0-rc.2'].sort(compareVersions); // ['1.0.0-rc.2', '1.0.0-rc.10', '1.0.0']
 */
export function compareVersions(a: string, b: string): number {
  const pa = parse(a);
  const pb = parse(b);
  if (pa && pb) return Math.sign(compareParsed(pa, pb));
  if (!pa !== !pb) return pa ? 1 : -1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The newest of `versions`, or undefined when there are none. */
export function newestVersion(versions: readonly string[]): string | undefined {
  return [...versions].sort(compareVersions).at(-1);
}
