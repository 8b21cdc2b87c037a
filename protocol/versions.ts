/**
 * Model version order (manifests require semantic versions): "1.10.0" after "1.9.0", and a pre-release
 * before its release ("1.0.0-rc.1" < "1.0.0"; pre-release tags compare as text). The origin picks its
 * current version with it, the edge its newest stored one, the repository reader its listing order.
 */

export function compareVersions(a: string, b: string): number {
  const [na, sa = ''] = splitVersion(a);
  const [nb, sb = ''] = splitVersion(b);
  for (let i = 0; i < Math.max(na.length, nb.length); i++) {
    const d = (na[i] ?? 0) - (nb[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  if (sa === sb) return 0;
  if (sa === '') return 1;
  if (sb === '') return -1;
  return sa < sb ? -1 : 1;
}

/** The newest of `versions`, or undefined when there are none. */
export function newestVersion(versions: readonly string[]): string | undefined {
  return [...versions].sort(compareVersions).at(-1);
}

function splitVersion(v: string): [number[], string?] {
  const dash = v.indexOf('-');
  const core = dash < 0 ? v : v.slice(0, dash);
  const numbers = core.split('.').map((n) => (/^\d+$/.test(n) ? Number(n) : 0));
  return dash < 0 ? [numbers] : [numbers, v.slice(dash + 1)];
}
