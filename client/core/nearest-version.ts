/**
 * Which version of a model stands in for one the origins no longer hold (a device run of a cached or
 * rolled-back version that falls back to the origin), and whether its signature lets it: plain functions,
 * the one place the rule is written (docs/rollout.md, "A version the origins lack").
 *
 * The order, nearest first: versions of the requested one's major version before the others; within each
 * group, the versions below the requested one, highest first, then those above it, lowest first. So 1.1.0
 * falls back to 1.0.0 before 1.2.0, and to 1.2.0 before 2.0.0 or 0.9.0. A version is only a stand-in when
 * the inputs the caller validated against the requested version fit it and it answers the same outputs.
 */
import type { ManifestVariant, TensorSpec } from '../../protocol/manifest.ts';
import { compareVersions } from '../../protocol/versions.ts';

/** The major version of a semantic version, or undefined for anything else. */
const majorOf = (version: string): string | undefined => /^v?(0|[1-9]\d*)\./.exec(version.trim())?.[1];

/**
 * The versions of `available` other than `requested`, nearest first (see the header). Strings that are
 * not semantic versions are left out.
 * @example
 * nearestVersions('1.1.0', ['0.9.0', '1.0.0', '1.2.0', '2.0.0']); // ['1.0.0', '1.2.0', '0.9.0', '2.0.0']
 */
export function nearestVersions(requested: string, available: readonly string[]): string[] {
  const major = majorOf(requested);
  const others = [...new Set(available)].filter((v) => v !== requested && majorOf(v) !== undefined);
  const ordered = (versions: string[]) => [
    ...versions.filter((v) => compareVersions(v, requested) < 0).sort((a, b) => compareVersions(b, a)),
    ...versions.filter((v) => compareVersions(v, requested) > 0).sort(compareVersions),
  ];
  return [...ordered(others.filter((v) => majorOf(v) === major)), ...ordered(others.filter((v) => majorOf(v) !== major))];
}

const formatShape = (spec: TensorSpec) => `[${spec.shape.join(', ')}]`;

/** A fixed dimension must match exactly; a symbolic one matches any symbolic one (exporters name them freely). */
const sameShape = (a: TensorSpec, b: TensorSpec) =>
  a.shape.length === b.shape.length && a.shape.every((d, i) => (typeof d === 'string' ? typeof b.shape[i] === 'string' : d === b.shape[i]));

/**
 * Why `candidate` cannot answer for `wanted`, or undefined when it can: the same input names with the
 * same dtypes and shapes (symbolic dimensions aside), and the same output names.
 * @example
 * signatureMismatch(v1.inputs/outputs, v2.inputs/outputs); // 'input x is float32 [batch, 128], not float32 [batch, 256]'
 */
export function signatureMismatch(
  wanted: Pick<ManifestVariant, 'inputs' | 'outputs'>,
  candidate: Pick<ManifestVariant, 'inputs' | 'outputs'>,
): string | undefined {
  const names = (specs: readonly TensorSpec[]) =>
    specs
      .map((s) => s.name)
      .sort()
      .join(', ');
  if (names(wanted.inputs) !== names(candidate.inputs)) return `inputs ${names(candidate.inputs)}, not ${names(wanted.inputs)}`;
  for (const want of wanted.inputs) {
    const have = candidate.inputs.find((s) => s.name === want.name)!;
    if (have.dtype !== want.dtype || !sameShape(want, have))
      return `input ${want.name} is ${have.dtype} ${formatShape(have)}, not ${want.dtype} ${formatShape(want)}`;
  }
  if (names(wanted.outputs) !== names(candidate.outputs)) return `outputs ${names(candidate.outputs)}, not ${names(wanted.outputs)}`;
  return undefined;
}
